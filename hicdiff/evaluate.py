"""Evaluate imputed cells: held-out contacts, agreement with a reference, cell-type separation.

:func:`evaluate` scores one or more imputed ``.scool`` files ("methods") on the same cells and returns an
:class:`Evaluation` of plain DataFrames; :func:`hicdiff.report.write_report` turns it into tables, figures
and ``report.md``. The metrics themselves are array functions in :mod:`hicdiff.metrics`; their definitions
and pinned parameters are in ``docs/evaluation.md``.

References (optional) are the classes of :mod:`hicdiff.references` (bulk cooler, one bulk per label,
pooled raw cells); reference metrics are computed at their common resolution.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hicdiff import metrics
from hicdiff._cellmaps import blas_threads_for, cis_pixel_arrays, max_diagonal
from hicdiff.compartments import band_e1
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet, file_metadata, open_cells
from hicdiff.progress import track
from hicdiff.safety import atomic_folder
# common_resolution and read_reference_map are re-exported: they lived here before hicdiff.references
from hicdiff.references import (CoolerReference, LabelReference, PooledCellsReference, _View,  # noqa: F401
                                chrom_sizes_at, common_resolution, read_reference_map, tables_to_bands)

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
    # method ("reference" too), kind (cell: the example cell; pooled: the first group), chrom, start, E1
    compartments: pd.DataFrame = field(default_factory=pd.DataFrame)
    # (hicdiff.calibration.Calibration, method) when a model and its input were given
    calibration: tuple | None = None


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
            f["eig"][c] = band_e1(*eig_bands[c])
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
            e = band_e1(eig_bands[c])
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
    cell_rows, rho_rows, features, example, e1_rows = [], [], {m: [] for m in imputed}, {}, []
    e1_chrom = _e1_chromosome(plan.chroms, example_region, heldout)
    ps = {m: [] for m in [*imputed, "heldout"]}
    pools = {m: {} for m in imputed}

    for name in track(common, "evaluated", unit="cells", logger=log):
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
                if name == example_cell:
                    e1_rows.append(_e1_track(m, "cell", e1_chrom, band_e1(eig_b[e1_chrom]), ref["eig"][e1_chrom],
                                             plan.eig.resolution))
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
                e1_rows.append(_e1_track("reference", "cell", e1_chrom, ref["eig"][e1_chrom], None,
                                         plan.eig.resolution))

    cells_df = pd.DataFrame(cell_rows)
    if not cells_df["heldout_contacts"].sum():
        raise HicdiffError(
            f"the held-out part has no contacts within {params.max_distance} bp off the diagonal in the "
            f"{len(common)} evaluated cell(s), so there is nothing to score; split the raw cells with "
            "hicdiff split (a larger --heldout-fraction) or raise --max-distance", heldout.source)
    pooled_rows = []
    for k, (g, members, bands_of) in enumerate(groups):
        gref = plan.features(bands_of)
        for m in imputed:
            if g in pools[m]:
                cmp, _ = plan.compare(*pools[m][g], gref)
                pooled_rows.append({"method": m, "group": g, "cells": len(members), **cmp})
                if k == 0:
                    e1_rows.append(_e1_track(m, "pooled", e1_chrom, band_e1(pools[m][g][1][e1_chrom]),
                                             gref["eig"][e1_chrom], plan.eig.resolution))
        if k == 0:
            e1_rows.append(_e1_track("reference", "pooled", e1_chrom, gref["eig"][e1_chrom], None,
                                     plan.eig.resolution))
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
        "compartment_chromosome": e1_chrom, "compartment_pooled_group": groups[0][0] if groups else None,
        "insulation_window_bins": int(plan.window), "example_cell": example_cell,
        "example_region": [region[0], int(region[1]), int(region[2])] if region else None,
        "chromosomes": chroms, "reference_chromosomes": plan.chroms,
        "labels": None if labels is None else str(labels.name), "params": asdict(params),
        "inputs": {m: cs.source for m, cs in imputed.items()}, "heldout": heldout.source,
    }
    maps = _example_maps(example, region, res, plan.res) if region else {}
    e1_df = pd.concat(e1_rows, ignore_index=True) if e1_rows else pd.DataFrame()
    return Evaluation(summary, cells_df, pooled_df, ps_df, corr_df, emb_df, maps, info, compartments=e1_df)


def _e1_chromosome(chroms, region, cells):
    """Chromosome of the E1 figure: the example region's, else the longest compared one."""
    if not chroms:
        return None
    if region is not None and region[0] in chroms:
        return region[0]
    return max(chroms, key=cells.n_bins)


