"""References for evaluation: the maps imputed cells are compared with, and maps at a resolution.

Three kinds of reference with one interface (``for_cell(name, view)``, ``groups(names)``, ``chroms``,
``resolution``, ``describe()``):

- :class:`CoolerReference`: one bulk ``.cool`` / ``.mcool`` for every cell;
- :class:`LabelReference`: one bulk cooler per label (``--reference-by-label``);
- :class:`PooledCellsReference`: pseudo-bulk of raw cells (``--reference-cells``): a cell's reference is the
  sum of the OTHER raw cells of its label (leave-one-out); pooled imputed cells are compared across two
  folds (the imputed cells of one half of a label against the raw cells of the other half, and back).

Maps are compared at a common resolution, the coarser of the cells' and the reference's (one must divide
the other); maps are coarsened by summing pixels (:func:`tables_to_bands`).
"""

from __future__ import annotations

import os
from pathlib import Path

import cooler
import numpy as np
import pandas as pd

from hicdiff import metrics
from hicdiff._cellmaps import cis_pixel_arrays
from hicdiff.band import band_from_pixels
from hicdiff.chroms import ChromMatcher
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet

# -- maps at a resolution ---------------------------------------------------------------------------------


def common_resolution(res_a: int, res_b: int, what=None) -> int:
    """The coarser of two resolutions, which must be a multiple of the finer."""
    lo, hi = sorted((int(res_a), int(res_b)))
    if hi % lo:
        raise HicdiffError(
            f"resolutions {res_a} bp and {res_b} bp: neither is a multiple of the other, so the maps cannot "
            "be coarsened to a common resolution", what)
    return hi


