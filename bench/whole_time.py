"""Seconds per cell of ``hicdiff impute`` at 1 Mb: the model's band against whole chromosomes (docs/scale.md).

    python bench/whole_time.py INPUT.scool --model general --cells-per-round 20 --rounds 3 --threads 2

Each imputation is the ``hicdiff impute`` process a user runs (``--max-distance band`` and ``whole``, the same
cells), timed as a whole (start-up, model loading, reading, imputing, balancing and writing); band and whole
alternate round by round on different cells, so that other load on the machine falls on both alike. Prints
each process's wall seconds per cell and the imputation loop's (``seconds_per_cell`` of its summary line),
and the medians of the rounds.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _cli import hicdiff

from hicdiff.io import open_cells


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cells")
    ap.add_argument("--model", default="general")
    ap.add_argument("--cells-per-round", dest="n", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep", help="folder to keep the last round's outputs in (default: a temporary one)")
    a = ap.parse_args()
    names = open_cells(a.cells).names
    if len(names) < a.n * a.rounds:
        raise SystemExit(f"{a.cells} has {len(names)} cells, fewer than {a.n} x {a.rounds}")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    wall = {"band": [], "whole": []}
    loop = {"band": [], "whole": []}
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
                                           "--max-distance", extent, "--threads", a.threads),
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


if __name__ == "__main__":
    main()
