"""Compartments (E1) of Nagano 2017 mouse ES cells at 1 Mb, whole chromosomes, against bulk cortical neurons.

The E1 comparison of docs/whole_chromosomes.md (lee2019) on another organism and cell type: pooled cells' E1
and single cells' E1 against a reference E1, for raw input, hicdiff's general model zero-shot and fine-tuned
a few minutes on the input part, and RWR. Every step is the CLI a user runs.

    python bench/nagano_e1.py --minutes 5 --threads 2

Cells: the 37 diploid ES cells of ``nagano2017_mesc_contacts`` (mm9, chr1-19, X), binned at 1 Mb, split
80/20 by contacts. References (two ``hicdiff evaluate`` runs over the same imputed files):
- ``bulk``: the bulk cortical-neuron map (Bonev 2017, mm9, 1 Mb; ``--reference``): another cell type, so
  only the compartments ES cells and neurons share can agree;
- ``es``: the ES cells' own raw contacts (``--reference-cells``: each cell against the other 36 pooled,
  pooled cells across two folds): the same cell type, but only 37 shallow cells deep.
``neighbours``: the general model fine-tuned as many minutes with a neighbour prior channel (``--prior-by
neighbours``), each cell guided by its 15 nearest ES cells, weight 10 beyond 10 Mb, the observed contacts
added (the default workflow's ``hicdiff-neighbours``, docs/whole_chromosomes.md); scored against the bulk only, since against the ES cells'
own pool its neighbours would be part of its reference.
The row ``raw, all contacts`` (every contact of each cell, the held-out part included) is how far the ES
cells' own map agrees with each reference: a ceiling for the rows above it (its held-out score is not one:
it contains the held-out contacts).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from _cli import hicdiff

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
BULK = DATA / "bulk_cortical_neurons_mm9" / "CN.mm9.1000kb.cool"
#: Baselines write every pixel up to this distance: beyond mm9's longest chromosome (chr1, 197 Mb).
WHOLE_BP = 250_000_000
COLUMNS = ["heldout_bits", "compartment_corr", "compartment_corr_pooled"]


def run(args, log) -> float:
    t = time.perf_counter()
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    with open(log, "a") as fh:
        fh.write("$ " + " ".join(map(str, args)) + "\n")
        fh.flush()
        r = subprocess.run(hicdiff(*args), stdout=fh, stderr=subprocess.STDOUT, env=env)
    if r.returncode:
        sys.exit(f"failed ({r.returncode}): hicdiff {' '.join(map(str, args))}; see {log}")
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0, help="fine-tuning minutes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "results" / "nagano_e1"))
    a = ap.parse_args()
    d = Path(a.out)
    d.mkdir(parents=True, exist_ok=True)
    log = d / "log.txt"
    cells, inp, held = d / "cells.scool", d / "input.scool", d / "heldout.scool"
    seconds = {}

    def step(name, dest, *args):
        if not Path(dest).exists():
            seconds[name] = run(args, log)

    step("load", cells, "load", DATA / "nagano2017_mesc_contacts" / "cells", "--resolution", 1_000_000,
         "--chromsizes", DATA / "chromsizes" / "mm9.chrom.sizes", "-o", cells)
    step("split", inp, "split", cells, "--seed", 0, "-o", inp, held)
    files = {name: d / f"{name}.scool" for name in ("general", "finetuned", "neighbours", "raw", "rwr", "raw-all")}
    step("impute general", files["general"], "impute", inp, "--model", "general", "-o", files["general"],
         "--threads", a.threads)
    ckpt = d / "finetuned.ckpt"
    step("train finetuned", ckpt, "train", inp, "--init", "general", "--max-time", a.minutes, "-o", ckpt,
         "--threads", a.threads, "--seed", 0)
    step("impute finetuned", files["finetuned"], "impute", inp, "--model", ckpt, "-o", files["finetuned"],
         "--threads", a.threads)
    nb = d / "neighbours.ckpt"
    step("train neighbours", nb, "train", inp, "--init", "general", "--prior-by", "neighbours", "--max-time",
         a.minutes, "-o", nb, "--threads", a.threads, "--seed", 0)
    step("impute neighbours", files["neighbours"], "impute", inp, "--model", nb, "-o", files["neighbours"],
         "--guide-neighbours", 15, "--guidance-far", 10, "--far-from", 10_000_000, "--add-observed",
         "--threads", a.threads)
    for method in ("raw", "rwr"):
        step(f"baseline {method}", files[method], "baseline", inp, "--method", method, "--max-distance", WHOLE_BP,
             "-o", files[method])
    step("baseline raw-all", files["raw-all"], "baseline", cells, "--method", "raw", "--max-distance", WHOLE_BP,
         "-o", files["raw-all"])
    refs = {"bulk": ["--reference", BULK], "es": ["--reference-cells", cells]}
    tables = []
    for ref, option in refs.items():
        report = d / f"report_{ref}"
        scored = {k: v for k, v in files.items() if ref == "bulk" or k != "neighbours"}
        step(f"evaluate {ref}", report / "metrics.tsv", "evaluate", *scored.values(), "--heldout", held, *option,
             "-o", report)
        m = pd.read_csv(report / "metrics.tsv", sep="\t")
        # evaluate lists methods in the order of its inputs
        m = m.assign(method=list(scored), reference=ref)[["reference", "method", *COLUMNS]]
        tables.append(m)
    table = pd.concat(tables)
    table.loc[table["method"] == "raw-all", "heldout_bits"] = float("nan")
    table.to_csv(d / "summary.tsv", sep="\t", index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for name, s in seconds.items():
        print(f"{name}: {s:.0f} s")
    print(f"summary: {d / 'summary.tsv'}")


if __name__ == "__main__":
    main()
