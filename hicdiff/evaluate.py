"""Evaluate imputed cells: held-out contacts, agreement with a reference, cell-type separation.

:func:`evaluate` scores one or more imputed ``.scool`` files ("methods") on the same cells and returns an
:class:`Evaluation` of plain DataFrames; :func:`hicdiff.report.write_report` turns it into tables, figures
and ``report.md``. The metrics themselves are array functions in :mod:`hicdiff.metrics`; their definitions
and pinned parameters are in ``docs/evaluation.md``.

References (optional) come in three kinds with one interface (:meth:`for_cell`, :meth:`groups`):

- :class:`CoolerReference`: one bulk ``.cool`` / ``.mcool`` for every cell;
- :class:`LabelReference`: one bulk cooler per label (``--reference-by-label``);
- :class:`PooledCellsReference`: pseudo-bulk of raw cells (``--reference-cells``): a cell's reference is the
  sum of the OTHER raw cells of its label (leave-one-out); pooled imputed cells are compared across two
  folds (the imputed cells of one half of a label against the raw cells of the other half, and back).

Reference metrics are computed at a common resolution, the coarser of the cells' and the reference's (one
must divide the other); maps are coarsened by summing pixels.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cooler
import numpy as np
import pandas as pd

from hicdiff import metrics
from hicdiff._cellmaps import blas_threads_for, cis_pixel_arrays, max_diagonal
from hicdiff.band import band_from_pixels
from hicdiff.chroms import ChromMatcher
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet, file_metadata, open_cells

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalParams:
    """Pinned evaluation parameters (``docs/evaluation.md``).

    Attributes
    ----------
    max_distance : int
        Band in bp: pixels ``(i, i + d)`` with ``1 <= d`` and ``d * resolution <= max_distance``.
    scc_h : int
        Half-width in bins of the 2D mean filter before the stratum-adjusted correlation.
    compartment_resolution : int
        Compartment eigenvectors are computed from whole-chromosome maps at this resolution (or at the
        common resolution, when that is coarser or does not divide it).
    insulation_window : int
        Insulation diamond size in bp (a multiple of the resolution).
    insulation_max_resolution : int
        Insulation and boundaries only at this resolution or finer.
    boundary_prominence : float
        Minimal prominence (log2 units) of an insulation minimum called a boundary.
    boundary_tolerance : int
        Bins by which a boundary may miss the reference's and still match.
    n_components, k_neighbors, seed : int
        Cell-type separation: PCA components, kNN neighbours, random state.
    balance_reference : bool
        Use a bulk reference's balancing weights (``weight`` column) rather than raw counts.
    """

    max_distance: int = 10_000_000
    scc_h: int = 1
    compartment_resolution: int = 1_000_000
    insulation_window: int = 1_000_000
    insulation_max_resolution: int = 200_000
    boundary_prominence: float = 0.1
    boundary_tolerance: int = 1
    n_components: int = 20
    k_neighbors: int = 5
    seed: int = 0
    balance_reference: bool = False


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


def _open_cooler(uri: str, cells_resolution: int) -> cooler.Cooler:
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

    def __init__(self, uri, cells: CellSet, params: EvalParams = EvalParams()):
        self.uri = str(uri)
        self.clr = _open_cooler(self.uri, cells.resolution)
        if self.clr.binsize is None:
            raise HicdiffError("variable-size bins are not supported", self.uri)
        self.resolution = common_resolution(cells.resolution, self.clr.binsize, self.uri)
        self.balance = params.balance_reference
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

    def __init__(self, spec, labels: pd.Series, cells: CellSet, params: EvalParams = EvalParams()):
        paths = read_reference_map(spec)
        missing = sorted(set(labels) - set(paths))
        if missing:
            raise HicdiffError(
                f"no reference for label(s) {', '.join(missing)} (have {', '.join(sorted(paths))})", spec)
        self.spec, self.labels = str(spec), labels
        self.refs = {lab: CoolerReference(paths[lab], cells, params) for lab in sorted(set(labels))}
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
    """

    def __init__(self, raw: CellSet, labels: pd.Series | None, cells: CellSet):
        if raw.resolution != cells.resolution or not raw.chromsizes.equals(cells.chromsizes):
            raise HicdiffError(
                f"raw reference cells must have the evaluated cells' bins ({cells.resolution} bp and the same "
                f"chromosomes; these have {raw.resolution} bp)", raw.source)
        self.raw, self.resolution = raw, raw.resolution
        self.chroms = [c for c in raw.chromnames if raw.n_bins(c) >= 2]
        self.labels = labels.reindex(raw.names) if labels is not None else pd.Series("all", index=raw.names)
        self.fold = {}
        for lab in sorted(set(self.labels)):
            for k, n in enumerate(sorted(self.labels.index[self.labels == lab])):
                self.fold[n] = k % 2
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
        return (f"leave-one-out pseudo-bulk of the other raw cells {grouped} in {self.raw.source}; pooled "
                "metrics compare one fold's imputed cells with the other fold's raw cells").replace("  ", " ")


