"""Band view of a chromosome's contact map, and tiles of it.

A chromosome of ``N`` bins becomes an ``N x D`` grid: row ``i``, column ``d - 1`` holds pixel ``(i, i + d)`` for
diagonals ``d = 1..D``. The main diagonal (``d = 0``) is not part of the grid; it is kept as observed. Entries
with ``i + d >= N`` lie beyond the chromosome's end: they are invalid and always zero. Memory and compute are
linear in ``N``, never ``N x N``.
"""

from __future__ import annotations

import numpy as np


def valid_mask(n_bins: int, max_diag: int) -> np.ndarray:
    """Boolean ``(n_bins, max_diag)``: True where pixel ``(i, i + d)`` lies inside the chromosome."""
    i = np.arange(n_bins)[:, None]
    d = np.arange(1, max_diag + 1)[None, :]
    return i + d < n_bins


def band_from_pixels(bin1, bin2, count, n_bins: int, max_diag: int, dtype=np.float32) -> np.ndarray:
    """Band grid from upper- or lower-triangle pixels with chromosome-local bin ids.

    Pixels on the main diagonal or beyond ``max_diag`` are left out; duplicates are summed.
    """
    bin1 = np.asarray(bin1, dtype=np.int64)
    bin2 = np.asarray(bin2, dtype=np.int64)
    i = np.minimum(bin1, bin2)
    d = np.abs(bin2 - bin1)
    keep = (d >= 1) & (d <= max_diag)
    flat = np.bincount(i[keep] * max_diag + d[keep] - 1, weights=np.asarray(count, dtype=np.float64)[keep],
                       minlength=n_bins * max_diag)
    return flat.reshape(n_bins, max_diag).astype(dtype, copy=False)


def main_diagonal(bin1, bin2, count, n_bins: int) -> np.ndarray:
    """The main diagonal ``(i, i)`` as a length ``n_bins`` vector."""
    bin1 = np.asarray(bin1, dtype=np.int64)
    on = bin1 == np.asarray(bin2, dtype=np.int64)
    diag = np.zeros(n_bins, dtype=np.float64)
    np.add.at(diag, bin1[on], np.asarray(count)[on])
    return diag


def pixels_from_band(band: np.ndarray, diag0: np.ndarray | None = None, offset: int = 0, keep_zeros=False):
    """Pixels ``(bin1, bin2, count)`` of a band grid, sorted by (bin1, bin2), upper triangle.

    Parameters
    ----------
    band : array ``(N, D)``
    diag0 : array ``(N,)``, optional
        Main-diagonal counts to include.
    offset : int
        Added to bin ids (the chromosome's first genome-wide bin id).
    keep_zeros : bool
        Keep zero-valued entries inside the chromosome (imputed maps are dense in the band).
    """
    n, dmax = band.shape
    valid = valid_mask(n, dmax)
    sel = valid if keep_zeros else valid & (band != 0)
    i, j = np.nonzero(sel)
    bin1, bin2, count = i, i + j + 1, band[i, j]
    if diag0 is not None:
        on = np.arange(n)
        if not keep_zeros:
            on = on[diag0 != 0]
        bin1 = np.concatenate([on, bin1])
        bin2 = np.concatenate([on, bin2])
        count = np.concatenate([np.asarray(diag0)[on].astype(count.dtype), count])
        order = np.lexsort((bin2, bin1))
        bin1, bin2, count = bin1[order], bin2[order], count[order]
    return bin1 + offset, bin2 + offset, count


def n_tiles(n: int, size: int) -> int:
    return -(-n // size)


def to_tiles(band: np.ndarray, tile_rows: int, tile_diags: int, fill=0) -> np.ndarray:
    """Cut an ``(N, D)`` grid (or ``(N, D, ...)``) into tiles ``(N/tile_rows, D/tile_diags, tile_rows, tile_diags, ...)``.

    The grid is padded with ``fill`` up to whole tiles.
    """
    n, dmax = band.shape[:2]
    rows, cols = n_tiles(n, tile_rows), n_tiles(dmax, tile_diags)
    pad = [(0, rows * tile_rows - n), (0, cols * tile_diags - dmax)] + [(0, 0)] * (band.ndim - 2)
    padded = np.pad(band, pad, constant_values=fill)
    t = padded.reshape(rows, tile_rows, cols, tile_diags, *band.shape[2:])
    return np.moveaxis(t, 2, 1)


def from_tiles(tiles: np.ndarray, n_bins: int, max_diag: int) -> np.ndarray:
    """Inverse of :func:`to_tiles`: the ``(n_bins, max_diag, ...)`` grid, padding dropped."""
    rows, cols, tr, tc = tiles.shape[:4]
    grid = np.moveaxis(tiles, 1, 2).reshape(rows * tr, cols * tc, *tiles.shape[4:])
    return grid[:n_bins, :max_diag]


def window_starts(n_bins: int, window_rows: int, stride: int, align: int = 1) -> list[int]:
    """Start rows of windows covering ``0..n_bins``: ``0, stride, 2 stride, ...`` and a last window that
    reaches the chromosome's end. Starts are multiples of ``align`` (``stride`` should be one too), so the last
    window may run past the end by less than ``align`` rows (padding)."""
    if n_bins <= window_rows:
        return [0]
    last = -(-(n_bins - window_rows) // align) * align
    starts = list(range(0, last, stride))
    return starts + [last]
