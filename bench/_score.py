"""What the quality benchmarks share: the held-out score of ``hicdiff evaluate`` on band grids in memory."""

import numpy as np

from hicdiff._cellmaps import cell_bands
from hicdiff.metrics import heldout_gain

#: hicdiff evaluate's default --max-distance: pixels up to 10 Mb apart are scored.
BAND_BP = 10_000_000


def read_bands(cells, names, dmax, chroms) -> dict:
    """Cell -> chromosome -> ``(N, dmax)`` band of a file's cells."""
    return {n: {c: b for c, (b, _) in cell_bands(cells, n, dmax, chroms).items()} for n in names}


def heldout_bits(bands_of, held, names, dmax) -> float:
    """``heldout_bits`` as ``hicdiff evaluate`` reports it: per cell, the per-diagonal normalised gain of the
    held-out contacts over a flat diagonal summed over chromosomes, per held-out contact (pixels
    ``0 < d <= dmax``); the mean over cells."""
    per_cell = []
    for name in names:
        gains, n = 0.0, 0.0
        for c, h in held[name].items():
            g, _, total = heldout_gain(bands_of[name][c][:, :dmax], h)
            gains, n = gains + g, n + total
        per_cell.append(gains / n)
    return float(np.mean(per_cell))