# -- evaluation -------------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """Results of :func:`evaluate` as DataFrames (plus the example maps and run information)."""

    summary: pd.DataFrame  # one row per method: headline metrics
    cells: pd.DataFrame  # one row per (method, cell)
    pooled: pd.DataFrame  # one row per (method, group): pooled imputed cells vs the group's reference
    contact_probability: pd.DataFrame  # method, distance, P (the methods, "heldout", "reference")
    correlation_by_distance: pd.DataFrame  # method, distance, pearson (mean over cells)
    embeddings: pd.DataFrame  # method, cell, label, pc1, pc2
    example: dict = field(default_factory=dict)  # name -> square map of the example region
    info: dict = field(default_factory=dict)


def method_names(paths) -> list[str]:
    """Method name of each imputed file: its metadata ``method``, or the file stem where that is missing
    or shared with another input."""
    stems = []
    for p in paths:
        stem = Path(str(p).split("::")[0]).name
        for ext in (".scool", ".mcool", ".cool"):
            stem = stem.removesuffix(ext)
        stems.append(stem)
    meta = [file_metadata(str(p).split("::")[0]).get("method") for p in paths]
    names = [m if isinstance(m, str) and m and meta.count(m) == 1 else s for m, s in zip(meta, stems)]
    return [f"{n}#{k + 1}" if names.count(n) > 1 else n for k, n in enumerate(names)]


def _check_same_bins(cs: CellSet, heldout: CellSet):
    if cs.resolution != heldout.resolution or not cs.chromsizes.equals(heldout.chromsizes):
        raise HicdiffError(
            f"bin table differs from the held-out cells' ({cs.resolution} vs {heldout.resolution} bp, or other "
            "chromosomes); impute and hold out on the same bins", cs.source)


