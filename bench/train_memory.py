"""Peak memory of the ``hicdiff train`` process against the number of cells, at 100 kb with a 10 Mb band.

    python bench/train_memory.py [--scool nagano_100kb.scool] [--copies 10] [--steps 20] [--threads 1]

Without ``--scool`` the 37 Nagano et al. 2017 contact cells are loaded at 100 kb (``hicdiff load``, mm9).
The larger set is ``--copies`` binomially thinned copies of every cell (each contact kept with probability
0.8, one seed per copy, cells renamed ``NAME_tK``), written with :class:`hicdiff.io.ScoolWriter`. Each
training (``hicdiff train --max-steps N --max-distance 10000000``, small preset, ``--val-fraction`` set so
that every run validates on ``--val-cells`` cells) runs from its own measuring
process, so its peak resident memory is the child's own ``ru_maxrss`` (the figure ``/usr/bin/time -v``
prints). Prints one JSON line per run and a Markdown table.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _cli import hicdiff

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def thinned_copies(scool, output, copies: int, keep: float = 0.8) -> None:
    import numpy as np

    from hicdiff.io import ScoolWriter, open_cells

    cs = open_cells(scool)
    with ScoolWriter(output, cs.bins, {"thinned": f"{copies} copies, each contact kept with p={keep}"}) as w:
        for k in range(copies):
            rng = np.random.default_rng(k)
            for name in cs.names:
                px = cs.pixels(name)
                px["count"] = rng.binomial(px["count"].to_numpy(np.int64), keep).astype(np.int32)
                w.add(f"{name}_t{k}", px[px["count"] > 0].reset_index(drop=True), cs.cell_metadata(name))


def measure(args) -> None:
    """One training from this measuring process, whose only child is the command."""
    out = Path(args.tmp) / f"model{os.getpid()}.ckpt"
    from hicdiff.io import open_cells

    n = len(open_cells(args.scool))
    # the same validation cells' count in every run: the validation windows (about 19 MB per validation cell
    # here) and their end-of-training pass grow with them, not with the training cells
    cmd = hicdiff("train", args.scool, "-o", out, "--max-steps", args.steps, "--max-distance", 10_000_000,
                  "--threads", args.threads, "--device", "cpu", "--val-fraction", args.val_cells / n)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode:
        sys.stderr.write(r.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    print(json.dumps({"cells": n, "validation_cells": args.val_cells, "peak_rss_mb":
                      round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
                      "wall_s": round(wall, 1), "steps": args.steps, "threads": args.threads,
                      "summary": r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scool", help="cells at 100 kb (default: load the 37 Nagano contact cells)")
    p.add_argument("--copies", type=int, default=10)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--val-cells", type=int, default=4, help="validation cells of every run (37 cells' default)")
    p.add_argument("--tmp", help=argparse.SUPPRESS)
    p.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        measure(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        scool = args.scool or os.path.join(tmp, "nagano_100kb.scool")
        if not args.scool:
            subprocess.run(hicdiff("load", DATA / "nagano2017_mesc_contacts" / "cells", "--resolution", 100_000,
                                   "--chromsizes", DATA / "chromsizes" / "mm9.chrom.sizes", "-o", scool),
                           env=env, check=True, capture_output=True)
        many = os.path.join(tmp, f"thinned_x{args.copies}.scool")
        thinned_copies(scool, many, args.copies)
        rows = []
        for path in (scool, many):
            cmd = [sys.executable, __file__, "--measure", "--scool", path, "--tmp", tmp, "--steps", str(args.steps),
                   "--threads", str(args.threads), "--val-cells", str(args.val_cells)]
            line = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
            print(line, end="", flush=True)
            rows.append(json.loads(line))
    print("\n| cells | peak RSS MB | vs fewest cells | wall s |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['cells']} | {r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] - rows[0]['peak_rss_mb']:+.0f} MB | "
              f"{r['wall_s']:.0f} |")


if __name__ == "__main__":
    main()
