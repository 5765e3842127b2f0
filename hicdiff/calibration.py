"""Calibration of hicdiff's predictive distribution on held-out contacts (``hicdiff evaluate --model --input``).

A diffusion model gives more than a map: for every pixel a distribution over the held-out count. Whether that
distribution is honest is checked against the contacts the split held out, at the depth they were held out
(``r`` = a cell's held-out band contacts over its input's, the question the model is asked):

- **randomised PIT** (probability integral transform): for a held-out count in class ``c`` under the forecast's
  class probabilities ``p``, ``F(c - 1) + U p_c`` with ``U`` uniform; a calibrated forecast makes it uniform
  on [0, 1] (Czado, Gneiting & Held 2009, for counts). Classes are the tokenizer's value bins (0, 1, 2, 3-4,
  5-8, ...): a held-out count is scored by the class it falls in. Metrics: the largest and the mean absolute
  deviation of the 10-bin histogram's shares from 0.1.
- **reliability of P(contact)** = ``1 - p_0`` by decile of the predicted value: the predicted mean against the
  observed share of pixels with a held-out contact; the error is their absolute difference, averaged over
  pixels.
- **coverage of sample-mode draws**: ``S`` draws of the reverse process per cell; the held-out class's rank
  among them (ties broken at random) is uniform on ``0..S`` when the draws and the truth are exchangeable, so
  it falls inside the draws' range (rank ``1..S-1``) with probability ``(S - 1) / (S + 1)`` exactly. Reported:
  that coverage and its nominal value, and the rank histogram.

Raw counts, RWR, decay and pools give one map per cell, not a distribution: calibration is not defined for
them, and the report says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hicdiff._cellmaps import cell_bands
from hicdiff.band import valid_mask
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet, open_cells
from hicdiff.progress import Progress

log = logging.getLogger(__name__)

PIT_BINS = 10
NOT_DEFINED = ("calibration is defined for hicdiff's predictive distribution only: raw, decay, RWR and pooled "
               "cells give one map per cell, not a distribution over counts")


@dataclass
class Calibration:
    """Calibration metrics (``calibration_*``) and the tables behind the figure."""

    metrics: dict
    pit: pd.DataFrame            # bin_low, bin_high, share
    reliability: pd.DataFrame    # decile, predicted, observed, pixels
    ranks: pd.DataFrame          # rank, share
    info: dict = field(default_factory=dict)


def randomised_pit(p: np.ndarray, y: np.ndarray, rng) -> np.ndarray:
    """``F(y - 1) + U p_y`` for class probabilities ``p`` ``(pixels, K)`` and observed classes ``y``."""
    rows = np.arange(len(y))
    below = np.where(y > 0, np.cumsum(p, axis=1)[rows, np.maximum(y - 1, 0)], 0.0)
    return below + rng.random(len(y)) * p[rows, y]


def draw_ranks(draws: np.ndarray, y: np.ndarray, rng) -> np.ndarray:
    """Rank ``0..S`` of each observed class ``y`` among ``S`` drawn classes ``(S, pixels)``, ties at random."""
    less, ties = (draws < y).sum(0), (draws == y).sum(0)
    return less + rng.integers(0, ties + 1)


def _band_total(bands, dmax) -> float:
    return float(sum(b[:, :dmax].sum(dtype=np.float64) for b, _ in bands.values()))


def calibration(model, inputs, heldout, names=None, max_cells: int = 20, max_distance_bp: int = 10_000_000,
                samples: int = 8, steps: int = 4, seed: int = 0, device="auto", threads=None) -> Calibration:
    """Calibration of ``model`` (a checkpoint, or an :class:`~hicdiff.impute.Imputer`) on the cells of
    ``inputs`` (what it imputed from) against ``heldout`` (the split's other part), over pixels up to
    ``max_distance_bp`` apart (within the model's band); the first ``max_cells`` common cells; ``samples``
    draws of ``steps`` steps per cell for the coverage."""
    from hicdiff.impute import Imputer

    imp = model if isinstance(model, Imputer) else Imputer.from_checkpoint(model, device=device, threads=threads)
    inp = inputs if isinstance(inputs, CellSet) else open_cells(inputs)
    held = heldout if isinstance(heldout, CellSet) else open_cells(heldout)
    if inp.resolution != held.resolution:
        raise HicdiffError(f"the input cells are at {inp.resolution} bp, the held-out ones at {held.resolution} bp",
                           held.source)
    common = [n for n in (names or held.names) if n in inp.uris and n in held.uris][: int(max_cells)]
    if not common:
        raise HicdiffError("no cell is in both the input and the held-out file", held.source)
    if samples < 2:
        raise HicdiffError(f"calibration needs at least 2 draws per cell, got {samples}")
    band = imp.cfg.max_diag
    dmax = max(1, min(band, int(max_distance_bp) // int(inp.resolution)))
    chroms = [c for c in imp.chromosomes(inp) if c in held.chrom_bins]
    tok = imp.tokenizer
    rng = np.random.default_rng(seed)
    pit, p_contact, contact, ranks = [], [], [], []
    bar = Progress(len(common), "calibrated", unit="cells", logger=log)
    for name in common:
        observed = cell_bands(inp, name, band, chroms)
        truth = cell_bands(held, name, band, chroms)
        depth = _band_total(observed, band)
        r = _band_total(truth, band) / depth if depth > 0 else 0.0
        if r <= 0:
            bar.update()
            continue
        probs = imp.forecast(inp, name, chroms, depth_ratio=r)
        draws = [imp.draw_classes(inp, name, chroms, depth_ratio=r, steps=steps, seed=seed + k)
                 for k in range(samples)]
        for c in chroms:
            n = inp.n_bins(c)
            ok = valid_mask(n, dmax)
            y = tok.encode(truth[c][0][:, :dmax][ok])
            p = probs[c][:, :dmax][ok].astype(np.float64)
            p /= p.sum(axis=1, keepdims=True)
            pit.append(randomised_pit(p, y, rng))
            p_contact.append(1.0 - p[:, 0])
            contact.append(y > 0)
            ranks.append(draw_ranks(np.stack([dr[c][:, :dmax][ok] for dr in draws]), y, rng))
        bar.update()
    bar.close()
    if not pit:
        raise HicdiffError("no cell has held-out contacts within the band", held.source)
    return summarise(np.concatenate(pit), np.concatenate(p_contact), np.concatenate(contact),
                      np.concatenate(ranks), samples,
                      {"cells": len(common), "max_distance_bp": dmax * int(inp.resolution), "samples": samples,
                       "steps": steps, "depth_ratio": "each cell's held-out band contacts over its input's"})


def summarise(pit, p_contact, contact, ranks, samples, info=None) -> Calibration:
    """The metrics and tables from per-pixel PIT values, predicted ``P(contact)``, observed contact (bool),
    and ranks ``0..samples`` of the held-out class among ``samples`` draws (all ``(pixels,)``)."""
    edges = np.linspace(0, 1, PIT_BINS + 1)
    share = np.histogram(pit, bins=edges)[0] / len(pit)
    pit_df = pd.DataFrame({"bin_low": edges[:-1], "bin_high": edges[1:], "share": share})
    deciles = np.minimum((pd.Series(p_contact).rank(pct=True, method="first").to_numpy() * 10).astype(int), 9)
    rel = (pd.DataFrame({"decile": deciles + 1, "predicted": p_contact, "observed": contact.astype(float)})
           .groupby("decile").agg(predicted=("predicted", "mean"), observed=("observed", "mean"),
                                  pixels=("predicted", "size")).reset_index())
    rank_share = np.bincount(ranks, minlength=samples + 1) / len(ranks)
    ranks_df = pd.DataFrame({"rank": np.arange(samples + 1), "share": rank_share})
    inside = float(((ranks > 0) & (ranks < samples)).mean())
    metrics = {
        "calibration_pit_max_dev": float(np.abs(share - 1 / PIT_BINS).max()),
        "calibration_pit_mean_dev": float(np.abs(share - 1 / PIT_BINS).mean()),
        "calibration_reliability_error": float(np.average(np.abs(rel["predicted"] - rel["observed"]),
                                                          weights=rel["pixels"])),
        "calibration_coverage": inside,
        "calibration_coverage_nominal": (samples - 1) / (samples + 1),
    }
    info = {**(info or {}), "pixels": int(len(pit))}
    return Calibration(metrics, pit_df, rel, ranks_df, info)


def plot(cal: Calibration, path) -> str:
    """PIT histogram, reliability diagram and rank histogram of the draws, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(11, 3.4))
    ax[0].bar(cal.pit["bin_low"], cal.pit["share"], width=1 / PIT_BINS, align="edge", edgecolor="white")
    ax[0].axhline(1 / PIT_BINS, color="k", ls="--", lw=1)
    ax[0].set(title="randomised PIT of held-out counts", xlabel="PIT", ylabel="share of pixels")
    lim = max(cal.reliability["predicted"].max(), cal.reliability["observed"].max()) * 1.05
    ax[1].plot([0, lim], [0, lim], "k--", lw=1)
    ax[1].plot(cal.reliability["predicted"], cal.reliability["observed"], "o-")
    ax[1].set(title="reliability of P(contact), deciles", xlabel="predicted", ylabel="observed share")
    ax[2].bar(cal.ranks["rank"], cal.ranks["share"], edgecolor="white")
    ax[2].axhline(1 / len(cal.ranks), color="k", ls="--", lw=1)
    ax[2].set(title=f"rank of held-out class among {len(cal.ranks) - 1} draws", xlabel="rank",
              ylabel="share of pixels")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def markdown(cal: Calibration, method: str, figure: str | None) -> str:
    """The report's calibration section."""
    m, i = cal.metrics, cal.info
    lines = ["## Calibration", "",
             f"The predictive distribution of `{method}` on {i['pixels']:,} held-out band pixels of {i['cells']} "
             f"cells (pixels up to {i['max_distance_bp']:,} bp apart; forecast at each cell's held-out depth; "
             f"{i['samples']} draws of {i['steps']} steps for the coverage; docs/evaluation.md):", "",
             f"- randomised PIT histogram: largest deviation from uniform {m['calibration_pit_max_dev']:.4f}, "
             f"mean {m['calibration_pit_mean_dev']:.4f} (10 bins, 0.1 each when calibrated)",
             f"- P(contact) reliability error {m['calibration_reliability_error']:.4f} (deciles)",
             f"- held-out class inside the range of the draws: {m['calibration_coverage']:.3f} "
             f"(nominal {m['calibration_coverage_nominal']:.3f})",
             f"- {NOT_DEFINED}.", ""]
    if figure:
        lines += [f"![calibration]({figure})", ""]
    return "\n".join(lines)