class _Plan:
    """What to compute against the reference, at which resolutions."""

    def __init__(self, reference, res: int, params: EvalParams, chroms):
        self.params = params
        self.res = reference.resolution if reference is not None else res
        self.dmax = max_diagonal(params.max_distance, self.res)
        self.scc = _View(self.res, self.dmax + 2 * params.scc_h)
        cres = params.compartment_resolution
        cres = cres if cres >= self.res and cres % self.res == 0 else self.res
        self.eig = _View(cres, None)
        self.chroms = [c for c in chroms if reference is not None and c in set(reference.chroms)]
        self.window = 0
        if reference is not None and self.res <= params.insulation_max_resolution:
            w = params.insulation_window // self.res
            if params.insulation_window % self.res == 0 and w >= 1 and 2 * w - 1 <= self.dmax:
                self.window = w
            else:
                log.warning("insulation skipped: window %d bp is not a multiple of %d bp or wider than the band",
                            params.insulation_window, self.res)

    def features(self, bands_of) -> dict:
        """Reference-side features from a function view -> chromosome -> (band, bad)."""
        scc_bands, eig_bands = bands_of(self.scc), bands_of(self.eig)
        f = {"smooth": {}, "bad": {}, "eig": {}, "ins": {}, "bounds": {}, "band": {}}
        for c in self.chroms:
            band, bad = scc_bands[c]
            f["bad"][c] = bad
            f["band"][c] = band
            f["smooth"][c] = metrics.smooth_band(band, self.params.scc_h, self.dmax)
            f["eig"][c] = metrics.compartment_eigenvector(*eig_bands[c])
            if self.window:
                ins = metrics.insulation(band[:, :self.dmax], self.window)
                f["ins"][c], f["bounds"][c] = ins, metrics.boundaries(ins, self.params.boundary_prominence)
        return f

    def compare(self, scc_bands, eig_bands, ref) -> tuple[dict, np.ndarray]:
        """Reference metrics of one map (a cell or a pool); also the per-distance correlations."""
        p = self.params
        strata, eig_r, eig_w, ins_x, ins_y, calls = [], [], [], [], [], []
        for c in self.chroms:
            band, bad = scc_bands[c], ref["bad"][c]
            strata.append(metrics.stratum_values(metrics.smooth_band(band, p.scc_h, self.dmax), ref["smooth"][c], bad))
            e = metrics.compartment_eigenvector(eig_bands[c], None)
            r = metrics.aligned_correlation(e, ref["eig"][c])
            if np.isfinite(r):
                eig_r.append(r)
                eig_w.append(np.isfinite(e).sum())
            if self.window:
                ins = metrics.insulation(band[:, :self.dmax], self.window)
                ins_x.append(ins)
                ins_y.append(ref["ins"][c])
                calls.append((metrics.boundaries(ins, p.boundary_prominence), ref["bounds"][c]))
        value, rho, _ = metrics.scc(metrics.concat_strata(strata))
        out = {"scc": value, "compartment_corr": float(np.average(eig_r, weights=eig_w)) if eig_r else np.nan}
        if self.window:
            out["insulation_corr"] = metrics.finite_correlation(np.concatenate(ins_x), np.concatenate(ins_y))
            hits = sum(metrics.boundary_matches(f, t, p.boundary_tolerance) for f, t in calls)
            out["boundary_f1"] = metrics.f1_score(hits, sum(len(f) for f, _ in calls), sum(len(t) for _, t in calls))
        return out, rho


