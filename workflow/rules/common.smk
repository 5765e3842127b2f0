"""Paths of one run and the config turned into command-line options; no data processing happens here."""

import glob
import os
import shlex

import numpy as np

DATA = Path(config["data_dir"])
if not DATA.is_absolute():
    DATA = (REPO / DATA).resolve()

# every output of the run lives below OUT
OUT = f"{config['results_dir']}/{config['run']}"
LOGS = f"{OUT}/logs"
BENCH = f"{OUT}/benchmarks"

SHARDS = [f"{i:03d}" for i in range(config["impute"]["shards"])]
# the cells each imputation works on: the input parts for the evaluation, all contacts for the product
IMPUTE_FROM = {"input": f"{OUT}/eval/input.scool", "cells": f"{OUT}/cells.scool"}
# the cells the split reads: the loaded cells, or the same inputs loaded at the held-out unit (fine-scale split)
SPLIT_FROM = (f"{OUT}/cells-{config['split']['heldout_unit']}bp.scool" if config["split"]["heldout_unit"]
              else f"{OUT}/cells.scool")
# a pretrained model imputed zero-shot and fine-tuned beside the model trained from scratch
PRETRAINED = config["pretrained"]["model"]
PRETRAINED_METHODS = (["hicdiff-general"] + (["hicdiff-finetuned"] if config["pretrained"]["finetune_minutes"] else [])
                      if PRETRAINED else [])

# guidance by neighbours, each reference fold imputed alone (rules/neighbours.smk)
NEIGHBOUR_METHODS = ["hicdiff-neighbours"] if config["neighbours"]["enabled"] else []
if NEIGHBOUR_METHODS and not config["evaluate"]["reference_cells"]:
    raise WorkflowError("neighbours.enabled needs evaluate.reference_cells: true (the folds are the reference cells')")


wildcard_constraints:
    part="|".join(IMPUTE_FROM),
    shard=r"\d+",
    method="|".join(m.replace("-", r"\-") for m in config["baselines"]) or "(?!)",


def data_path(rel):
    """A file of the dataset, relative to data_dir."""
    return str(DATA / rel)


def dataset_inputs():
    """The contact files (or per-cell folders) to load: the configured globs, sorted, thinned to max_cells."""
    ds = config["dataset"]
    found = []
    for pattern in ds["inputs"]:
        hits = sorted(glob.glob(data_path(pattern)))
        if not hits:
            raise WorkflowError(f"dataset input {pattern!r} matches nothing under {DATA} (see data/README.md)")
        found.extend(h for h in hits if h not in found)
    if ds["only"]:
        with open(REPO / ds["only"]) as fh:
            keep = {line.strip() for line in fh if line.strip() and not line.startswith("#")}
        found = [h for h in found if os.path.basename(h) in keep]
        if not found:
            raise WorkflowError(f"none of the dataset's inputs is named in {ds['only']}")
    n = ds["max_cells"]
    if n and n < len(found):
        found = [found[int(k)] for k in np.linspace(0, len(found), n, endpoint=False)]
    return found


def baseline_max_distance():
    """--max-distance of the baselines: what hicdiff impute writes by default (docs/whole_chromosomes.md), so
    that compartments of baselines and hicdiff come from the same pixels: whole chromosomes (the longest
    chromosome's length) where every chromosome has at most 512 bins, else the 10 Mb band the report scores."""
    ds = config["dataset"]
    value = config["baselines_max_distance"]
    if value != "auto":
        return int(value)
    sizes = [int(line.split()[1]) for line in open(data_path(ds["chromsizes"])) if line.strip()]
    kept = [s for s in sizes if s >= 10 * int(ds["resolution"])] or sizes   # unplaced contigs never decide
    if max(-(-s // int(ds["resolution"])) for s in kept) <= 512:
        return max(sizes)
    return 10_000_000


def optional(flag, value):
    """``flag value`` (shell-quoted) when the config sets a value, else nothing."""
    return "" if value is None else f"{flag} {shlex.quote(str(value))}"


def final_outputs():
    """The report, the imputed cells and the shards behind them: a deleted shard is re-made and merged again."""
    parts = ["input", "cells"] if config["impute"]["all_contacts"] else ["input"]
    targets = [f"{OUT}/report/report.md"]
    if config["impute"]["all_contacts"]:
        targets.append(f"{OUT}/imputed.scool")
    targets += expand(f"{OUT}/shards/{{part}}/imputed-{{shard}}.scool", part=parts, shard=SHARDS)
    if config["embed"]["enabled"]:
        targets.append(f"{OUT}/pooled/clusters")
    return targets
