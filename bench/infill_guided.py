"""Infilling guided by the cell type's other cells: the masked regions of bench/infill_check.py again, imputed
by a model trained for both infilling and a prior channel, unguided and guided by the type's pool.

    python bench/infill_check.py --minutes 5 --threads 2        # first: regions, masked input, baselines
    python bench/infill_guided.py --minutes 6 --threads 2

The model: bench/guidance_check.py's prior model (``results/guidance_check/prior.ckpt``: the general model
fine-tuned with ``--prior-by cell_type``) fine-tuned on the masked input parts (``OUT/input_masked.scool``:
no method ever sees the masked pixels) with ``--region-mask-fraction 0.5 --prior-by cell_type``. Each type's
cells are imputed with ``--mask-regions OUT/regions.bed --guide-label TYPE`` (the prior: the type's other
cells' input parts pooled, the cell's own contacts left out), and all cells without a prior. Scored as
bench/infill_check.py scores (bits per contact over distance alone on the masked pixels, against all of the
cell's contacts there), beside decay, RWR and bench/infill_check.py's infilling models when present.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from _cli import hicdiff
from infill_check import DMAX_BP, score
from hicdiff._cellmaps import cell_labels
from hicdiff.io import open_cells
from hicdiff.regions import RegionMask

REPO = Path(__file__).resolve().parents[1]


def run(args):
    print("+", " ".join(map(str, args)), flush=True)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1"}
    if subprocess.run(hicdiff(*args), env=env).returncode:
        sys.exit(f"failed: hicdiff {' '.join(map(str, args))}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default=str(REPO / "results" / "lee2019_pfc_1mb"))
    ap.add_argument("--out", default=str(REPO / "results" / "infill_check"))
    ap.add_argument("--init", default=str(REPO / "results" / "guidance_check" / "prior.ckpt"))
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    out, inp = Path(a.out), Path(a.run) / "eval" / "input.scool"
    bed, masked = out / "regions.bed", out / "input_masked.scool"
    if not bed.exists() or not masked.exists():
        sys.exit(f"run bench/infill_check.py first ({bed}, {masked})")
    model = out / "infill_prior.ckpt"
    if not model.exists():
        run(["train", masked, "--init", a.init, "--region-mask-fraction", 0.5, "--prior-by", "cell_type",
             "--max-time", a.minutes, "--threads", a.threads, "--seed", 2, "-o", model])
    inputs, heldout = open_cells(str(inp)), open_cells(str(Path(a.run) / "eval" / "heldout.scool"))
    mask = RegionMask(str(bed), inputs)
    labels = cell_labels(inputs, "cell_type")
    unguided = out / "unguided_prior.scool"
    if not unguided.exists():
        run(["impute", inp, "--model", model, "--mask-regions", bed, "--max-distance", DMAX_BP,
             "--threads", a.threads, "-o", unguided])
    methods = {"infilling + prior model, unguided": str(unguided), "decay": str(out / "decay.scool"),
               "rwr": str(out / "rwr.scool")}
    for label, path in (("hicdiff (general fine-tuned, region masking 0.5)", out / "hicdiff_1.scool"),
                        ("hicdiff (general zero-shot)", out / "hicdiff_0.scool")):
        if path.exists():
            methods[label] = str(path)
    tables = [score(methods, inputs, heldout, mask, masked_only=True)]
    for t in sorted(labels.unique()):
        names = labels.index[labels == t].tolist()
        cells = out / f"cells_{t}.txt"
        cells.write_text("\n".join(names) + "\n")
        dest = out / f"guided_{t}.scool"
        if not dest.exists():
            run(["impute", inp, "--model", model, "--mask-regions", bed, "--guide-label", t, "--cells", cells,
                 "--max-distance", DMAX_BP, "--threads", a.threads, "-o", dest])
        tables.append(score({"infilling + prior model, guided by the type's pool": str(dest)},
                            inputs.subset(names), heldout, mask, masked_only=True))
    cells = pd.concat(tables).dropna()
    cells.to_csv(out / "masked_cells_guided.tsv", sep="\t", index=False)
    table = cells.groupby("method", sort=False)["bits"].agg(["mean", "median"])
    wide = cells.pivot(index="cell", columns="method", values="bits")
    table["cells above decay"] = [(wide[m] > wide["decay"]).mean() for m in table.index]
    print(f"\nInside the masked regions ({cells['cell'].nunique()} cells with contacts there): bits per contact "
          "over distance alone")
    print(table.to_string(float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