def evaluate(imputed, heldout, reference=None, labels=None, params: EvalParams = EvalParams(),
             names=None, example_cell=None, example_region=None) -> Evaluation:
    """Score imputed cells against their held-out contacts and, optionally, a reference.

    Parameters
    ----------
    imputed : dict
        Method name -> imputed cells (``CellSet`` or path); see :func:`method_names`.
    heldout : CellSet or str
        Held-out contacts of the same cells (``hicdiff split``), same bins.
    reference : CoolerReference, LabelReference, PooledCellsReference or None
    labels : Series, optional
        Cell -> label: cell-type separation metrics and the embedding figure.
    params : EvalParams
    names : list of str, optional
        Only these cells (default: the cells present in every input).
    example_cell : str, optional
        Cell of the map figure (default: the one with the median held-out contacts).
    example_region : ``(chrom, start_bp, end_bp)``, optional
        Region of the map figure (default: the middle of the chromosome with most held-out contacts).

    Returns
    -------
    Evaluation
    """
    heldout = heldout if isinstance(heldout, CellSet) else open_cells(heldout)
    imputed = {m: cs if isinstance(cs, CellSet) else open_cells(cs) for m, cs in imputed.items()}
    if not imputed:
        raise HicdiffError("no imputed files to evaluate")
    for cs in imputed.values():
        _check_same_bins(cs, heldout)
    common = [n for n in heldout.names if all(n in cs.uris for cs in imputed.values())]
    if names is not None:
        keep = set(common)
        common = [n for n in names if n in keep]
    if not common:
        raise HicdiffError("no cell is in the held-out file and in every imputed file", heldout.source)
    if names is None:
        for m, cs in imputed.items():
            extra = len(set(cs.names) - set(common))
            if extra:
                log.warning("%s: %d cells not in every input are skipped", m, extra)
    if labels is not None:
        labels = labels.reindex(common)
        if labels.isna().any():
            raise HicdiffError(f"{int(labels.isna().sum())} evaluated cell(s) have no label")
    res = heldout.resolution
    dmax = max_diagonal(params.max_distance, res)
    chroms = [c for c in heldout.chromnames if heldout.n_bins(c) >= 2]
    sizes = chrom_sizes_at(heldout.chromsizes, res)
    plan = _Plan(reference, res, params, chroms)
    ref_sizes = {v.key: chrom_sizes_at(heldout.chromsizes, v.resolution) for v in (plan.scc, plan.eig)}

    if example_cell is None:
        totals = heldout.contacts_per_cell().reindex(common)
        example_cell = totals.sort_values().index[len(totals) // 2]
    elif example_cell not in common:
        raise HicdiffError(f"example cell {example_cell} is not among the evaluated cells")

    npix = sum(np.maximum(sizes[c] - np.arange(1, dmax + 1), 0) for c in chroms)
    groups = reference.groups(common) if reference is not None else []
    group_of: dict = {}
    for g, members, _ in groups:
        for n in members:
            group_of.setdefault(n, []).append(g)
    cell_rows, rho_rows, features, example = [], [], {m: [] for m in imputed}, {}
    ps = {m: [] for m in [*imputed, "heldout"]}
    pools = {m: {} for m in imputed}

    for name in common:
        held = tables_to_bands(cis_pixel_arrays(heldout, name), 1, sizes, dmax, chroms)
        ps["heldout"].append(metrics.contact_probability(sum(metrics.contact_sums(b)[0] for b in held.values()), npix))
        ref = plan.features(lambda v: reference.for_cell(name, v)) if plan.chroms else None
        for m, cs in imputed.items():
            tables = cis_pixel_arrays(cs, name)
            native = tables_to_bands(tables, 1, sizes, dmax, chroms)
            gains = np.array([metrics.heldout_gain(native[c], held[c]) for c in chroms])
            n_held = gains[:, 2].sum()
            row = {"method": m, "cell": name, "heldout_contacts": n_held,
                   "heldout_bits": gains[:, 0].sum() / n_held if n_held else np.nan,
                   "heldout_bits_joint": gains[:, 1].sum() / n_held if n_held else np.nan}
            ps[m].append(metrics.contact_probability(sum(metrics.contact_sums(b)[0] for b in native.values()), npix))
            if labels is not None:
                features[m].append(metrics.band_features(native))
            if ref is not None:
                scc_b = tables_to_bands(tables, plan.scc.resolution // res, ref_sizes[plan.scc.key],
                                        plan.scc.max_diag, plan.chroms)
                eig_b = tables_to_bands(tables, plan.eig.resolution // res, ref_sizes[plan.eig.key], None, plan.chroms)
                cmp, rho = plan.compare(scc_b, eig_b, ref)
                row.update(cmp)
                distance = np.arange(1, len(rho) + 1) * plan.res
                rho_rows.append(pd.DataFrame({"method": m, "cell": name, "distance": distance, "pearson": rho}))
                for g in group_of.get(name, []):
                    acc = pools[m].setdefault(g, ({}, {}))
                    for store, bands in zip(acc, (scc_b, eig_b)):
                        for c, b in bands.items():
                            if c in store:
                                store[c] += b
                            else:
                                store[c] = b.copy()
            cell_rows.append(row)
            if name == example_cell:
                example[m] = native
        if name == example_cell:
            example["held-out"] = held
            if ref is not None:
                example["reference"] = ref["band"]

    cells_df = pd.DataFrame(cell_rows)
    pooled_rows = []
    for g, members, bands_of in groups:
        gref = plan.features(bands_of)
        for m in imputed:
            if g in pools[m]:
                cmp, _ = plan.compare(*pools[m][g], gref)
                pooled_rows.append({"method": m, "group": g, "cells": len(members), **cmp})
    pooled_df = pd.DataFrame(pooled_rows)

    dist = np.arange(1, dmax + 1) * res
    ps_rows = [pd.DataFrame({"method": m, "distance": dist, "P": np.nanmean(np.vstack(v), axis=0)})
               for m, v in ps.items()]
    if plan.chroms:
        rb = reference.for_cell(common[0], plan.scc)
        sums = sum(metrics.contact_sums(rb[c][0][:, :plan.dmax])[0] for c in plan.chroms)
        nref = sum(metrics.contact_sums(rb[c][0][:, :plan.dmax])[1] for c in plan.chroms)
        ps_rows.append(pd.DataFrame({"method": "reference", "distance": np.arange(1, plan.dmax + 1) * plan.res,
                                     "P": metrics.contact_probability(sums, nref)}))
    ps_df = pd.concat(ps_rows, ignore_index=True)

    corr_df = pd.DataFrame(columns=["method", "distance", "pearson"])
    if rho_rows:
        corr_df = pd.concat(rho_rows).groupby(["method", "distance"], sort=False)["pearson"].mean().reset_index()

    emb_rows, sep = [], {}
    if labels is not None:
        for m in imputed:
            out = metrics.separation(np.vstack(features[m]), labels.to_numpy(), params.n_components,
                                     params.k_neighbors, params.seed)
            sep[m] = {"ari": out["ari"], "knn_accuracy": out["knn_accuracy"]}
            e = out["embedding"]
            emb_rows.append(pd.DataFrame({"method": m, "cell": common, "label": labels.to_numpy(),
                                          "pc1": e[:, 0], "pc2": e[:, 1]}))
    emb_df = pd.concat(emb_rows, ignore_index=True) if emb_rows else \
        pd.DataFrame(columns=["method", "cell", "label", "pc1", "pc2"])

    summary = _summarise(cells_df, pooled_df, ps_df, sep, list(imputed))
    region = _example_region(example, example_region, chroms, dmax, res, plan.res)
    info = {
        "cells": len(common), "resolution": int(res), "max_distance": int(params.max_distance),
        "max_diagonal": int(dmax), "reference": reference.describe() if reference is not None else None,
        "reference_resolution": int(plan.res) if plan.chroms else None,
        "compartment_resolution": int(plan.eig.resolution) if plan.chroms else None,
        "insulation_window_bins": int(plan.window), "example_cell": example_cell,
        "example_region": [region[0], int(region[1]), int(region[2])] if region else None,
        "chromosomes": chroms, "reference_chromosomes": plan.chroms,
        "labels": None if labels is None else str(labels.name), "params": asdict(params),
        "inputs": {m: cs.source for m, cs in imputed.items()}, "heldout": heldout.source,
    }
    maps = _example_maps(example, region, res, plan.res) if region else {}
    return Evaluation(summary, cells_df, pooled_df, ps_df, corr_df, emb_df, maps, info)


#: Columns of the summary table, in order (those that apply).
HEADLINE = ["heldout_bits", "heldout_bits_joint", "scc", "scc_pooled", "compartment_corr",
            "compartment_corr_pooled", "insulation_corr", "insulation_corr_pooled", "boundary_f1",
            "boundary_f1_pooled", "ps_mae_log10", "ari", "knn_accuracy"]


def _summarise(cells_df, pooled_df, ps_df, sep, methods) -> pd.DataFrame:
    summary = cells_df.drop(columns=["cell", "heldout_contacts"]).groupby("method", sort=False).mean()
    summary["cells"] = cells_df.groupby("method", sort=False)["cell"].count()
    if len(pooled_df):
        pooled = pooled_df.drop(columns=["group", "cells"]).groupby("method", sort=False).mean()
        summary = summary.join(pooled.add_suffix("_pooled"))
    held = ps_df[ps_df["method"] == "heldout"].set_index("distance")["P"]
    mae = {}
    for m in methods:
        p = ps_df[ps_df["method"] == m].set_index("distance")["P"]
        ok = (p > 0) & (held > 0)
        mae[m] = float(np.mean(np.abs(np.log10(p[ok]) - np.log10(held[ok])))) if ok.any() else np.nan
    summary["ps_mae_log10"] = pd.Series(mae)
    for key in ("ari", "knn_accuracy"):
        if sep:
            summary[key] = pd.Series({m: v[key] for m, v in sep.items()})
    cols = ["cells"] + [c for c in HEADLINE if c in summary.columns]
    return summary[cols].reindex(methods).rename_axis("method").reset_index()


def _example_region(example, region, chroms, dmax, res, ref_res):
    if not example:
        return None
    if region is not None:
        chrom, start, end = region
        if chrom not in chroms:
            raise HicdiffError(f"region chromosome {chrom} is not among the evaluated chromosomes")
        return chrom, int(start) // ref_res * ref_res, int(end) // ref_res * ref_res
    held = example["held-out"]
    chrom = max(chroms, key=lambda c: held[c].sum())
    n = held[chrom].shape[0]
    span = min(n * res, 6 * dmax * res) // ref_res * ref_res
    start = (n * res // 2 - span // 2) // ref_res * ref_res
    return chrom, max(0, start), max(0, start) + span


def _example_maps(example, region, res, ref_res) -> dict:
    """Square maps of the example region (band only: zero beyond the band and on the main diagonal)."""
    chrom, start, end = region
    maps = {}
    for key, bands in example.items():
        if chrom not in bands:
            continue
        r = ref_res if key == "reference" else res
        band = bands[chrom]
        lo, hi = start // r, min(end // r, band.shape[0])
        mat = np.zeros((max(hi - lo, 0),) * 2)
        for d in range(1, band.shape[1] + 1):
            i = np.arange(lo, hi - d)
            if len(i) == 0:
                break
            mat[i - lo, i - lo + d] = band[i, d - 1]
        maps[key] = mat + mat.T
    return maps


def parse_region(text: str):
    """``chrom:start-end`` (bp, commas allowed) -> ``(chrom, start, end)``."""
    chrom, _, span = str(text).rpartition(":")
    try:
        start, end = (int(x.replace(",", "")) for x in span.split("-"))
    except ValueError:
        raise HicdiffError(f"region {text!r} is not chrom:start-end") from None
    if not chrom or end <= start:
        raise HicdiffError(f"region {text!r} is not chrom:start-end with start < end")
    return chrom, start, end


def run_evaluation(imputed, heldout, output, reference=None, reference_by_label=None, reference_cells=None,
                   labels=None, label_column: str = "cell_type", params: EvalParams = EvalParams(),
                   names=None, example_cell=None, example_region=None) -> Evaluation:
    """Evaluate imputed ``.scool`` files and write the report folder (the ``hicdiff evaluate`` command).

    Parameters
    ----------
    imputed : list of str
        Imputed ``.scool`` files; method names from their metadata or file names (:func:`method_names`).
    heldout : str
        Held-out ``.scool`` from ``hicdiff split``.
    output : str
        Report folder (created).
    reference : str, optional
        Bulk ``.cool`` / ``.mcool[::resolutions/N]`` for every cell.
    reference_by_label : str, optional
        Folder of ``<label>.cool`` or TSV ``label<TAB>path``: a bulk reference per label.
    reference_cells : str, optional
        ``.scool`` of raw (unsplit) cells: leave-one-out pseudo-bulk of the other cells of the same label.
    labels : str, optional
        TSV of labels (default: the labels stored in the held-out file, or in ``reference_cells``).
    label_column : str
    params : EvalParams
    names : list of str, optional
    example_cell, example_region : see :func:`evaluate`
    """
    from hicdiff._cellmaps import cell_labels
    from hicdiff.report import write_report

    given = [x for x in (reference, reference_by_label, reference_cells) if x is not None]
    if len(given) > 1:
        raise HicdiffError("give one of --reference, --reference-by-label and --reference-cells")
    imputed = list(imputed)
    held = open_cells(heldout)
    cell_label = cell_labels(held, label_column, labels, required=reference_by_label is not None)
    ref = None
    if reference is not None:
        ref = CoolerReference(reference, held, params)
    elif reference_by_label is not None:
        ref = LabelReference(reference_by_label, cell_label, held, params)
    elif reference_cells is not None:
        raw = open_cells(reference_cells)
        raw_labels = cell_labels(raw, label_column, labels, required=False)
        if raw_labels is None and cell_label is not None:
            raise HicdiffError(f"the raw cells have no {label_column!r} label; give --labels", reference_cells)
        ref = PooledCellsReference(raw, raw_labels, held)
    if isinstance(example_region, str):
        example_region = parse_region(example_region)
    with blas_threads_for(held):
        ev = evaluate(dict(zip(method_names(imputed), imputed)), held, ref, cell_label, params, names,
                      example_cell, example_region)
    write_report(ev, output)
    return ev