def _e1_track(method, kind, chrom, e1, ref_e1, resolution) -> pd.DataFrame:
    """One chromosome's E1 for the figure, its sign turned to agree with the reference's."""
    if ref_e1 is not None:
        ok = np.isfinite(e1) & np.isfinite(ref_e1)
        if ok.sum() > 2 and np.corrcoef(e1[ok], ref_e1[ok])[0, 1] < 0:
            e1 = -e1
    return pd.DataFrame({"method": method, "kind": kind, "chrom": chrom,
                         "start": np.arange(len(e1)) * int(resolution), "E1": e1})


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
                   names=None, example_cell=None, example_region=None, embedding=None, model=None,
                   model_input=None, calibration_cells: int = 20, calibration_samples: int = 8,
                   reference_folds: bool = False) -> Evaluation:
    """Evaluate imputed ``.scool`` files and write the report folder (the ``hicdiff evaluate`` command).

    ``embedding``: a ``.h5ad`` from ``hicdiff embed``, whose separation and clusters the report adds.
    ``reference_folds`` (with ``reference_cells``): single cells are compared with the other fold's raw cells of
    their label, as pools are, instead of the leave-one-out pool.
    ``model`` and ``model_input``: the checkpoint of a hicdiff imputation and the cells it imputed from; the
    report adds the calibration of its predictive distribution (:mod:`hicdiff.calibration`) on
    ``calibration_cells`` cells with ``calibration_samples`` draws each.

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
        ref = CoolerReference(reference, held, params.balance_reference)
    elif reference_by_label is not None:
        ref = LabelReference(reference_by_label, cell_label, held, params.balance_reference)
    elif reference_cells is not None:
        raw = open_cells(reference_cells)
        raw_labels = cell_labels(raw, label_column, labels, required=False)
        if raw_labels is None and cell_label is not None:
            raise HicdiffError(f"the raw cells have no {label_column!r} label; give --labels", reference_cells)
        ref = PooledCellsReference(raw, raw_labels, held, folds=reference_folds)
    if isinstance(example_region, str):
        example_region = parse_region(example_region)
    with blas_threads_for(held):
        ev = evaluate(dict(zip(method_names(imputed), imputed)), held, ref, cell_label, params, names,
                      example_cell, example_region)
    if (model is None) != (model_input is None):
        raise HicdiffError("calibration needs both --model and --input (the cells the model imputed from)")
    if model is not None:
        ev.calibration = _calibrate(ev, imputed, model, model_input, held, names, params, calibration_cells,
                                    calibration_samples)
    emb = None
    if embedding is not None:
        from hicdiff.embed import embedding_summary

        emb = embedding_summary(embedding, cell_label, label_column)
    with atomic_folder(output) as folder:  # a failed or interrupted write leaves no half report
        write_report(ev, folder, emb)
    return ev


def _calibrate(ev, imputed, model, model_input, held, names, params, cells, samples):
    """Calibration of ``model``'s forecast, as metrics of the method whose imputed file it made (its
    metadata's ``model``), or of a row named after the model; NaN for every other method."""
    from hicdiff.calibration import calibration
    from hicdiff.checkpoint import resolve_model

    cal = calibration(model, model_input, held, names=names, max_cells=cells,
                      max_distance_bp=params.max_distance, samples=samples)
    target = os.path.realpath(resolve_model(model))
    method = None
    for name, path in zip(method_names(imputed), imputed):
        made_by = file_metadata(str(path).split("::")[0]).get("model")
        if isinstance(made_by, str) and os.path.realpath(resolve_model(made_by)) == target:
            method = name
            break
    if method is None:
        method = f"model {Path(str(model)).name}"
        ev.summary = pd.concat([ev.summary, pd.DataFrame({"method": [method]})], ignore_index=True)
    for k, v in cal.metrics.items():
        ev.summary[k] = np.where(ev.summary["method"] == method, v, np.nan)
    return cal, method
