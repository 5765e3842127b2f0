"""Seconds per cell of ``hicdiff impute`` at 1 Mb: the model's band against whole chromosomes (docs/scale.md).

    python bench/whole_time.py INPUT.scool --model general --cells-per-round 20 --rounds 3 --threads 2

Each imputation is the ``hicdiff impute`` process a user runs (``--max-distance band`` and ``whole``, the same
cells), timed as a whole (start-up, model loading, reading, imputing, balancing and writing); band and whole
alternate round by round on different cells, so that other load on the machine falls on both alike. Prints
each process's wall seconds per cell and the imputation loop's (``seconds_per_cell`` of its summary line),
and the medians of the rounds.

    python bench/whole_time.py INPUT.scool --model nb.ckpt --guided 15 --threads 2

adds a third process per round, the default workflow's ``hicdiff-neighbours`` recipe on the same cells (whole
chromosomes, each cell guided by its 15 nearest cells of the round, ``--guidance-far 10 --far-from 10000000
--add-observed``; the model needs a prior channel), and its ratios to the other two.

    python bench/whole_time.py INPUT.scool --parts 20 --threads 1

prints instead where a cell's time goes, in one process: ``cProfile`` of ``impute_scool`` over 20 cells (forward
passes, ``cooler.create_scool``, reading, the pixel table), and the balancing timed alone on the written cells
(the profiler inflates its many small calls).
"""

import argparse
import cProfile
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _cli import hicdiff

from hicdiff.io import open_cells


def parts(cells, model, n, threads):
    import cooler
    import pstats
    import torch

    from hicdiff.balance import cell_weights, chrom_offsets
    from hicdiff.impute import Imputer, impute_scool

    torch.set_num_threads(threads)
    names = open_cells(cells).names
    imp = Imputer.from_checkpoint(model, device="cpu", threads=threads)
    with tempfile.TemporaryDirectory() as tmp:
        impute_scool(cells, model, f"{tmp}/warm.scool", cells=names[:2], imputer=imp, max_distance="band")
        for extent in ("band", "whole"):
            out = f"{tmp}/{extent}.scool"
            prof = cProfile.Profile()
            prof.enable()
            s = impute_scool(cells, model, out, cells=names[2: 2 + n], imputer=imp, max_distance=extent)
            prof.disable()
            stats = pstats.Stats(prof).stats
            per_cell = {f: sum(v[3] for k, v in stats.items() if k[2] == f) / n
                        for f in ("_on_model_thread", "create_scool", "cell_bands", "table")}
            written = cooler.fileops.list_scool_cells(out)
            pixels = [cooler.Cooler(f"{out}::{c}").pixels()[:] for c in written]
            offsets = chrom_offsets(cooler.Cooler(f"{out}::{written[0]}").bins()[:])
            t = time.perf_counter()
            iterations = [cell_weights(px, offsets)[1]["iterations"] for px in pixels]
            balance = (time.perf_counter() - t) / len(pixels)
            print(f"{extent}: {s['seconds_per_cell']:.3f} s/cell under the profiler; forward passes "
                  f"{per_cell['_on_model_thread']:.3f}, cooler.create_scool {per_cell['create_scool']:.3f}, reading "
                  f"{per_cell['cell_bands']:.3f}, pixel table {per_cell['table']:.3f}; balancing alone {balance:.3f} "
                  f"s/cell ({max(iterations)} iterations at most), {len(pixels[0])} pixels per cell")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cells")
    ap.add_argument("--model", default="general")
    ap.add_argument("--cells-per-round", dest="n", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep", help="folder to keep the last round's outputs in (default: a temporary one)")
    ap.add_argument("--parts", type=int, metavar="CELLS", help="where the time goes, over this many cells")
    ap.add_argument("--guided", type=int, metavar="K", help="also the guided recipe with K neighbours")
    a = ap.parse_args()
    if a.parts:
        return parts(a.cells, a.model, a.parts, a.threads)
    names = open_cells(a.cells).names
    if len(names) < a.n * a.rounds:
        raise SystemExit(f"{a.cells} has {len(names)} cells, fewer than {a.n} x {a.rounds}")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    runs = {"band": ["--max-distance", "band"], "whole": ["--max-distance", "whole"]}
    if a.guided:
        runs["guided"] = ["--max-distance", "whole", "--guide-neighbours", a.guided, "--neighbours-among", "cells",
                          "--guidance-far", 10, "--far-from", 10_000_000, "--add-observed"]
    wall = {k: [] for k in runs}
    loop = {k: [] for k in runs}
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(a.keep or tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for r in range(a.rounds):
            sub = Path(tmp) / f"cells{r}.txt"
            sub.write_text("\n".join(names[a.n * r: a.n * (r + 1)]) + "\n")
            for extent in wall:
                out = out_dir / f"{extent}.scool"
                out.unlink(missing_ok=True)
                t = time.perf_counter()
                p = subprocess.run(hicdiff("impute", a.cells, "--model", a.model, "-o", out, "--cells", sub,
                                           *runs[extent], "--threads", a.threads),
                                   capture_output=True, text=True, env=env, check=True)
                wall[extent].append((time.perf_counter() - t) / a.n)
                summary = json.loads(p.stdout.strip().splitlines()[-1])
                loop[extent].append(summary["seconds_per_cell"])
                print(f"round {r} {extent}: process {wall[extent][-1]:.3f} s/cell, loop {loop[extent][-1]:.3f} "
                      f"s/cell, {out.stat().st_size / a.n / 1e3:.0f} kB/cell", flush=True)
    for what, t in (("process", wall), ("loop", loop)):
        band, whole = (statistics.median(t[k]) for k in ("band", "whole"))
        print(f"{a.threads} thread(s), {what}: band {band:.3f} s/cell, whole chromosomes {whole:.3f} s/cell, "
              f"ratio {whole / band:.2f}")
        if a.guided:
            guided = statistics.median(t["guided"])
            print(f"{a.threads} thread(s), {what}: guided {guided:.3f} s/cell, {guided / whole:.2f}x whole "
                  f"chromosomes, {guided / band:.2f}x the band")


if __name__ == "__main__":
    main()
