"""Guidance by a cell type's pooled cells on shallow cells: held-out gain with and without the prior.

    python bench/guidance_check.py --run results/lee2019_pfc_1mb --minutes 6 --threads 2

On the default run's 60 cells (``RUN/eval/input.scool``, 80% of each cell; ``RUN/eval/heldout.scool``, the
other 20%): each input part is thinned to 10% of its contacts (``hicdiff split --heldout-fraction 0.9``), the
shallow cells. The shipped ``general`` model is fine-tuned with a prior channel (``hicdiff train
RUN/eval/input.scool OUT/shallow.scool --init general --prior-by cell_type``: each training cell's prior is
its type's other training cells pooled). Each shallow cell is then imputed (mean mode, the model's band)

- unguided (guidance weight 0: the same network without the prior),
- guided by its type's pool of the 80% input parts of the OTHER cells (weights 1, 2),
- and the shipped model zero-shot, unguided;

beside the prior alone (that pool, what ``pool-by-label`` gives less the cell itself) and RWR of the
shallow cell. Scored as ``hicdiff evaluate`` scores ``heldout_bits`` (10 Mb band) against the held-out 20%,
which neither the cell's shallow copy, the pool nor any training saw. Writes ``OUT/guidance.tsv``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path

import pandas as pd

from _cli import hicdiff
from _score import BAND_BP, heldout_bits, read_bands
from hicdiff._cellmaps import cell_labels
from hicdiff.guidance import PoolPrior
from hicdiff.impute import Imputer
from hicdiff.io import open_cells


def run(*cmd):
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run(list(map(str, cmd)), check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="results/lee2019_pfc_1mb")
    ap.add_argument("--out", default="results/guidance_check")
    ap.add_argument("--minutes", type=float, default=6.0, help="fine-tuning with the prior channel")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fraction", type=float, default=0.1, help="share of the input part kept (shallow cells)")
    a = ap.parse_args()
    run_dir, out = Path(a.run), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    inp, heldout = run_dir / "eval" / "input.scool", run_dir / "eval" / "heldout.scool"
    shallow, rest = out / "shallow.scool", out / "shallow_rest.scool"
    if not shallow.exists():
        run(*hicdiff("split", inp, "-o", shallow, rest, "--heldout-fraction", 1 - a.fraction, "--seed", 7))
    model = out / "prior.ckpt"
    if not model.exists():
        t0 = time.time()
        run(*hicdiff("train", inp, shallow, "-o", model, "--init", "general", "--prior-by", "cell_type",
                     "--max-time", a.minutes, "--threads", a.threads, "--val-fraction", 0.1))
        print(f"fine-tuned in {time.time() - t0:.0f} s", flush=True)
    rwr = out / "shallow_rwr.scool"
    if not rwr.exists():
        run(*hicdiff("baseline", shallow, "--method", "rwr", "-o", rwr))

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    full = open_cells(str(inp))
    cells = open_cells(str(shallow))
    held_cells = open_cells(str(heldout))
    names = [n for n in cells.names if n in held_cells.uris]
    labels = cell_labels(full, "cell_type")
    dmax = BAND_BP // cells.resolution
    guided_imp = Imputer.from_checkpoint(str(model), device="auto", threads=a.threads)
    general = Imputer.from_checkpoint("general", device="auto", threads=a.threads)
    chroms = guided_imp.chromosomes(cells)
    held = read_bands(held_cells, names, dmax, chroms)
    band = guided_imp.cfg.max_diag
    results: dict[str, dict] = {}
    for label in sorted(labels.unique()):
        group = [n for n in names if labels[n] == label]
        pool = [n for n in full.names if labels[n] == label]
        prior = PoolPrior(full, pool, chroms, band, band, label=label)
        sub = cells.subset(group)
        for key, imp, w in (("general zero-shot", general, None), ("prior model, unguided (w=0)", guided_imp, 0.0),
                            ("guided by type pool, w=1", guided_imp, 1.0),
                            ("guided by type pool, w=2", guided_imp, 2.0)):
            kw = {} if w is None else {"prior": prior, "guidance": w}
            got = {r.name: r.bands for r in imp.impute_many(sub, group, chroms=chroms, max_distance="band", **kw)}
            results.setdefault(key, {}).update(got)
        results.setdefault("type pool alone (less the cell)", {}).update(
            {n: prior.for_cell(n)[0] for n in group})
        print(f"{label}: {len(group)} cells imputed", flush=True)
    results["RWR of the shallow cell"] = read_bands(open_cells(str(rwr)), names, dmax, chroms)
    results["raw shallow cell"] = read_bands(cells, names, dmax, chroms)
    rows = [{"method": k, "heldout_bits": heldout_bits(v, held, names, dmax), "cells": len(names)}
            for k, v in results.items()]
    df = pd.DataFrame(rows)
    df.to_csv(out / "guidance.tsv", sep="\t", index=False, float_format="%.4f")
    print(df.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


if __name__ == "__main__":
    main()
