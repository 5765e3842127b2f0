"""Imputation speed and peak memory, genome-wide, in `mean` mode.

Each cell count runs in its own process so that peak memory (max RSS) is that run's alone. Speed does not
depend on the weights, so without --model an untrained model of the chosen preset is used.

    python bench/impute_speed.py CELLS.scool [--model model.ckpt | --preset small] --cells 50 300 --threads 2
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def run_one(args):
    import torch

    from hicdiff.checkpoint import untrained_checkpoint
    from hicdiff.config import load_config
    from hicdiff.impute import Imputer, impute_scool
    from hicdiff.io import open_cells

    torch.set_num_threads(args.threads)
    cs = open_cells(args.scool)
    names = cs.names[: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or untrained_checkpoint(os.path.join(tmp, "untrained.ckpt"), cs, load_config(args.preset))
        imp = Imputer.from_checkpoint(model, device=args.device, batch_size=args.batch_size, stride=args.stride)
        t0 = time.perf_counter()
        summary = impute_scool(args.scool, model, os.path.join(tmp, "out.scool"), cells=names, imputer=imp)
        wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = {}
    if imp.device.type == "cuda":
        gpu = {"cuda_peak_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1),
               "device_name": torch.cuda.get_device_name()}
    print(json.dumps({"cells": len(names), "seconds_per_cell": wall / len(names),
                      "cells_per_s": round(len(names) / wall, 2), "peak_rss_mb": round(peak_mb, 1), **gpu,
                      "threads": args.threads, "windows_per_forward": args.batch_size,
                      "model_params": imp.model.n_params(), "stride": imp.stride, "total_s": round(wall, 2)}))
    return summary


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scool")
    p.add_argument("--model")
    p.add_argument("--preset", default="small")
    p.add_argument("--cells", type=int, nargs="+", default=[50, 300])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--stride", type=int, default=None)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.n:
        run_one(args)
        return
    base = [sys.executable, __file__, args.scool, "--preset", args.preset, "--threads", str(args.threads),
            "--device", args.device, "--batch-size", str(args.batch_size)]
    if args.model:
        base += ["--model", args.model]
    if args.stride:
        base += ["--stride", str(args.stride)]
    for n in args.cells:
        subprocess.run(base + ["--n", str(n)], check=True)


if __name__ == "__main__":
    main()
