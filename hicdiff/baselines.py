"""Baseline imputations, written in the same form as ``hicdiff impute`` output.

Every method turns each chromosome of a cell into a band grid ``M`` (``N x D``: pixel ``(i, i + d)`` for
``d = 1..D``, ``D = max_distance // resolution``) and then puts it on the cell's own depth scale (DESIGN §1):
``M`` is multiplied so that its band sum equals the cell's observed band sum on that chromosome. The main
diagonal is copied from the observed map; trans pixels are not written.

Methods
-------
``raw``
    The observed counts themselves (zeros stay zero).
``decay``
    Distance decay: every pixel of diagonal ``d`` gets the cell's mean count on diagonal ``d`` (pooled over
    all its chromosomes), then the chromosome is scaled to the cell's band sum on it.
``rwr``
    scHiCluster-style random walk with restart (Zhou et al. 2019), see :func:`rwr_band`.
``pool``
    Copy-bulk: the sum of all cells' observed bands, scaled to each cell.
``pool-by-label``
    The sum of the observed bands of the cells with the same label (the cell itself included), scaled.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from hicdiff._cellmaps import blas_threads_for, cell_bands, cell_labels, cis_pixel_arrays, max_diagonal
from hicdiff.band import band_from_pixels, main_diagonal, pixels_from_band, valid_mask
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet, ScoolWriter, open_cells

log = logging.getLogger(__name__)

METHODS = ("raw", "decay", "rwr", "pool", "pool-by-label")

#: The value scale of every imputed map hicdiff writes (DESIGN §1).
SCALE = "expected contacts at the cell's own sequencing depth"


@dataclass(frozen=True)
class RWRParams:
    """Parameters of the scHiCluster-style random walk with restart (:func:`rwr_band`).

    Attributes
    ----------
    sigma : float
        Gaussian filter width in bins (scipy.ndimage convention, truncated at 4 sigma, zeros beyond the
        chromosome).
    restart : float
        Restart probability of the walk.
    tol : float
        Stop when the Frobenius norm of the change of the walk matrix falls below this.
    max_iter : int
        Stop after this many steps regardless.
    walk_distance : int or None
        The walk moves only between bins at most this many bp apart (entries farther from the diagonal
        are dropped after every step); ``None`` = the whole chromosome (exact scHiCluster).
    dense_max_bins : int
        An unrestricted walk on a chromosome of at most this many bins uses dense arrays (exact
        scHiCluster); a longer chromosome, or a walk restricted by ``walk_distance``, uses sparse matrices
        holding only the walk's band (for a longer chromosome without ``walk_distance`` the walk is
        restricted to 3 x the output band's width).
    """

    sigma: float = 1.0
    restart: float = 0.5
    tol: float = 0.01
    max_iter: int = 50
    walk_distance: int | None = None
    dense_max_bins: int = 3000


# -- per-chromosome methods (band form) ----------------------------------------------------------------


def _gaussian_matrix(n: int, sigma: float) -> sp.csr_matrix:
    """``G`` with ``G @ A @ G`` = scipy.ndimage.gaussian_filter(A, sigma, mode="constant", truncate=4)."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    w /= w.sum()
    inside = np.abs(x) < n
    return sp.diags(list(w[inside]), list(x[inside]), shape=(n, n), format="csr")


def _band_limit(x: sp.spmatrix, width: int) -> sp.csr_matrix:
    x = x.tocoo()
    keep = np.abs(x.row - x.col) <= width
    return sp.csr_matrix((x.data[keep], (x.row[keep], x.col[keep])), shape=x.shape)


