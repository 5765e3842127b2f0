"""Balancing weights of one cell's map, so that cooltools reads hicdiff's output as is.

Every cell hicdiff writes carries a ``weight`` column in its bins: the iterative correction (ICE) of that
cell's own map, with cooler's algorithm and defaults (``cooler balance --cis-only``: each chromosome on its own, the first 2 diagonals
ignored, bins with fewer than 10 nonzero pixels or a marginal more than 5 MADs below the median masked as
NaN, rows of the balanced map summing to 1). :func:`balance_weights` computes it from the pixels in memory
at write time instead of calling :func:`cooler.balance_cooler` on the written cell: the same numbers
(``tests/test_compartments.py`` compares them), but ``balance_cooler`` re-reads the pixels from the file on
every iteration, several times the cost of writing the cell.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Parameters of :func:`balance_weights`, the defaults of :func:`cooler.balance_cooler`.
DEFAULTS = {"ignore_diags": 2, "min_nnz": 10, "mad_max": 5, "tol": 1e-5, "max_iters": 200}


def _marginal(i, j, v, n, diag) -> np.ndarray:
    """Row sums of the symmetric map of upper-triangle pixels (``v`` None: nonzero pixels); ``diag`` marks the
    main-diagonal pixels, which count once. Without copies of the pixel arrays (10 kb maps hold 10^7 pixels)."""
    total = np.bincount(i, weights=v, minlength=n) + np.bincount(j, weights=v, minlength=n)
    return total - np.bincount(i[diag], weights=None if v is None else v[diag], minlength=n)


def balance_weights(bin1, bin2, count, chrom_offsets, ignore_diags: int = 2, min_nnz: int = 10,
                    mad_max: float = 5, tol: float = 1e-5, max_iters: int = 200,
                    cis_only: bool = False) -> tuple[np.ndarray, dict]:
    """ICE weights of one map given as upper-triangle pixels (what ``cooler.balance_cooler`` computes).

    Parameters
    ----------
    bin1, bin2 : array of int
        Genome-wide bin ids of the pixels, ``bin1 <= bin2``.
    count : array
        Pixel values (counts or imputed floats).
    chrom_offsets : array of int
        First bin of each chromosome, then the number of bins (``len = n_chroms + 1``).
    ignore_diags, min_nnz, mad_max, tol, max_iters, cis_only
        As in :func:`cooler.balance_cooler`. ``cis_only``: trans pixels dropped, then each chromosome
        balanced on its own (its own scale and convergence; ``var`` and ``iterations`` the largest).

    Returns
    -------
    weights : ndarray, shape (n_bins,)
        Multiplicative weights (balanced = count x w[bin1] x w[bin2]); NaN at masked bins.
    stats : dict
        ``converged``, ``iterations``, ``var`` (of the last marginals), ``scale`` (their mean before the
        rescaling), ``masked_bins``.
    """
    offsets = np.asarray(chrom_offsets, dtype=np.int64)
    n = int(offsets[-1])
    i, j, v = np.asarray(bin1), np.asarray(bin2), np.asarray(count)
    keep = (j - i >= ignore_diags) & (v != 0)
    if cis_only:
        chrom_of = np.searchsorted(offsets, np.arange(n), side="right") - 1
        keep &= chrom_of[np.asarray(i)] == chrom_of[np.asarray(j)]
    # bin ids as int32 (a genome has fewer than 2^31 bins): half the memory of the kept pixels
    i, j, v = i.astype(np.int32)[keep], j.astype(np.int32)[keep], v[keep].astype(np.float64)
    del keep
    diag = np.flatnonzero(i == j)
    bias = np.ones(n)
    if min_nnz > 0:
        bias[_marginal(i, j, None, n, diag) < min_nnz] = 0
    if mad_max > 0:
        marg = _marginal(i, j, v, n, diag)
        for lo, hi in zip(offsets[:-1], offsets[1:]):
            chrom = marg[lo:hi]
            if (chrom > 0).any():
                marg[lo:hi] = chrom / np.median(chrom[chrom > 0])
        log_marg = np.log(marg[marg > 0])
        if len(log_marg):
            med = np.median(log_marg)
            bias[marg < np.exp(med - mad_max * np.median(np.abs(log_marg - med)))] = 0
    # the upper triangle only: the symmetric map's product is upper @ b + upper.T @ b - its diagonal * b;
    # pixels sorted by bin1 (as a cooler stores them) are rows already, and the arrays become the matrix's own
    if len(i) < 2 or np.all(i[1:] >= i[:-1]):
        # indptr of the indices' dtype, else scipy casts the indices to int64
        indptr = np.r_[0, np.cumsum(np.bincount(i, minlength=n))].astype(np.int32 if len(v) < 2**31 else np.int64)
        upper = sp.csr_matrix((v, j, indptr), shape=(n, n))
    else:
        upper = sp.csr_matrix((v, (i, j)), shape=(n, n))
    del i, j, v
    spans = list(zip(offsets[:-1], offsets[1:])) if cis_only else [(0, n)]
    parts = []
    for lo, hi in spans:
        block = upper[lo:hi, lo:hi] if cis_only else upper
        parts += [_iterate(block[idx][:, idx], sub, tol, max_iters, bias, lo + idx)
                  for idx, sub in _components(block, bias[lo:hi], cis_only)]
    finite = [p[1] for p in parts if np.isfinite(p[1])]
    bias[bias == 0] = np.nan
    stats = {"converged": all(p[2] for p in parts), "iterations": max((p[3] for p in parts), default=0),
             "var": max((p[0] for p in parts), default=0.0), "scale": float(np.mean(finite)) if finite else float("nan"),
             "masked_bins": int(np.isnan(bias).sum())}
    return bias, stats


def _components(block, bias, split: bool):
    """``(bins, their bias)`` of each connected part of a chromosome's map among its unmasked bins (``split``),
    else the whole block. A band-limited map is cut in two by any gap wider than its band (a centromere at
    100 kb with a 3.2 Mb band): ICE of disconnected parts with one normalisation never converges (their
    levels drift apart), so each part is balanced on its own."""
    from scipy.sparse.csgraph import connected_components

    if not split:
        return [(np.arange(block.shape[0]), bias.copy())]
    live = np.flatnonzero(bias > 0)
    if not len(live):
        return []
    _, label = connected_components(block[live][:, live], directed=False)
    return [(live[label == k], bias[live[label == k]].copy()) for k in range(label.max() + 1)]


def _iterate(upper, bias, tol, max_iters, out=None, at=None):
    """ICE on one matrix (upper triangle, CSR) from ``bias`` (updated in place, then rescaled so that rows
    of the balanced map sum to 1; written to ``out[at]`` when given): ``(var, scale, converged,
    iterations)``."""
    diagonal = upper.diagonal()
    lower = upper.T     # a CSC view of the same arrays, made once (building it costs more than the product)
    var, scale, converged, it = 0.0, np.nan, False, 0
    for it in range(1, max_iters + 1):
        marg = bias * (upper @ bias + lower @ bias - diagonal * bias)
        nonzero = marg[marg != 0]
        if not len(nonzero):
            bias[:], scale, converged = 0, np.nan, True
            break
        scale = nonzero.mean()
        marg = marg / scale
        marg[marg == 0] = 1
        bias /= marg
        var = float(nonzero.var())
        if var < tol:
            converged = True
            break
    if np.isfinite(scale):
        bias /= np.sqrt(scale)
    if out is not None:
        out[at] = bias
    return var, float(scale), converged, it


#: What the ``weight`` column is, in the file's and every cell's metadata.
WEIGHT_NOTE = {
    "what": "iterative correction (ICE) of this cell's map as written, each chromosome's cis map on its own "
            "(cooler balance --cis-only), cooler balance's algorithm "
            "and defaults; balanced value = count * weight[bin1] * weight[bin2]; rows of each chromosome's balanced "
            "cis map sum to 1",
    "masked": f"NaN weight = masked bin: fewer than {DEFAULTS['min_nnz']} nonzero pixels, or a marginal more than "
              f"{DEFAULTS['mad_max']} MADs (of log marginals) below the median; the first "
              f"{DEFAULTS['ignore_diags']} diagonals are ignored",
    **DEFAULTS,
}


def chrom_offsets(bins) -> np.ndarray:
    """First bin of each chromosome of a bin table, then the number of bins."""
    chrom = bins["chrom"].to_numpy()
    return np.r_[np.flatnonzero(np.r_[True, chrom[1:] != chrom[:-1]]), len(chrom)]


def cell_weights(pixels, offsets) -> tuple[np.ndarray, dict]:
    """Weights of one cell's pixels (``bin1_id``, ``bin2_id``, ``count``) and the cell's ``weight`` metadata
    (:data:`WEIGHT_NOTE` plus the balancing's stats): each chromosome balanced on its own. A cis-only map (what
    hicdiff imputes) is block-diagonal, and genome-wide ICE of it does not converge (its marginals' variance
    grew without bound on imputed lee2019 cells); cis analyses (compartments, insulation) need only cis
    weights."""
    weights, stats = balance_weights(pixels["bin1_id"].to_numpy(), pixels["bin2_id"].to_numpy(),
                                     pixels["count"].to_numpy(), offsets, **DEFAULTS, cis_only=True)
    return weights, {**WEIGHT_NOTE, **stats}


def weight_attrs(meta: dict) -> dict:
    """The attributes ``cooler balance`` stores on a ``weight`` dataset (cooltools reads ``ignore_diags``
    from them), from a cell's ``weight`` metadata."""
    keys = ("ignore_diags", "min_nnz", "mad_max", "tol", "max_iters", "converged", "var", "scale")
    return {**{k: meta[k] for k in keys}, "cis_only": True, "divisive_weights": False}
