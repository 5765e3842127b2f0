"""Evaluation metrics as functions of band grids and plain arrays.

Every map here is one chromosome in band form: an ``(N, D)`` grid whose row ``i``, column ``d - 1`` holds
pixel ``(i, i + d)`` (see :mod:`hicdiff.band`); entries beyond the chromosome's end are ignored. The main
diagonal never enters a metric. ``docs/evaluation.md`` states every definition and parameter.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks
from scipy.stats import rankdata

from hicdiff.band import valid_mask

#: Pseudo-count of the held-out score: f = FLOOR x mean of the map on the diagonal (or band) + TINY.
FLOOR = 1e-3
TINY = 1e-12


# -- held-out log-likelihood ------------------------------------------------------------------------------


def heldout_gain(model: np.ndarray, heldout: np.ndarray, pixels: np.ndarray | None = None
                 ) -> tuple[float, float, float]:
    """Held-out log-likelihood gain of one chromosome, in bits (sums, not yet per contact).

    Parameters
    ----------
    model : array ``(N, D)``
        Imputed map (any scale; negative values count as zero).
    heldout : array ``(N, D)``
        Held-out counts of the same pixels.
    pixels : bool array ``(N, D)``, optional
        Score only these pixels (the masked pixels of an infilling check): each diagonal is normalised over
        its pixels among them (``n_d`` of them), the joint score over all of them.

    Returns
    -------
    diagonal_gain : float
        ``sum h log2 p - sum h log2 (1 / n_d)`` with ``p`` normalised within each diagonal ``d`` over its
        ``n_d = N - d`` pixels and ``f = 1e-3 x mean of the model on the diagonal + 1e-12`` added to every
        pixel first (DESIGN §5, pinned).
    joint_gain : float
        The same with ``p`` normalised over the chromosome's whole band (``f`` from the band's mean) minus
        a flat map's score ``p = 1 / number of band pixels``.
    contacts : float
        Held-out contacts in the band (the denominator of the per-contact score).
    """
    n, dmax = model.shape
    valid = valid_mask(n, dmax)
    if pixels is not None:
        valid &= pixels
    m = np.where(valid, np.maximum(model, 0.0), 0.0)
    h = np.where(valid, heldout, 0.0)
    n_d = valid.sum(axis=0)
    total = h.sum()
    if total == 0 or n_d.sum() == 0:
        return 0.0, 0.0, float(total)
    safe_n = np.maximum(n_d, 1)
    f = FLOOR * m.sum(axis=0) / safe_n + TINY
    p = (m + f) / (m.sum(axis=0) + f * safe_n)
    diagonal = float(np.sum(h * np.log2(np.where(valid, p * safe_n, 1.0))))
    n_band = n_d.sum()
    f = FLOOR * m.sum() / n_band + TINY
    p = (m + f) / (m.sum() + f * n_band)
    joint = float(np.sum(h * np.log2(np.where(valid, p * n_band, 1.0))))
    return diagonal, joint, float(total)


# -- stratum-adjusted correlation (HiCRep) -----------------------------------------------------------------


def smooth_band(band: np.ndarray, h: int, max_diag: int | None = None) -> np.ndarray:
    """2D mean filter of half-width ``h`` bins applied to the symmetric map, returned in band form.

    Pixel ``(i, j)`` becomes the mean of the ``(2h + 1)^2`` pixels ``(i + a, j + b)``, ``|a|, |b| <= h``;
    pixels outside the chromosome, on the main diagonal or beyond the input band count as zero (HiCRep's
    zero padding, without the main diagonal). For exact values up to ``max_diag`` the input band must
    reach ``max_diag + 2h`` diagonals.
    """
    n, dext = band.shape
    max_diag = dext if max_diag is None else max_diag
    if h == 0:
        return np.where(valid_mask(n, max_diag), band[:, :max_diag], 0.0)
    i = np.arange(n)[:, None]
    d = np.arange(1, max_diag + 1)[None, :]
    acc = np.zeros((n, max_diag))
    for a in range(-h, h + 1):
        for b in range(-h, h + 1):
            x, y = i + a, i + d + b
            lo, dist = np.minimum(x, y), np.abs(y - x)
            ok = (lo >= 0) & (np.maximum(x, y) < n) & (dist >= 1) & (dist <= dext)
            acc[ok] += band[lo[ok], dist[ok] - 1]
    return np.where(valid_mask(n, max_diag), acc / (2 * h + 1) ** 2, 0.0)


def stratum_values(x: np.ndarray, y: np.ndarray, bad: np.ndarray | None = None):
    """Per diagonal ``d = 1..D``: the pairs of values of two band maps that enter stratum ``d``.

    Pixels beyond the chromosome, touching a bad bin, or zero in both maps are left out.
    """
    n, dmax = x.shape
    keep = valid_mask(n, dmax) & ((x != 0) | (y != 0))
    if bad is not None and bad.any():
        i = np.arange(n)[:, None]
        j = np.minimum(i + np.arange(1, dmax + 1)[None, :], n - 1)
        keep &= ~bad[i] & ~bad[j]
    return [(x[keep[:, k], k], y[keep[:, k], k]) for k in range(dmax)]


def scc(strata) -> tuple[float, np.ndarray, np.ndarray]:
    """Stratum-adjusted correlation coefficient (Yang et al. 2017) from per-stratum value pairs.

    Parameters
    ----------
    strata : list of ``(x, y)`` array pairs, one per distance stratum (pool chromosomes by concatenating).

    Returns
    -------
    scc : float
        ``sum_k w_k rho_k / sum_k w_k`` over strata with a defined Pearson ``rho_k``, ``w_k = N_k r2k``,
        ``r2k = sqrt(var(rank(x) / N_k) var(rank(y) / N_k))``; NaN when no stratum qualifies.
    rho : array
        Pearson correlation per stratum (NaN where undefined: fewer than 3 pixels or a constant map).
    weight : array
        ``w_k`` per stratum (0 where ``rho`` is undefined).
    """
    rho = np.full(len(strata), np.nan)
    weight = np.zeros(len(strata))
    for k, (x, y) in enumerate(strata):
        nk = len(x)
        if nk < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        rho[k] = np.corrcoef(x, y)[0, 1]
        weight[k] = nk * np.sqrt(np.var(rankdata(x) / nk) * np.var(rankdata(y) / nk))
    if weight.sum() == 0:
        return np.nan, rho, weight
    return float(np.nansum(rho * weight) / weight.sum()), rho, weight


def concat_strata(per_chrom):
    """Pool per-chromosome strata (lists from :func:`stratum_values`) into one list, stratum by stratum."""
    per_chrom = list(per_chrom)
    if not per_chrom:
        return []
    depth = max(len(s) for s in per_chrom)
    out = []
    for k in range(depth):
        xs = [s[k][0] for s in per_chrom if k < len(s)]
        ys = [s[k][1] for s in per_chrom if k < len(s)]
        out.append((np.concatenate(xs), np.concatenate(ys)))
    return out


# -- compartments -----------------------------------------------------------------------------------------


def coverage_bad_bins(band: np.ndarray) -> np.ndarray:
    """Bins without any contact in the band (their row and column are empty)."""
    n, dmax = band.shape
    cov = band.sum(axis=1)
    i, k = np.nonzero(valid_mask(n, dmax) & (band != 0))
    np.add.at(cov, i + k + 1, band[i, k])
    return cov <= 0


def aligned_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two eigenvectors over bins finite in both, after flipping ``x``'s sign to
    agree with ``y`` (so the result is ``|r|``: compare methods with each other, not with zero)."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return np.nan
    return float(abs(np.corrcoef(x[ok], y[ok])[0, 1]))


# -- insulation and boundaries ---------------------------------------------------------------------------


def insulation(band: np.ndarray, window: int) -> np.ndarray:
    """Insulation score: log2 of the mean contact in the diamond of ``window`` bins either side of each
    bin boundary, over its chromosome mean; NaN where the diamond leaves the chromosome or is empty.

    Bin ``i``'s diamond holds pixels ``(x, y)`` with ``i - window < x <= i < y <= i + window`` (diagonals
    1 to ``2 window - 1``, so the band must reach ``2 window - 1``).
    """
    n, dmax = band.shape
    if dmax < 2 * window - 1:
        raise ValueError(f"insulation window {window} needs {2 * window - 1} diagonals, the band has {dmax}")
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(band, axis=1)], axis=1)
    score = np.zeros(n)
    for off in range(window):
        x = np.arange(n) - off
        ok = x >= 0
        # pixels (x, y) with y in i+1..i+window: diagonals off+1 .. off+window
        score[ok] += csum[x[ok], off + window] - csum[x[ok], off]
    score /= window * window
    i = np.arange(n)
    score[(i - window + 1 < 0) | (i + window >= n)] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.nanmean(score) if np.isfinite(score).any() else np.nan
        out = np.log2(score / mean)
    out[~np.isfinite(out)] = np.nan
    return out


def boundaries(score: np.ndarray, prominence: float = 0.1) -> np.ndarray:
    """Bins at local minima of an insulation profile with at least ``prominence`` (log2 units)."""
    x = np.where(np.isfinite(score), -score, np.nanmin(-score) if np.isfinite(score).any() else 0.0)
    peaks, _ = find_peaks(x, prominence=prominence)
    return peaks[np.isfinite(score[peaks])]


def boundary_matches(found: np.ndarray, truth: np.ndarray, tolerance: int = 1) -> int:
    """Number of one-to-one matches between boundary calls and reference calls within ``tolerance`` bins
    (greedy, each call matched to the nearest unused reference call)."""
    used = np.zeros(len(truth), bool)
    truth = np.asarray(truth)
    hits = 0
    for b in np.sort(found):
        cand = np.flatnonzero(~used & (np.abs(truth - b) <= tolerance))
        if len(cand):
            used[cand[np.argmin(np.abs(truth[cand] - b))]] = True
            hits += 1
    return hits


def f1_score(hits: int, found: int, truth: int) -> float:
    """F1 from matches and the numbers of calls (NaN when there are no calls at all)."""
    if found + truth == 0:
        return np.nan
    return 2 * hits / (found + truth)


def boundary_f1(found: np.ndarray, truth: np.ndarray, tolerance: int = 1) -> float:
    """F1 of boundary calls against reference calls, one-to-one matches within ``tolerance`` bins."""
    return f1_score(boundary_matches(found, truth, tolerance), len(found), len(truth))


def finite_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation over entries finite in both (NaN with fewer than 3 or a constant vector)."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return np.nan
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


# -- contact probability ---------------------------------------------------------------------------------


def contact_sums(band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per diagonal: sum of the map over valid pixels, and the number of valid pixels."""
    valid = valid_mask(*band.shape)
    return np.where(valid, band, 0.0).sum(axis=0), valid.sum(axis=0)