def rwr_band(bin1, bin2, count, n_bins: int, max_diag: int, params: RWRParams = RWRParams(),
             resolution: int | None = None) -> np.ndarray:
    """scHiCluster-style random walk with restart of one chromosome, returned as an ``(n_bins, max_diag)`` band.

    Steps: the symmetric contact matrix without its main diagonal (which holds most contacts of deep
    cells and is copied from the observation anyway) -> Gaussian filter (``sigma`` bins) -> transition
    matrix ``P`` (columns normalised; an empty column gets a self-loop) -> ``Q <- restart * I +
    (1 - restart) * Q @ P`` from ``Q = I`` until the change is below ``tol`` -> ``(Q + Q.T) / 2`` ->
    square-root vanilla-coverage normalisation ``Q_ij / sqrt(r_i r_j)`` (``r`` = row sums) -> the band.

    Parameters
    ----------
    bin1, bin2, count : arrays
        The chromosome's pixels, chromosome-local bin ids, either triangle.
    n_bins, max_diag : int
        Chromosome length in bins and number of diagonals of the output band.
    params : RWRParams
    resolution : int, optional
        Bin size in bp (needed when ``params.walk_distance`` is set).

    Returns
    -------
    array ``(n_bins, max_diag)``, float64, not on any particular scale (see :func:`scale_to_cell`).
    """
    if n_bins < 2:
        return np.zeros((n_bins, max_diag))
    bin1, bin2 = np.asarray(bin1, np.int64), np.asarray(bin2, np.int64)
    count = np.asarray(count, np.float64)
    if params.walk_distance is not None:
        if resolution is None:
            raise ValueError("resolution is needed with walk_distance")
        width = max(max_diag, int(params.walk_distance) // int(resolution))
    elif n_bins > params.dense_max_bins:
        width = 3 * max_diag
    else:
        width = n_bins
    width = min(width, n_bins - 1)
    off = (bin1 != bin2) & (np.abs(bin1 - bin2) <= width)
    a = sp.coo_matrix((count[off], (bin1[off], bin2[off])), shape=(n_bins, n_bins)).tocsr()
    a = a + a.T
    g = _gaussian_matrix(n_bins, params.sigma)
    a = g @ a @ g
    a.setdiag(0)
    dense = n_bins <= params.dense_max_bins and width >= n_bins - 1
    if dense:
        a = a.toarray()
        colsum = a.sum(axis=0)
        a[np.arange(n_bins), np.arange(n_bins)] += colsum == 0
        p = a / a.sum(axis=0, keepdims=True)
        eye = np.eye(n_bins)
    else:
        a = _band_limit(a, width)
        colsum = np.asarray(a.sum(axis=0)).ravel()
        a = a + sp.diags((colsum == 0).astype(np.float64))
        p = (a @ sp.diags(1.0 / np.asarray(a.sum(axis=0)).ravel())).tocsr()
        eye = sp.identity(n_bins, format="csr")
    r = params.restart
    q = eye
    for _ in range(params.max_iter):
        q_new = r * eye + (1 - r) * (q @ p)
        if not dense:
            q_new = _band_limit(q_new, width)
        delta = q_new - q
        change = np.sqrt((delta.multiply(delta)).sum()) if sp.issparse(delta) else np.linalg.norm(delta)
        q = q_new
        if change < params.tol:
            break
    q = (q + q.T) / 2
    rows = np.asarray(q.sum(axis=1)).ravel()
    inv = np.zeros(n_bins)
    inv[rows > 0] = 1 / np.sqrt(rows[rows > 0])
    i = np.arange(n_bins)[:, None]
    j = np.minimum(i + np.arange(1, max_diag + 1)[None, :], n_bins - 1)
    if sp.issparse(q):
        q = q.tocsr()
        band = np.asarray(q[np.broadcast_to(i, j.shape).ravel(), j.ravel()]).reshape(j.shape)
    else:
        band = q[i, j]
    band = band * inv[i] * inv[j]
    return np.where(valid_mask(n_bins, max_diag), band, 0.0)


def decay_expected(bands: dict[str, np.ndarray]) -> np.ndarray:
    """Mean count per diagonal ``d = 1..D`` over the valid pixels of all the given bands (length ``D``)."""
    total = sum(b.sum(axis=0) for b in bands.values())
    n = sum(valid_mask(*b.shape).sum(axis=0) for b in bands.values())
    return np.divide(total, n, out=np.zeros(len(total)), where=n > 0)


def scale_to_cell(model: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """``model`` multiplied so that its band sum equals ``observed``'s (zero when either sum is zero)."""
    valid = valid_mask(*model.shape)
    model = np.where(valid, np.maximum(model, 0), 0.0)
    m, o = model.sum(), observed[valid].sum()
    return model * (o / m) if m > 0 and o > 0 else np.zeros_like(model)


# -- whole cells ----------------------------------------------------------------------------------------


class Baseline:
    """One baseline method applied to the cells of a :class:`~hicdiff.io.CellSet`.

    Parameters
    ----------
    cells : CellSet
    method : str
        One of :data:`METHODS`.
    max_distance : int
        Band width in bp (pixels ``(i, i + d)`` with ``d * resolution <= max_distance``).
    labels : Series, optional
        Cell name -> label (``pool-by-label`` only).
    rwr : RWRParams
    """

    def __init__(self, cells: CellSet, method: str, max_distance: int = 10_000_000, labels=None,
                 rwr: RWRParams = RWRParams()):
        if method not in METHODS:
            raise HicdiffError(f"unknown baseline method {method!r}; choose one of {', '.join(METHODS)}")
        if method == "pool-by-label" and labels is None:
            raise HicdiffError("pool-by-label needs cell labels", cells.source)
        self.cells, self.method, self.rwr = cells, method, rwr
        self.max_distance = int(max_distance)
        self.max_diag = max_diagonal(max_distance, cells.resolution)
        self.labels = None if labels is None else pd.Series(labels).reindex(cells.names)
        if self.labels is not None and self.labels.isna().any():
            raise HicdiffError(f"{int(self.labels.isna().sum())} cell(s) have no label", cells.source)
        self.pools = self._pools() if method in ("pool", "pool-by-label") else None

    @property
    def parameters(self) -> dict:
        p = {"max_distance": self.max_distance, "max_diagonal": self.max_diag,
             "resolution": int(self.cells.resolution),
             "scaling": "per chromosome, band sum (1 <= d <= max_diagonal) equal to the cell's observed"}
        if self.method == "rwr":
            p["rwr"] = {**asdict(self.rwr), "input": "counts, main diagonal removed, symmetrised",
                        "normalisation": "sqrt-VC of the symmetrised walk matrix"}
        if self.method == "decay":
            p["decay"] = "the cell's mean count per diagonal over all its chromosomes"
        if self.method == "pool-by-label":
            p["label_column"] = self.labels.name
            p["pool"] = "sum of the observed bands of all cells with the cell's label, the cell included"
        if self.method == "pool":
            p["pool"] = "sum of the observed bands of all cells"
        return p

    def _pools(self) -> dict:
        keys = self.labels if self.method == "pool-by-label" else pd.Series("all", index=self.cells.names)
        pools: dict = {}
        for name in self.cells:
            bands = cell_bands(self.cells, name, self.max_diag)
            pool = pools.setdefault(keys[name], {})
            for chrom, (band, _) in bands.items():
                pool[chrom] = pool[chrom] + band if chrom in pool else band
        return {name: pools[keys[name]] for name in self.cells}

    def impute(self, name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Chromosome -> ``(band, diag0)`` for one cell, on the cell's depth scale."""
        cells, dmax = self.cells, self.max_diag
        if self.method == "rwr":
            out = {}
            with blas_threads_for(cells):
                for chrom, (b1, b2, count) in cis_pixel_arrays(cells, name).items():
                    n = cells.n_bins(chrom)
                    observed = band_from_pixels(b1, b2, count, n, dmax, dtype=np.float64)
                    model = rwr_band(b1, b2, count, n, dmax, self.rwr, cells.resolution)
                    out[chrom] = (scale_to_cell(model, observed), main_diagonal(b1, b2, count, n))
            return out
        bands = cell_bands(cells, name, dmax)
        if self.method == "raw":
            return bands
        if self.method == "decay":
            expected = decay_expected({c: b for c, (b, _) in bands.items()})
            return {c: (scale_to_cell(np.broadcast_to(expected, b.shape), b), d0) for c, (b, d0) in bands.items()}
        pool = self.pools[name]
        return {c: (scale_to_cell(pool[c], b), d0) for c, (b, d0) in bands.items()}

    def pixels(self, name: str) -> pd.DataFrame:
        """One cell's imputed pixels: every band pixel (zeros included) and the observed main diagonal."""
        parts = []
        for chrom, (band, diag0) in self.impute(name).items():
            lo = self.cells.chrom_bins[chrom][0]
            parts.append(pixels_from_band(band, diag0, offset=lo, keep_zeros=True))
        b1, b2, count = (np.concatenate(x) for x in zip(*parts))
        return pd.DataFrame({"bin1_id": b1, "bin2_id": b2, "count": count.astype(np.float64)})


def run_baseline(cells, output, method: str, max_distance: int = 10_000_000, labels=None,
                 label_column: str = "cell_type", rwr: RWRParams = RWRParams(), names=None) -> pd.DataFrame:
    """Impute every cell with a baseline and write a ``.scool`` of float counts.

    Parameters
    ----------
    cells : CellSet or str
        The observed (input) cells.
    output : str
        Output ``.scool``; root and cell metadata record ``scale``, ``method`` and ``parameters``.
    method : str
        One of :data:`METHODS`.
    max_distance : int
        Band width in bp.
    labels : str or Series, optional
        For ``pool-by-label``: a TSV path with a ``label_column`` column, or a Series cell -> label;
        by default the labels stored with the cells.
    label_column : str
    rwr : RWRParams
    names : list of str, optional
        Only these cells.

    Returns
    -------
    DataFrame
        Per cell: ``seconds`` spent imputing (reading and writing excluded).
    """
    if not isinstance(cells, CellSet):
        cells = open_cells(cells)
    if names is not None:
        cells = cells.subset(names)
    if method == "pool-by-label" and not isinstance(labels, pd.Series):
        labels = cell_labels(cells, label_column, labels)
    t0 = time.perf_counter()
    baseline = Baseline(cells, method, max_distance, labels if method == "pool-by-label" else None, rwr)
    setup = time.perf_counter() - t0
    meta = {"scale": SCALE, "method": method, "parameters": baseline.parameters, "source": cells.source}
    seconds = {}
    with ScoolWriter(output, cells.bins, meta, float_counts=True, inputs=[cells.source]) as writer:
        for name in cells:
            t = time.perf_counter()
            px = baseline.pixels(name)
            seconds[name] = time.perf_counter() - t
            writer.add(name, px, cells.cell_metadata(name))
    table = pd.Series(seconds, name="seconds").rename_axis("cell").to_frame()
    log.info("%s: %d cells, %.4f s per cell (+ %.2f s pooling)", method, len(table), table["seconds"].mean(), setup)
    return table
