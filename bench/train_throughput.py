"""Training throughput: valid window entries per second and peak memory of `hicdiff.training.train`.

    python bench/train_throughput.py [CELLS.scool] [--config small] [--device auto] [--steps 100] [--threads 2]
        [--batch-size B] [--max-distance BP]

Runs the real training path (Lightning, on-device split/tokens/masks) for a fixed number of steps with a
small validation (2 cells, t = 1 only, not timed) and prints one line of figures. Entries per second count
the valid entries of the training windows, over training steps only (data loading and validation excluded).
"""

import argparse
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from hicdiff.config import load_config
from hicdiff.training import train

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "nagano2017_mesc_scool" / "test_matrix.scool"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scool", nargs="?", default=str(DEFAULT))
    p.add_argument("--config", default="small", help="preset or YAML file")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--threads", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-distance", type=int, help="band width in bp (default: the preset's diagonals)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)

    over = {"max_steps": a.steps, "max_minutes": None, "val_fraction": 0.01, "val_min_cells": 2, "val_t": [1.0],
            "checkpoint_every": 0, "log_every": max(a.steps // 4, 1)}
    if a.batch_size:
        over["batch_size"] = a.batch_size
    if a.max_distance:
        from hicdiff.io import open_cells

        over["max_diag"] = a.max_distance // int(open_cells(a.scool).resolution)
    cfg = load_config(a.config, **over)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        r = train(a.scool, os.path.join(tmp, "bench.ckpt"), cfg, device=a.device, threads=a.threads)
        wall = time.monotonic() - t0
    cuda = torch.cuda.is_available() and a.device != "cpu"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = f"  cuda peak {torch.cuda.max_memory_allocated() / 2**20:,.0f} MiB" if cuda else ""
    print(f"{a.config} on {'cuda (bf16)' if cuda else f'cpu ({torch.get_num_threads()} threads)'}, "
          f"batch {cfg.batch_size} x {cfg.window_rows} rows x {cfg.padded_diags} diagonals: {r.steps} steps, "
          f"{r.entries_per_s:,.0f} entries/s, {r.steps / (60 * r.minutes):.2f} steps/s, "
          f"val CE t=1 {r.val_ce_t1:.4f} (distance-only {r.distance_only_ce:.4f}); "
          f"peak RSS {rss:,.0f} MiB{gpu}; wall {wall:.0f} s incl. loading and validation")


if __name__ == "__main__":
    sys.exit(main())