def contact_probability(sums: np.ndarray, npix: np.ndarray) -> np.ndarray:
    """P(s): mean contact per pixel at each distance over the total contacts of the band (so that
    ``sum_d P(d) n_d = 1``); NaN where no pixel or no contact."""
    total = sums.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = sums / npix / total
    return np.where((npix > 0) & (total > 0), p, np.nan)


# -- cell-type separation ---------------------------------------------------------------------------------


def band_features(bands: dict[str, np.ndarray]) -> np.ndarray:
    """Feature vector of one cell: ``log2(1 + O/E)`` of every band pixel, chromosomes concatenated.

    ``O/E`` divides each pixel by the cell's mean count on its diagonal over all chromosomes, which
    removes depth and the distance decay.
    """
    sums = sum(contact_sums(b)[0] for b in bands.values())
    npix = sum(contact_sums(b)[1] for b in bands.values())
    expected = np.divide(sums, npix, out=np.zeros_like(sums), where=npix > 0)
    parts = []
    for b in bands.values():
        valid = valid_mask(*b.shape)
        oe = np.divide(b, expected, out=np.zeros_like(b), where=expected > 0)
        parts.append(np.log2(1 + np.maximum(oe[valid], 0)))
    return np.concatenate(parts).astype(np.float32)


def separation(features: np.ndarray, labels, n_components: int = 20, k_neighbors: int = 5,
               seed: int = 0) -> dict:
    """Cell-type separation: ARI of k-means on a PCA of the features, and leave-one-out kNN accuracy.

    Parameters
    ----------
    features : array ``(cells, features)``
    labels : array of str, one per cell
    n_components : int
        PCA components (at most cells - 1); features are centred, not scaled.
    k_neighbors : int
        Neighbours of the kNN vote (Euclidean in PCA space, the cell itself excluded, ties -> the nearest).
    seed : int
        Random state of PCA and k-means (``k`` = number of labels, 10 restarts).

    Returns
    -------
    dict with ``ari``, ``knn_accuracy`` and ``embedding`` (cells x components).
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score

    labels = np.asarray(labels)
    n = len(labels)
    classes = np.unique(labels)
    if n < 3 or len(classes) < 2:
        return {"ari": np.nan, "knn_accuracy": np.nan, "embedding": np.zeros((n, 2))}
    comps = max(2, min(n_components, n - 1, features.shape[1]))
    emb = PCA(n_components=comps, random_state=seed).fit_transform(features - features.mean(axis=0))
    clusters = KMeans(n_clusters=len(classes), n_init=10, random_state=seed).fit_predict(emb)
    ari = adjusted_rand_score(labels, clusters)
    dist = ((emb[:, None, :] - emb[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    k = min(k_neighbors, n - 1)
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
    correct = 0
    for c in range(n):
        votes = labels[nearest[c]]
        values, counts = np.unique(votes, return_counts=True)
        top = values[counts == counts.max()]
        # tie: the label of the nearest neighbour among the tied labels
        pred = next(v for v in votes if v in top)
        correct += pred == labels[c]
    return {"ari": float(ari), "knn_accuracy": correct / n, "embedding": emb}
