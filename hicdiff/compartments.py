"""Compartment eigenvectors (E1) of single cells, on cooltools.

:func:`compartments` runs :func:`cooltools.eigs_cis` on every cell of a ``.scool`` (hicdiff writes a
``weight`` column into every cell, :mod:`hicdiff.balance`) and phases each chromosome's E1 by a per-bin track
(GC content, gene density) or by a bulk map's E1, so that the A compartment is positive. :func:`band_e1`
is the same computation on a band grid in memory (cooltools' :func:`~cooltools.api.eigdecomp.cis_eig` after
the same balancing): :mod:`hicdiff.evaluate` scores compartments with it.

What cooltools does not do, and is done here: tracks at another resolution or with other chromosome names
are put on the cells' bins (:func:`track_on_bins`: overlap-weighted mean, names matched as ``chr1`` / ``1``);
a bulk cooler without weights is balanced in a temporary copy; a bulk E1 without a track to phase it is
oriented by the bulk's coverage (:func:`reference_e1`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings

import bioframe
import cooler
import numpy as np
import pandas as pd

from hicdiff.balance import DEFAULTS, balance_weights
from hicdiff.band import valid_mask
from hicdiff.chroms import ChromMatcher
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet, open_cells

log = logging.getLogger(__name__)

#: cooltools.eigs_cis parameters used everywhere (its defaults; ignore_diags as in the balancing).
EIG_PARAMS = {"ignore_diags": DEFAULTS["ignore_diags"], "clip_percentile": 99.9}


def band_e1(band: np.ndarray, bad: np.ndarray | None = None) -> np.ndarray:
    """E1 of one chromosome given as a band grid: the balancing of :mod:`hicdiff.balance`, then
    cooltools' ``cis_eig`` (what :func:`cooltools.eigs_cis` computes on a cell hicdiff wrote).

    Parameters
    ----------
    band : ndarray, shape (N, D)
        Pixel ``(i, i + d)`` at ``[i, d - 1]``; the whole chromosome when ``D = N - 1`` (compartments live
        at long range; a shorter band gives the E1 of the band alone).
    bad : ndarray of bool, shape (N,), optional
        Bins to mask besides those the balancing masks.

    Returns
    -------
    ndarray, shape (N,)
        E1 scaled by the square root of its eigenvalue (as cooltools); NaN at masked bins; sign arbitrary.
    """
    from cooltools.api.eigdecomp import cis_eig

    n, dmax = band.shape
    i, k = np.nonzero(valid_mask(n, dmax) & (band != 0))
    j = i + k + 1
    values = band[i, k]
    weights, _ = balance_weights(i, j, values, [0, n], **DEFAULTS)
    if bad is not None:
        weights[bad] = np.nan
    matrix = np.zeros((n, n))
    matrix[i, j] = values * weights[i] * weights[j]
    matrix[j, i] = matrix[i, j]
    matrix[~np.isfinite(matrix)] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _, vecs = cis_eig(matrix, n_eigs=1, **EIG_PARAMS)
    e1 = vecs[0]
    e1[~np.isfinite(weights)] = np.nan
    return e1


# -- tracks ----------------------------------------------------------------------------------------------


def read_track(path) -> pd.DataFrame:
    """A per-bin track: tab-separated ``chrom start end value`` (bedGraph-like; ``#`` / ``track`` lines and
    a header line are skipped)."""
    path = str(path)
    if not os.path.exists(path):
        raise HicdiffError("no such file (phasing track)", path)
    rows = pd.read_csv(path, sep="\t", header=None, comment="#", dtype=str)
    rows = rows[~rows[0].str.startswith(("track", "browser"))]
    if rows.shape[1] < 4:
        raise HicdiffError("expected tab-separated columns chrom, start, end, value", path)
    track = rows.iloc[:, :4].set_axis(["chrom", "start", "end", "value"], axis=1)
    numeric = track[["start", "end", "value"]].apply(pd.to_numeric, errors="coerce")
    if numeric[["start", "end"]].iloc[0].isna().any():  # a header line
        track, numeric = track.iloc[1:], numeric.iloc[1:]
    if numeric[["start", "end"]].isna().any().any():
        raise HicdiffError("start and end must be integers", path)
    return pd.DataFrame({"chrom": track["chrom"].to_numpy(), "start": numeric["start"].to_numpy(np.int64),
                         "end": numeric["end"].to_numpy(np.int64), "value": numeric["value"].to_numpy(float)})


def track_on_bins(track: pd.DataFrame, bins: pd.DataFrame) -> pd.DataFrame:
    """Put a track on a bin table: each bin gets the mean of the track values overlapping it, weighted by
    the overlap in bp (NaN where nothing overlaps); track chromosomes are renamed to the bins' (``chr1`` /
    ``1``, :class:`hicdiff.chroms.ChromMatcher`).

    Returns ``chrom, start, end, value`` with the rows of ``bins``.
    """
    matcher = ChromMatcher(list(dict.fromkeys(bins["chrom"].astype(str))))
    t = track.assign(chrom=[matcher.match(str(c)) for c in track["chrom"]]).dropna(subset=["chrom", "value"])
    b = bins[["chrom", "start", "end"]].reset_index(drop=True).assign(chrom=lambda x: x["chrom"].astype(str))
    value = np.full(len(b), np.nan)
    if len(t):
        hits = bioframe.overlap(b.assign(row=np.arange(len(b))), t, how="inner", suffixes=("", "_t"))
        bp = (np.minimum(hits["end"], hits["end_t"]) - np.maximum(hits["start"], hits["start_t"])).to_numpy(float)
        row = hits["row"].to_numpy(np.int64)
        total = np.bincount(row, weights=bp, minlength=len(b))
        weighted = np.bincount(row, weights=bp * hits["value_t"].to_numpy(float), minlength=len(b))
        value = np.divide(weighted, total, out=value, where=total > 0)
    return b.assign(value=value)


def _open_balanced(uri: str, resolution: int, tmp: str) -> cooler.Cooler:
    """The bulk cooler, balanced: as is when it has weights, else balanced into a copy under ``tmp``."""
    from hicdiff.references import open_reference_cooler

    clr = open_reference_cooler(uri, resolution)
    if "weight" in clr.bins().columns:
        return clr
    log.info("%s has no weights: balancing a temporary copy", uri)
    copy = os.path.join(tmp, "reference.cool")
    cooler.fileops.cp(f"{clr.filename}::{clr.root}", copy)
    clr = cooler.Cooler(copy)
    cooler.balance_cooler(clr, store=True)
    return clr


def reference_e1(uri, bins: pd.DataFrame, track: pd.DataFrame | None = None) -> pd.DataFrame:
    """E1 of a bulk cooler (:func:`cooltools.eigs_cis`) on the cells' ``bins``, as a phasing track.

    The bulk's own E1 is phased by ``track`` when given; without one, each chromosome's E1 is oriented to
    correlate positively with the bulk's coverage (raw contacts per bin), which is higher in the open, gene
    dense A compartment (a heuristic: check it with a GC or gene track where A and B matter). The bulk may
    be at another resolution than the cells (its E1 is put on their bins by :func:`track_on_bins`); an
    ``.mcool`` gives its finest resolution that divides the cells'. Input files are never modified.

    Returns
    -------
    DataFrame
        ``chrom, start, end, value`` on ``bins``.
    """
    import cooltools

    resolution = int((bins["end"] - bins["start"]).max())
    with tempfile.TemporaryDirectory() as tmp:
        clr = _open_balanced(str(uri), resolution, tmp)
        mine = set(bins["chrom"].astype(str))
        matcher = ChromMatcher(list(mine))
        chroms = [c for c in clr.chromnames if matcher.match(c) is not None
                  and clr.chromsizes[c] > (EIG_PARAMS["ignore_diags"] + 3) * clr.binsize]
        if not chroms:
            raise HicdiffError(f"no chromosome matches the cells' ({', '.join(sorted(mine)[:4])} ...)", str(uri))
        view = pd.DataFrame({"chrom": chroms, "start": 0, "end": [int(clr.chromsizes[c]) for c in chroms],
                             "name": chroms})
        own_bins = clr.bins()[["chrom", "start", "end"]][:]
        if track is not None:
            phasing = track_on_bins(track, own_bins.assign(chrom=own_bins["chrom"].astype(str)))
            phasing["chrom"] = own_bins["chrom"].to_numpy()
            covered = set(phasing.loc[phasing["value"].notna(), "chrom"])
            view = view[view["chrom"].isin(covered)]
            if not len(view):
                raise HicdiffError("the phasing track covers none of the reference's chromosomes", str(uri))
            _, vecs = cooltools.eigs_cis(clr, phasing_track=phasing, view_df=view, n_eigs=1, **EIG_PARAMS)
        else:
            _, vecs = cooltools.eigs_cis(clr, view_df=view, n_eigs=1, **EIG_PARAMS)
            px = clr.pixels()[:]
            n = len(own_bins)
            coverage = (np.bincount(px["bin1_id"], weights=px["count"], minlength=n)
                        + np.bincount(px["bin2_id"], weights=px["count"], minlength=n))
            vecs = vecs.assign(coverage=coverage[vecs.index.to_numpy()])
            for c, rows in vecs.groupby("chrom", observed=True, sort=False):
                ok = rows["E1"].notna()
                if ok.sum() > 2 and np.corrcoef(rows["E1"][ok], rows["coverage"][ok])[0, 1] < 0:
                    vecs.loc[rows.index, "E1"] *= -1
    e1 = vecs[["chrom", "start", "end", "E1"]].rename(columns={"E1": "value"})
    e1["chrom"] = e1["chrom"].astype(str)
    return track_on_bins(e1, bins)


def phasing_track(phasing, bins: pd.DataFrame, reference_phasing=None) -> tuple[pd.DataFrame | None, str]:
    """The phasing track on ``bins`` from a track TSV, a bulk cooler (its E1) or a DataFrame, and what it is."""
    if phasing is None:
        return None, "none (sign of E1 arbitrary per chromosome)"
    if isinstance(phasing, pd.DataFrame):
        return track_on_bins(phasing, bins), "track"
    path = str(phasing).split("::")[0]
    if os.path.exists(path) and (cooler.fileops.is_cooler(path) or cooler.fileops.is_multires_file(path)):
        track = read_track(reference_phasing) if reference_phasing is not None else None
        how = f"track {reference_phasing}" if track is not None else "coverage"
        return reference_e1(phasing, bins, track), f"E1 of {phasing} (itself oriented by {how})"
    return track_on_bins(read_track(phasing), bins), f"track {phasing}"


def compartments(cells, phasing=None, names=None, chroms=None, reference_phasing=None) -> pd.DataFrame:
    """Per-cell compartment eigenvector E1 per bin (:func:`cooltools.eigs_cis` on each cell).

    Parameters
    ----------
    cells : CellSet or str
        Cells with a ``weight`` column (every ``.scool`` hicdiff writes has one; ``cooler balance`` adds one
        to other files).
    phasing : str or DataFrame, optional
        Orients each chromosome's E1 so that it correlates positively with: a per-bin track (TSV
        ``chrom start end value``, e.g. GC content or gene density; any resolution), or a bulk ``.cool`` /
        ``.mcool`` (its own E1; see :func:`reference_e1`). Chromosomes the track does not cover are left
        out. Without phasing the sign of each chromosome's E1 is arbitrary.
    names : list of str, optional
        Only these cells.
    chroms : list of str, optional
        Only these chromosomes (default: every chromosome long enough for an eigenvector).
    reference_phasing : str, optional
        Track phasing the bulk's own E1 when ``phasing`` is a cooler (default: its coverage).

    Returns
    -------
    DataFrame
        ``cell, chrom, start, end, E1`` (one row per cell and bin; NaN at masked bins); ``attrs["phasing"]``
        says how E1 was oriented.
    """
    import cooltools

    cells = cells if isinstance(cells, CellSet) else open_cells(cells)
    if names is not None:
        cells = cells.subset(names)
    track, how = phasing_track(phasing, cells.bins, reference_phasing)
    chroms = _chromosomes(cells, chroms, track)
    view = pd.DataFrame({"chrom": chroms, "start": 0, "end": [int(cells.chromsizes[c]) for c in chroms],
                         "name": chroms})
    rows = []
    for name, uri in cells.uris.items():
        clr = cooler.Cooler(uri)
        if "weight" not in clr.bins().columns:
            raise HicdiffError("cells have no 'weight' column: write them with hicdiff or run cooler balance", uri)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                _, vecs = cooltools.eigs_cis(clr, phasing_track=track, view_df=view, n_eigs=1, **EIG_PARAMS)
            except ValueError as e:  # no bin of the cell has both a weight and a track value
                log.warning("cell %s: no E1 (%s)", name, e)
                vecs = _empty_e1(clr, view)
        rows.append(vecs[["chrom", "start", "end", "E1"]].assign(cell=name))
    out = pd.concat(rows, ignore_index=True)[["cell", "chrom", "start", "end", "E1"]]
    out["chrom"] = out["chrom"].astype(str)
    out.attrs["phasing"] = how
    return out


def _chromosomes(cells: CellSet, chroms, track) -> list[str]:
    long_enough = [c for c in cells.chromnames if cells.n_bins(c) > EIG_PARAMS["ignore_diags"] + 3]
    if chroms is not None:
        unknown = sorted(set(chroms) - set(cells.chromnames))
        if unknown:
            raise HicdiffError(f"chromosome(s) {', '.join(unknown)} not in the cells", cells.source)
        long_enough = [c for c in long_enough if c in set(chroms)]
    if track is not None:
        covered = set(track.loc[track["value"].notna(), "chrom"])
        skipped = [c for c in long_enough if c not in covered]
        if skipped:
            log.info("no phasing values on %s: left out", ", ".join(skipped))
        long_enough = [c for c in long_enough if c in covered]
    if not long_enough:
        raise HicdiffError("no chromosome to compute compartments on", cells.source)
    return long_enough


def _empty_e1(clr, view) -> pd.DataFrame:
    bins = clr.bins()[["chrom", "start", "end"]][:]
    return bins[bins["chrom"].isin(view["chrom"])].assign(E1=np.nan)
