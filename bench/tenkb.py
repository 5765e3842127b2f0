"""10 kb: import real mouse cells at 10 kb, fine-tune the shipped general model on them with a 1 Mb band,
impute one cell genome-wide; time, peak memory and output size of each command.

    python bench/tenkb.py [--cells 3] [--steps 20] [--max-distance 1000000] [--threads 2] [--keep DIR]

Runs the commands a user runs, each in its own process:

1. ``hicdiff load`` the first ``--cells`` Nagano et al. 2017 contact cells at 10 kb (mm9, chr1-19 and X, cis);
2. ``hicdiff train --init general --max-distance BP --max-steps N``, validating on one cell at ``t = 1`` only
   (a small configuration file: the default four values of ``t`` over every window of a 10 kb cell take minutes);
3. ``hicdiff impute`` of one of the cells (not the validation cell) with the fine-tuned model, in its band.

Peak memory is each command's own peak resident set (``ru_maxrss`` from ``wait4``, the figure
``/usr/bin/time -v`` prints); output size per cell is the stored size of the imputed cell's pixel columns
(the file also holds the 264,000-bin table, shared by all its cells). Prints one JSON line per command and a
Markdown table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _cli import hicdiff

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def run(step: str, cmd: list[str]) -> dict:
    """Run ``cmd``; its wall time, CPU time (user + system), peak RSS (MB) and standard output. Fails loudly
    with its error output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    # communicate() has reaped the child; its resources are this process's only child's
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    if proc.returncode:
        sys.exit(f"{step} failed ({proc.returncode}):\n{err[-3000:]}")
    return {"step": step, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mb": round(peak_mb),
            "stdout": out.strip()}


def measure(step: str, cmd: list[str]) -> dict:
    """:func:`run` from a fresh measuring process, so that the peak RSS is this command's alone."""
    code = ("import json, sys; sys.path.insert(0, %r); from tenkb import run; "
            "print(json.dumps(run(%r, %r)))" % (str(Path(__file__).parent), step, cmd))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if r.returncode:
        sys.exit(r.stderr or r.stdout)
    return json.loads(r.stdout.strip().splitlines()[-1])


def pixel_storage(scool, name) -> tuple[int, int]:
    """``(pixels, stored bytes of the pixel columns)`` of cell ``name``."""
    import h5py

    with h5py.File(scool, "r") as f:
        px = f["cells"][name]["pixels"]
        return px["count"].shape[0], sum(px[k].id.get_storage_size() for k in px)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", type=int, default=3, help="Nagano contact cells to load (at least 3)")
    p.add_argument("--steps", type=int, default=20, help="fine-tuning steps")
    p.add_argument("--max-distance", type=int, default=1_000_000, help="band in bp (100 diagonals at 10 kb)")
    p.add_argument("--resolution", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--keep", help="folder for the files (default: a temporary one, removed)")
    a = p.parse_args(argv)

    folder = a.keep or tempfile.mkdtemp(prefix="tenkb")
    os.makedirs(folder, exist_ok=True)
    cells_dir = DATA / "nagano2017_mesc_contacts" / "cells"
    cells = sorted(cells_dir.iterdir())[: a.cells]
    scool, model, out = (os.path.join(folder, n) for n in ("cells.scool", "tenkb.ckpt", "imputed.scool"))
    for f in (scool, model, out):
        if os.path.exists(f):
            os.remove(f)
    config = os.path.join(folder, "validate_one_cell.yaml")
    with open(config, "w") as fh:
        fh.write("val_t: [1.0]\nval_min_cells: 1\nval_max_cells: 1\ncheckpoint_every: 0\nlog_every: 10\n")

    rows = [measure("load", hicdiff("load", *cells, "--resolution", a.resolution, "--chromsizes",
                                    DATA / "chromsizes" / "mm9.chrom.sizes", "-o", scool))]
    rows.append(measure("train", hicdiff("train", scool, "--init", "general", "--config", config,
                                         "--max-distance", a.max_distance, "--max-steps", a.steps,
                                         "--threads", a.threads, "--device", "cpu", "-o", model)))
    import torch

    ckpt = torch.load(model, map_location="cpu", weights_only=True)
    name = ckpt["data"]["training_cells"][0]
    rows.append(measure("impute", hicdiff("impute", scool, "--model", model, "--cells", name, "--threads",
                                          a.threads, "--device", "cpu", "-o", out)))
    summary = json.loads(rows[-1]["stdout"].splitlines()[-1])
    pixels, stored = pixel_storage(out, name)
    rows[-1].update(seconds_per_cell=round(summary["seconds_per_cell"], 1), pixels_per_cell=pixels,
                    output_mb_per_cell=round(stored / 1e6, 1), file_mb=round(os.path.getsize(out) / 1e6, 1),
                    max_diag=ckpt["model_config"]["max_diag"])
    rows[1]["train_line"] = rows[1].pop("stdout").splitlines()[-1]
    for r in rows:
        r.pop("stdout", None)
        print(json.dumps(r))

    imp = rows[-1]
    print(f"\n{len(cells)} Nagano cells at {a.resolution // 1000} kb, band {a.max_distance // 1000} kb "
          f"({imp['max_diag']} diagonals), {a.threads} threads\n")
    print("| command | wall | CPU (user + system) | peak RSS |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| hicdiff {r['step']} | {r['wall_s']:.0f} s | {r['cpu_s']:.0f} s | {r['peak_rss_mb']:,} MB |")
    print(f"\nimpute: {imp['seconds_per_cell']} s per cell (imputation loop), {imp['pixels_per_cell']:,} pixels per "
          f"cell, {imp['output_mb_per_cell']} MB of pixels per cell ({imp['file_mb']} MB file)")
    if not a.keep:
        import shutil

        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
