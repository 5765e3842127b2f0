"""A cell's cis maps as band grids, read once per cell (shared by baselines and evaluation).

Reading a cell's whole pixel table once and splitting it by chromosome is several times faster than one
range query per chromosome, and 1 Mb cells are small (tens of thousands of pixels).
"""

from __future__ import annotations

import contextlib
import os

import h5py
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from hicdiff.band import band_from_pixels, main_diagonal
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet, read_cell_metadata


#: Up to this many bins per chromosome, matrix work runs on one BLAS thread.
SMALL_MATRIX = 1000


def blas_threads_for(cells: CellSet):
    """Context limiting BLAS to one thread when every chromosome is small (a few hundred bins): threads
    then cost more than they give, and oversubscribe CPUs shared with other jobs many times over."""
    small = max(cells.n_bins(c) for c in cells.chromnames) <= SMALL_MATRIX
    return threadpool_limits(1, user_api="blas") if small else contextlib.nullcontext()


def max_diagonal(max_distance: int, resolution: int) -> int:
    """Number of diagonals ``D`` in the band: pixels ``(i, i + d)`` with ``d * resolution <= max_distance``."""
    d = int(max_distance) // int(resolution)
    if d < 1:
        raise HicdiffError(
            f"max distance {max_distance} bp is below the resolution {resolution} bp: the band would be empty")
    return d


_FILES: dict = {}
#: Cells read from one open file before it is closed and opened again: HDF5 keeps about 0.1 MB of state
#: per cell read until the file is closed, which would grow with the number of cells (issue 13).
READS_PER_OPEN = 64


def _pixel_columns(uri: str):
    """``bin1_id``, ``bin2_id``, ``count`` of one cooler, read with h5py (cooler's selectors cost more
    than the read itself for a small cell). Files stay open, read-only, for the next cells."""
    path, _, group = uri.partition("::")
    key = os.path.realpath(path), os.stat(path).st_mtime_ns
    f, reads = _FILES.get(key, (None, 0))
    if f is not None and (not f.id.valid or reads >= READS_PER_OPEN):
        f.close()
        f = None
    if f is None:
        if len(_FILES) > 32:
            for old, _ in _FILES.values():
                old.close()
            _FILES.clear()
        f, reads = h5py.File(path, "r"), 0
    _FILES[key] = f, reads + 1
    px = f[group or "/"]["pixels"]
    return (px["bin1_id"][:].astype(np.int64, copy=False), px["bin2_id"][:].astype(np.int64, copy=False),
            px["count"][:].astype(np.float64, copy=False))


def cis_pixel_arrays(cells: CellSet, name: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Chromosome -> ``(bin1, bin2, count)`` with chromosome-local bin ids, upper triangle, cis only."""
    b1, b2, count = _pixel_columns(cells.uris[name])
    out = {}
    # pixels are sorted by bin1_id, so each chromosome's rows are one contiguous slice
    for chrom, (lo, hi) in cells.chrom_bins.items():
        a, b = np.searchsorted(b1, [lo, hi])
        keep = b2[a:b] < hi
        out[chrom] = (b1[a:b][keep] - lo, b2[a:b][keep] - lo, count[a:b][keep])
    return out


def cell_bands(cells: CellSet, name: str, max_diag: int, chroms=None,
               dtype=np.float64) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Chromosome -> ``(band, diag0)``: the ``(N, max_diag)`` band grid (``dtype``) and the main diagonal
    (float64), for ``chroms`` (default: all). Trans pixels never enter a band."""
    tables = cis_pixel_arrays(cells, name)
    out = {}
    for chrom in chroms if chroms is not None else cells.chromnames:
        b1, b2, count = tables[chrom]
        n = cells.n_bins(chrom)
        out[chrom] = (band_from_pixels(b1, b2, count, n, max_diag, dtype=dtype),
                      main_diagonal(b1, b2, count, n))
    return out


def cell_labels(cells: CellSet, label_column: str, labels_path=None, required: bool = True) -> pd.Series | None:
    """Label of every cell: from ``labels_path`` (a TSV, see :func:`hicdiff.io.read_cell_metadata`) when
    given, else from the metadata stored with the cells.

    Returns ``None`` when no labels exist and ``required`` is false; otherwise a missing column or a cell
    without a label is an error naming the source.
    """
    if labels_path is not None:
        table, source = read_cell_metadata(labels_path), str(labels_path)
    else:
        table, source = cells.metadata(), cells.source
    if label_column not in table.columns:
        if not required:
            return None
        have = ", ".join(map(str, table.columns)) or "none"
        where = "labels table" if labels_path is not None else "cells' stored metadata (give --labels FILE.tsv)"
        raise HicdiffError(f"no column {label_column!r} in the {where}; columns: {have}", source)
    labels = table[label_column].reindex(cells.names)
    missing = labels.index[labels.isna()].tolist()
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise HicdiffError(f"{len(missing)} cell(s) have no {label_column!r} label: {shown}", source)
    return labels.astype(str).rename(label_column)
