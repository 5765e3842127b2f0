"""Peak memory of the ``hicdiff impute`` and ``hicdiff baseline --method rwr`` processes against the number of
cells: the command-line tools themselves, each run its own process, measured by the kernel.

    python bench/impute_memory.py [--scool lee_1mb.scool] [--model model.ckpt] [--cells 25 300] [--threads 1]

Without ``--scool`` the 300 lee2019_pfc cells are loaded at 1 Mb (``hicdiff load``, about a minute); without
``--model`` an untrained model of the ``small`` preset is written for them (memory and speed do not depend
on the weights). Each run's peak resident memory is its own ``ru_maxrss`` (``os.wait4`` on that child, the
figure ``/usr/bin/time -v`` prints); seconds per cell are the process's wall time, start-up and model
loading included, over its cells. The output size per cell is the written ``.scool`` over its cells. Prints
one JSON line per run and a Markdown table with each tool's peak at the largest count relative to the
smallest.
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lee2019_pfc"


def run(cmd, env) -> dict:
    """Run ``cmd``; its wall seconds."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return time.perf_counter() - t0


def measure(args) -> None:
    """One run from this measuring process, whose only child is the command: RUSAGE_CHILDREN's maximum
    resident size is that command's own peak."""
    import resource

    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    names = Path(args.tmp) / f"cells{args.n}.txt"
    out = Path(args.tmp) / f"{args.tool}{args.n}.scool"
    if args.tool == "impute":
        cmd = hicdiff("impute", args.scool, "--model", args.model, "-o", out, "--cells", names,
                      "--threads", args.threads, "--device", "cpu")
    else:
        cmd = hicdiff("baseline", args.scool, "--method", "rwr", "-o", out, "--cells", names,
                      "--max-distance", args.max_distance)
    wall = run(cmd, env)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size = out.stat().st_size
    out.unlink()
    print(json.dumps({"tool": args.tool, "cells": args.n, "peak_rss_mb": round(peak, 1),
                      "seconds_per_cell": round(wall / args.n, 4),
                      "output_kb_per_cell": round(size / args.n / 1024, 1), "threads": args.threads}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scool", help="cells at 1 Mb (default: load the 300 lee2019_pfc cells)")
    p.add_argument("--model", help="checkpoint (default: an untrained `small` model for the cells)")
    p.add_argument("--cells", type=int, nargs="+", default=[25, 300])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-distance", type=int, default=32_000_000, help="RWR's band (the model's: 32 Mb)")
    p.add_argument("--skip-rwr", action="store_true")
    p.add_argument("--tool", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--tmp", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.tool:
        measure(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        scool = args.scool or os.path.join(tmp, "lee_1mb.scool")
        if not args.scool:
            run(hicdiff("load", DATA / "cells", "--format", "contacts", "--resolution", 1_000_000, "--chromsizes",
                        DATA / "hg19.chrom.sizes", "--labels", DATA / "cells.tsv", "-o", scool), env)
        from hicdiff.io import open_cells

        cs = open_cells(scool)
        model = args.model
        if not model:
            from hicdiff.checkpoint import untrained_checkpoint
            from hicdiff.config import load_config

            model = untrained_checkpoint(os.path.join(tmp, "untrained.ckpt"), cs, load_config("small"))
        if max(args.cells) > len(cs):
            raise SystemExit(f"{scool} has {len(cs)} cells, fewer than {max(args.cells)}")
        for n in args.cells:
            Path(tmp, f"cells{n}.txt").write_text("\n".join(cs.names[:n]) + "\n")
        rows = []
        for tool in ["impute"] + ([] if args.skip_rwr else ["rwr"]):
            for n in args.cells:
                cmd = [sys.executable, __file__, "--tool", tool, "--n", str(n), "--tmp", tmp, "--scool", scool,
                       "--model", model, "--threads", str(args.threads), "--max-distance", str(args.max_distance)]
                line = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
                print(line, end="", flush=True)
                rows.append(json.loads(line))
    print("\n| tool | cells | peak RSS MB | vs fewest cells | s/cell | output KB/cell |\n|---|---|---|---|---|---|")
    for r in rows:
        first = next(x for x in rows if x["tool"] == r["tool"])
        print(f"| {'hicdiff impute' if r['tool'] == 'impute' else 'hicdiff baseline --method rwr'} | {r['cells']} | "
              f"{r['peak_rss_mb']:.0f} | {100 * (r['peak_rss_mb'] / first['peak_rss_mb'] - 1):+.1f}% | "
              f"{r['seconds_per_cell']:.3f} | {r['output_kb_per_cell']:.0f} |")


if __name__ == "__main__":
    main()
