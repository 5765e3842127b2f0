"""Calibration of the default run's three models on its held-out contacts (:mod:`hicdiff.calibration`).

The models of ``results/lee2019_pfc_1mb``: trained from scratch (``model.ckpt``), the shipped ``general``
zero-shot, and ``general`` fine-tuned on the cells (``model-finetuned.ckpt``). Each is forecast for the first
``--cells`` cells of ``eval/input.scool`` at each cell's held-out depth and scored against
``eval/heldout.scool`` within 10 Mb (the report's band), as ``hicdiff evaluate --model --input`` does. Prints
one row per model; the tables go to ``--out``/<model>/.

    python bench/calibration_check.py --cells 20 --samples 8 --threads 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from hicdiff.calibration import calibration, plot

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / "results" / "lee2019_pfc_1mb"
MODELS = {"hicdiff": RUN / "model.ckpt", "hicdiff-general": "general",
          "hicdiff-finetuned": RUN / "model-finetuned.ckpt"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=20)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "results" / "calibration_check" / "models"))
    args = ap.parse_args()
    rows = []
    for method, model in MODELS.items():
        t0 = time.perf_counter()
        cal = calibration(str(model), str(RUN / "eval" / "input.scool"), str(RUN / "eval" / "heldout.scool"),
                          max_cells=args.cells, samples=args.samples, steps=args.steps, device="cpu",
                          threads=args.threads)
        secs = time.perf_counter() - t0
        folder = Path(args.out) / method
        folder.mkdir(parents=True, exist_ok=True)
        for name, df in (("pit", cal.pit), ("reliability", cal.reliability), ("ranks", cal.ranks)):
            df.to_csv(folder / f"calibration_{name}.tsv", sep="\t", index=False, float_format="%.6g")
        plot(cal, folder / "calibration.png")
        rows.append({"method": method, "cells": cal.info["cells"], "pixels": cal.info["pixels"],
                     **{k.removeprefix("calibration_"): v for k, v in cal.metrics.items()},
                     "s_per_cell": secs / cal.info["cells"]})
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