def chrom_sizes_at(chromsizes: pd.Series, resolution: int) -> dict[str, int]:
    """Number of bins of each chromosome at ``resolution``."""
    return {c: -(-int(size) // int(resolution)) for c, size in chromsizes.items()}


def tables_to_bands(tables, factor: int, sizes: dict, max_diag, chroms) -> dict[str, np.ndarray]:
    """Band grids from chromosome-local pixel tables, coarsened by ``factor`` (pixels summed).

    ``max_diag=None`` keeps the whole chromosome (``N - 1`` diagonals).
    """
    out = {}
    for c in chroms:
        b1, b2, v = tables[c]
        n = sizes[c]
        d = max(1, n - 1) if max_diag is None else max_diag
        b1, b2 = b1 // factor, b2 // factor
        inside = b2 < n
        out[c] = band_from_pixels(b1[inside], b2[inside], v[inside], n, d, dtype=np.float64)
    return out


class _View:
    """A resolution and band width at which maps are compared."""

    def __init__(self, resolution: int, max_diag):
        self.resolution, self.max_diag = int(resolution), max_diag

    @property
    def key(self):
        return self.resolution, self.max_diag


# -- references -------------------------------------------------------------------------------------------


def open_reference_cooler(uri: str, cells_resolution: int) -> cooler.Cooler:
    """A bulk cooler for cells at ``cells_resolution``: an ``.mcool`` gives its finest resolution that
    divides the cells'; a ``.scool`` is refused."""
    path, _, group = str(uri).partition("::")
    if not os.path.exists(path):
        raise HicdiffError("no such file (reference)", path)
    try:
        if not group and cooler.fileops.is_multires_file(path):
            res = sorted(int(g.rsplit("/", 1)[-1]) for g in cooler.fileops.list_coolers(path))
            fits = [r for r in res if r <= cells_resolution and cells_resolution % r == 0]
            if not fits:
                raise HicdiffError(
                    f"no resolution divides the cells' {cells_resolution} bp (available: {', '.join(map(str, res))})",
                    path)
            return cooler.Cooler(f"{path}::resolutions/{max(fits)}")
        if cooler.fileops.is_scool_file(path):
            raise HicdiffError("is a single-cell .scool; give raw cells with --reference-cells", path)
        return cooler.Cooler(uri)
    except (OSError, KeyError, ValueError) as e:
        raise HicdiffError(f"cannot read as a cooler ({e})", path) from None


class CoolerReference:
    """A bulk cooler as the reference of every cell.

    Chromosome names are matched to the cells' (``chr1`` / ``1``, ``chrM`` / ``MT``,
    :class:`hicdiff.chroms.ChromMatcher`); chromosomes of the cells missing from the reference are left out
    of the reference metrics; a matched chromosome whose length differs by more than one bin is an error.
    """

    def __init__(self, uri, cells: CellSet, balance: bool = False):
        self.uri = str(uri)
        self.clr = open_reference_cooler(self.uri, cells.resolution)
        if self.clr.binsize is None:
            raise HicdiffError("variable-size bins are not supported", self.uri)
        self.resolution = common_resolution(cells.resolution, self.clr.binsize, self.uri)
        self.balance = balance
        if self.balance and "weight" not in self.clr.bins().columns:
            raise HicdiffError("has no balancing weights (column 'weight'); drop --balance-reference", self.uri)
        matcher = ChromMatcher(self.clr.chromnames)
        self.names = {}
        for c in cells.chromnames:
            ref = matcher.match(c)
            if ref is None:
                continue
            own, theirs = int(cells.chromsizes[c]), int(self.clr.chromsizes[ref])
            if abs(own - theirs) > self.resolution:
                raise HicdiffError(
                    f"chromosome {ref} is {theirs} bp long, the cells' {c} {own} bp: another assembly?", self.uri)
            self.names[c] = ref
        if not self.names:
            raise HicdiffError(
                f"no chromosome matches the cells' ({', '.join(cells.chromnames[:4])} ...)", self.uri)
        self.chroms = list(self.names)
        self.chromsizes = cells.chromsizes
        self._tables = None
        self._cache: dict = {}

    def _read(self):
        tables, bad = {}, {}
        has_weight = "weight" in self.clr.bins().columns
        for c, ref in self.names.items():
            lo = self.clr.offset(ref)
            px = self.clr.matrix(balance=self.balance, as_pixels=True).fetch(ref)
            values = px["balanced"].to_numpy(np.float64) if self.balance else px["count"].to_numpy(np.float64)
            ok = np.isfinite(values)
            tables[c] = (px["bin1_id"].to_numpy()[ok] - lo, px["bin2_id"].to_numpy()[ok] - lo, values[ok])
            w = self.clr.bins()["weight"].fetch(ref).to_numpy() if has_weight else None
            bad[c] = ~np.isfinite(w) if w is not None else None
        return tables, bad

    def bands(self, view: _View) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Chromosome -> ``(band, bad_bins)`` at the view's resolution and width."""
        if view.key not in self._cache:
            if self._tables is None:
                self._tables = self._read()
            tables, fine_bad = self._tables
            factor = view.resolution // self.clr.binsize
            sizes = chrom_sizes_at(self.chromsizes, view.resolution)
            bands = tables_to_bands(tables, factor, sizes, view.max_diag, self.chroms)
            out = {}
            for c, band in bands.items():
                bad = metrics.coverage_bad_bins(band)
                if fine_bad[c] is not None:
                    # a coarse bin is bad when all its fine bins are (weights NaN)
                    fb = fine_bad[c]
                    padded = np.ones(-(-len(fb) // factor) * factor, bool)
                    padded[:len(fb)] = fb
                    coarse = padded.reshape(-1, factor).all(axis=1)
                    m = min(len(coarse), len(bad))
                    bad[:m] |= coarse[:m]
                out[c] = (band, bad)
            self._cache[view.key] = out
        return self._cache[view.key]

    def for_cell(self, name, view):
        return self.bands(view)

    def groups(self, names):
        """Pooled comparisons: ``(group, evaluated cells, bands function of a view)``."""
        return [("all", list(names), self.bands)]

    def describe(self) -> str:
        return f"bulk {self.uri} ({'balanced' if self.balance else 'raw counts'})"


class LabelReference:
    """One bulk cooler per label: a cell's reference is its label's."""

    def __init__(self, spec, labels: pd.Series, cells: CellSet, balance: bool = False):
        paths = read_reference_map(spec)
        missing = sorted(set(labels) - set(paths))
        if missing:
            raise HicdiffError(
                f"no reference for label(s) {', '.join(missing)} (have {', '.join(sorted(paths))})", spec)
        self.spec, self.labels = str(spec), labels
        self.refs = {lab: CoolerReference(paths[lab], cells, balance) for lab in sorted(set(labels))}
        resolutions = {r.resolution for r in self.refs.values()}
        if len(resolutions) > 1:
            raise HicdiffError(f"per-label references differ in resolution ({sorted(resolutions)})", spec)
        self.resolution = resolutions.pop()
        common = set.intersection(*(set(r.chroms) for r in self.refs.values()))
        self.chroms = [c for c in cells.chromnames if c in common]

    def for_cell(self, name, view):
        return self.refs[self.labels[name]].bands(view)

    def groups(self, names):
        return [(lab, [n for n in names if self.labels[n] == lab], ref.bands) for lab, ref in self.refs.items()]

    def describe(self) -> str:
        return f"per-label bulk references ({self.spec})"


def read_reference_map(spec) -> dict[str, str]:
    """Label -> cooler URI from a folder of ``<label>.cool`` / ``<label>.mcool`` or a two-column TSV
    (relative paths are relative to the TSV's folder)."""
    spec = str(spec)
    if os.path.isdir(spec):
        paths = {}
        for p in sorted(Path(spec).iterdir()):
            for ext in (".mcool", ".cool"):
                if p.name.endswith(ext):
                    paths[p.name[: -len(ext)]] = str(p)
        if not paths:
            raise HicdiffError("folder holds no <label>.cool or <label>.mcool files", spec)
        return paths
    if not os.path.exists(spec):
        raise HicdiffError("no such file or folder (per-label references)", spec)
    table = pd.read_csv(spec, sep="\t", header=None, dtype=str, comment="#")
    if table.shape[1] != 2:
        raise HicdiffError("expected two tab-separated columns: label, cooler path", spec)
    base = os.path.dirname(spec)
    return {lab: p if os.path.isabs(p) else os.path.join(base, p) for lab, p in zip(table[0], table[1])}


def label_folds(labels: pd.Series) -> dict[str, int]:
    """Cell -> fold (0 or 1) of :class:`PooledCellsReference`: alternate cells of each label in name order.
    ``hicdiff evaluate --reference-folds`` compares each fold with the other; an imputation that borrows from
    other cells is run on each fold alone (``hicdiff impute --cells FOLD --neighbours-among cells``)."""
    fold = {}
    for lab in sorted(set(labels.astype(str))):
        for k, n in enumerate(sorted(labels.index[labels.astype(str) == lab])):
            fold[n] = k % 2
    return fold


class PooledCellsReference:
    """Pseudo-bulk of raw cells: the reference of a cell is the sum of the OTHER raw cells of its label.

    Parameters
    ----------
    raw : CellSet
        Raw (complete, unsplit) cells with the same bins as the evaluated cells, the evaluated cells among
        them (cells outside it are compared with the whole pool of their label).
    labels : Series or None
        Cell -> label for every raw cell; ``None`` pools all raw cells as one group.

    Pooled comparisons split each label's raw cells into two folds (alternate cells in name order): the
    evaluated cells of fold 1, pooled, are compared with the raw cells of fold 2, and the other way round.
    With ``folds``, single cells too are compared with the other fold's raw cells (not the leave-one-out
    pool): for imputations that borrow from other cells (guidance by neighbours run on each fold alone), no
    cell's reference then shares contacts with what its imputation borrowed.
    """

    def __init__(self, raw: CellSet, labels: pd.Series | None, cells: CellSet, folds: bool = False):
        if raw.resolution != cells.resolution or not raw.chromsizes.equals(cells.chromsizes):
            raise HicdiffError(
                f"raw reference cells must have the evaluated cells' bins ({cells.resolution} bp and the same "
                f"chromosomes; these have {raw.resolution} bp)", raw.source)
        self.raw, self.resolution = raw, raw.resolution
        self.folds = bool(folds)
        self.chroms = [c for c in raw.chromnames if raw.n_bins(c) >= 2]
        self.labels = labels.reindex(raw.names) if labels is not None else pd.Series("all", index=raw.names)
        self.fold = label_folds(self.labels)
        self._sums: dict = {}

    def _fold_sums(self, view: _View):
        """(label, fold) -> chromosome -> band: one pass over the raw cells per view."""
        if view.key not in self._sums:
            sizes = chrom_sizes_at(self.raw.chromsizes, view.resolution)
            factor = view.resolution // self.resolution
            sums: dict = {}
            for n in self.raw:
                bands = tables_to_bands(cis_pixel_arrays(self.raw, n), factor, sizes, view.max_diag, self.chroms)
                acc = sums.setdefault((self.labels[n], self.fold[n]), {})
                for c, b in bands.items():
                    if c in acc:
                        acc[c] += b
                    else:
                        acc[c] = b
            self._sums[view.key] = sums
        return self._sums[view.key]

    @staticmethod
    def _with_bad(bands):
        return {c: (b, metrics.coverage_bad_bins(b)) for c, b in bands.items()}

    def for_cell(self, name, view):
        if name not in self.fold:
            raise HicdiffError(f"cell {name} is not among the raw reference cells", self.raw.source)
        sums = self._fold_sums(view)
        lab = self.labels[name]
        other = (lab, 1 - self.fold[name])
        if self.folds and other in sums:
            return self._with_bad(dict(sums[other]))
        sizes = chrom_sizes_at(self.raw.chromsizes, view.resolution)
        own = tables_to_bands(cis_pixel_arrays(self.raw, name), view.resolution // self.resolution, sizes,
                              view.max_diag, self.chroms)
        parts = [sums[k] for k in ((lab, 0), (lab, 1)) if k in sums]
        return self._with_bad({c: sum(p[c] for p in parts) - own[c] for c in self.chroms})

    def groups(self, names):
        out = []
        for lab in sorted(set(self.labels[n] for n in names if n in self.fold)):
            for k in (0, 1):
                mine = [n for n in names if self.labels.get(n) == lab and self.fold.get(n) == k]
                if mine and (lab, 1 - k) in self._fold_sums_keys():
                    out.append((f"{lab}/fold{k + 1}", mine,
                                lambda view, lab=lab, k=k: self._with_bad(self._fold_sums(view)[(lab, 1 - k)])))
        return out

    def _fold_sums_keys(self):
        return {(self.labels[n], self.fold[n]) for n in self.fold}

    def describe(self) -> str:
        grouped = "of the same label" if self.labels.nunique() > 1 else ""
        if self.folds:
            return (f"the other fold's raw cells {grouped} in {self.raw.source}, for single cells and pools alike "
                    "(no cell is compared with a cell of its own fold)").replace("  ", " ")
        return (f"leave-one-out pseudo-bulk of the other raw cells {grouped} in {self.raw.source}; pooled "
                "metrics compare one fold's imputed cells with the other fold's raw cells").replace("  ", " ")
