"""Seconds per cell of imputation at 1 Mb: the model's band against whole chromosomes (docs/scale.md).

    python bench/whole_time.py INPUT.scool --model general --cells-per-round 10 --rounds 3 --threads 1

Both go through ``impute_scool`` (read, impute, balance, write) with one loaded model, interleaved round by
round on different cells, so that other load on the machine falls on both alike; prints the median of the
rounds' seconds per cell.
"""

import argparse
import os
import statistics
import tempfile

import torch

from hicdiff.impute import Imputer, impute_scool
from hicdiff.io import open_cells


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cells")
    ap.add_argument("--model", default="general")
    ap.add_argument("--cells-per-round", dest="n", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    names = open_cells(a.cells).names
    imp = Imputer.from_checkpoint(a.model, device="cpu", threads=a.threads)
    seconds = {"band": [], "whole": []}
    with tempfile.TemporaryDirectory() as tmp:
        impute_scool(a.cells, a.model, f"{tmp}/warm.scool", cells=names[:2], imputer=imp, max_distance="band")
        for r in range(a.rounds):
            sub = names[a.n * r: a.n * (r + 1)]
            for extent in seconds:
                out = f"{tmp}/{extent}{r}.scool"
                s = impute_scool(a.cells, a.model, out, cells=sub, imputer=imp, max_distance=extent)
                seconds[extent].append(s["seconds_per_cell"])
                print(f"round {r} {extent}: {s['seconds_per_cell']:.3f} s/cell, {os.path.getsize(out) / len(sub) / 1e3:.0f} kB/cell",
                      flush=True)
    band, whole = (statistics.median(seconds[k]) for k in ("band", "whole"))
    print(f"{a.threads} thread(s): band {band:.3f} s/cell, whole chromosomes {whole:.3f} s/cell, ratio {whole / band:.2f}")


if __name__ == "__main__":
    main()
