"""Evaluation metrics (each with a case where it must fail), references and the ``hicdiff evaluate`` report."""

import json

import cooler
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hicdiff import metrics
from hicdiff._cellmaps import cell_bands
from hicdiff.band import band_from_pixels, valid_mask
from hicdiff.baselines import Baseline, run_baseline
from hicdiff.cli import cli
from hicdiff.compartments import band_e1
from hicdiff.errors import HicdiffError
from hicdiff.evaluate import (CoolerReference, EvalParams, PooledCellsReference, _View, common_resolution,
                              evaluate, method_names, parse_region)
from hicdiff.io import open_cells, write_scool
from hicdiff.split import split_cells

D = 10
MB = 1_000_000


@pytest.fixture(scope="module")
def lee(lee_scool, tmp_path_factory):
    """The 12 lee cells split 80/20 and imputed by four baselines."""
    folder = tmp_path_factory.mktemp("lee_eval")
    split_cells(lee_scool, folder / "input.scool", folder / "heldout.scool", 0.2, seed=0)
    for m in ("raw", "decay", "rwr", "pool-by-label"):
        run_baseline(folder / "input.scool", folder / f"{m}.scool", m, max_distance=D * MB)
    return folder


@pytest.fixture(scope="module")
def bulk(data_dir):
    return data_dir / "bulk_cortical_neurons_mm9" / "CN.mm9.1000kb.cool"


@pytest.fixture(scope="module")
def bulk_chr19(bulk):
    clr = cooler.Cooler(str(bulk))
    px = clr.matrix(balance=False, as_pixels=True).fetch("chr19")
    lo = clr.offset("chr19")
    n = int(clr.extent("chr19")[1] - lo)
    return band_from_pixels(px["bin1_id"] - lo, px["bin2_id"] - lo, px["count"], n, n - 1, dtype=np.float64)


# -- held-out log-likelihood ------------------------------------------------------------------------------


def test_heldout_good_map_positive_shuffled_negative_flat_zero(lee):
    inp, held = open_cells(lee / "input.scool"), open_cells(lee / "heldout.scool")
    # RWR of the cell's own input (a pool of 3 cells per label is too sparse on 4 chromosomes to beat decay)
    pool = Baseline(inp, "rwr", D * MB)
    rng = np.random.default_rng(0)
    for name in inp.names[:4]:
        h = cell_bands(held, name, D)
        good, shuffled = np.zeros(3), np.zeros(3)
        for c, (band, _) in pool.impute(name).items():
            good += metrics.heldout_gain(band, h[c][0])
            valid = valid_mask(*band.shape)
            mixed = band.copy()
            for k in range(D):  # shuffle within each diagonal: the distance decay is kept, the rest destroyed
                rows = np.flatnonzero(valid[:, k])
                mixed[rows, k] = rng.permutation(band[rows, k])
            shuffled += metrics.heldout_gain(mixed, h[c][0])
            flat = np.where(valid, 1.0, 0.0) * band[valid].mean()
            assert metrics.heldout_gain(flat, h[c][0])[1] == pytest.approx(0, abs=1e-9)  # joint: flat = 0
        assert good[0] / good[2] > 0.05
        assert shuffled[0] / shuffled[2] < 0


def test_heldout_gain_by_hand():
    model = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 0.0]])  # N = 3, D = 2: (0,1)=1 (1,2)=3 (0,2)=0
    held = np.array([[0.0, 2.0], [1.0, 0.0], [0.0, 0.0]])
    f1 = 1e-3 * 2 + 1e-12
    p12 = (3 + f1) / (4 + 2 * f1)
    diag = 1 * np.log2(p12 * 2) + 2 * np.log2(1.0)  # diagonal 2 has one pixel: p = 1
    got = metrics.heldout_gain(model, held)
    assert got[0] == pytest.approx(diag) and got[2] == 3


# -- stratum-adjusted correlation -------------------------------------------------------------------------


def test_scc_self_is_one_and_scale_free_shuffle_lower(bulk_chr19):
    band = bulk_chr19[:, :D + 2]
    s = metrics.smooth_band(band, 1, D)
    assert metrics.scc(metrics.stratum_values(s, s))[0] == pytest.approx(1.0)
    assert metrics.scc(metrics.stratum_values(3 * s, s))[0] == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    rows = rng.permutation(band.shape[0])
    other = metrics.smooth_band(band[rows], 1, D)
    assert metrics.scc(metrics.stratum_values(other, s))[0] < 0.5


def test_scc_weights_by_hand():
    x1, y1 = np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4])
    x2, y2 = np.array([5.0, 1, 2]), np.array([1.0, 2, 5])
    value, rho, w = metrics.scc([(x1, y1), (x2, y2), (np.array([1.0]), np.array([2.0]))])
    r1, r2 = np.corrcoef(x1, y1)[0, 1], np.corrcoef(x2, y2)[0, 1]
    w1 = 4 * np.sqrt(np.var(np.arange(1, 5) / 4) ** 2)
    w2 = 3 * np.sqrt(np.var(np.arange(1, 4) / 3) ** 2)
    assert value == pytest.approx((w1 * r1 + w2 * r2) / (w1 + w2))
    assert np.isnan(rho[2]) and w[2] == 0


def test_smoothing_is_the_2d_mean_filter():
    rng = np.random.default_rng(0)
    n = 12
    full = np.triu(rng.poisson(3, (n, n)).astype(float), 1)
    full = full + full.T
    i, j = np.triu_indices(n, 1)
    band = band_from_pixels(i, j, full[i, j], n, n - 1, dtype=np.float64)
    padded = np.pad(full, 1)
    mean = sum(padded[1 + a:1 + a + n, 1 + b:1 + b + n] for a in (-1, 0, 1) for b in (-1, 0, 1)) / 9
    s = metrics.smooth_band(band, 1, 4)
    for d in range(1, 5):
        np.testing.assert_allclose(s[: n - d, d - 1], np.diag(mean, d))


# -- compartments, insulation, boundaries -----------------------------------------------------------------


def test_compartments_self_one_sign_free_shuffle_low(bulk_chr19):
    e = band_e1(bulk_chr19)
    assert metrics.aligned_correlation(e, e) == pytest.approx(1.0)
    assert metrics.aligned_correlation(-e, e) == pytest.approx(1.0)
    noisy = bulk_chr19 * np.random.default_rng(0).uniform(0.8, 1.2, bulk_chr19.shape)
    assert metrics.aligned_correlation(band_e1(noisy), e) > 0.9
    # a map with only the first diagonals has lost the compartments (first 3: every bin masked, too few pixels)
    near = bulk_chr19.copy()
    near[:, 12:] = 0
    assert metrics.aligned_correlation(band_e1(near), e) < 0.6
    near[:, 3:] = 0
    assert np.isnan(band_e1(near)).all()


def _tad_map(n=60, edges=(0, 12, 25, 33, 47, 60), dmax=19):
    i, j = np.triu_indices(n, 1)
    block = np.searchsorted(edges, i, side="right") == np.searchsorted(edges, j, side="right")
    values = (j - i) ** -1.0 * np.where(block, 4.0, 1.0)
    return band_from_pixels(i, j, values, n, dmax, dtype=np.float64)


def test_insulation_and_boundaries():
    band = _tad_map()
    ins = metrics.insulation(band, 5)
    calls = metrics.boundaries(ins, 0.1)
    # bins 11|12, 24|25, 32|33, 46|47: the boundary is after the last bin of a domain
    np.testing.assert_array_equal(calls, [11, 24, 32, 46])
    assert metrics.finite_correlation(ins, ins) == pytest.approx(1.0)
    assert metrics.boundary_f1(calls, calls) == 1.0
    assert metrics.boundary_f1(calls + 1, calls, tolerance=1) == 1.0
    assert metrics.boundary_f1(calls + 3, calls, tolerance=1) == 0.0
    flat = _tad_map(edges=(0, 60))
    assert len(metrics.boundaries(metrics.insulation(flat, 5), 0.1)) == 0


# -- cell-type separation ---------------------------------------------------------------------------------


def test_separation_real_labels_vs_permuted():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 30)
    centres = rng.normal(0, 1, (3, 50)) * 3
    feats = centres[np.repeat([0, 1, 2], 30)] + rng.normal(0, 1, (90, 50))
    good = metrics.separation(feats, labels)
    assert good["ari"] == pytest.approx(1.0) and good["knn_accuracy"] == 1.0
    bad = metrics.separation(feats, rng.permutation(labels))
    assert abs(bad["ari"]) < 0.1 and bad["knn_accuracy"] < 0.6


# -- references -------------------------------------------------------------------------------------------


def test_reference_names_and_coarsening(data_dir, bulk):
    cells = open_cells(data_dir / "gse100569_mouse_scool" / "scool_test_file.scool")  # 100 kb, chroms '1'..
    ref = CoolerReference(bulk, cells)
    assert ref.resolution == MB
    assert ref.names["1"] == "chr1" and ref.names["X"] == "chrX"
    band, bad = ref.bands(_View(MB, D))["19"]
    assert band.shape == (62, D) and bad[:3].all() and not bad[10:50].all()


def test_reference_resolution_and_assembly_errors(data_dir, lee_scool, tmp_path):
    clr = cooler.Cooler(str(data_dir / "bulk_cortical_neurons_mm9" / "CN.mm9.1000kb.cool"))
    bins = cooler.binnify(clr.chromsizes[["chr18", "chr19"]], 300_000)
    odd = tmp_path / "odd.cool"
    cooler.create_cooler(str(odd), bins, pd.DataFrame({"bin1_id": [0], "bin2_id": [1], "count": [1]}))
    nagano = open_cells(data_dir / "nagano2017_mesc_scool" / "test_matrix.scool")
    with pytest.raises(HicdiffError, match="neither is a multiple"):
        CoolerReference(odd, nagano)
    with pytest.raises(HicdiffError, match="another assembly"):
        CoolerReference(data_dir / "bulk_cortical_neurons_mm9" / "CN.mm9.1000kb.cool", open_cells(lee_scool))
    assert common_resolution(100_000, MB) == MB
    assert parse_region("chr2:1,000,000-5,000,000") == ("chr2", MB, 5 * MB)


def test_leave_one_out_reference(lee_scool):
    raw = open_cells(lee_scool)
    labels = raw.metadata()["cell_type"]
    ref = PooledCellsReference(raw, labels, raw)
    view = _View(MB, D)
    name = raw.names[0]
    own = cell_bands(raw, name, D)
    same = labels.index[labels == labels[name]]
    total = sum(cell_bands(raw, n, D)["chr21"][0] for n in same)
    np.testing.assert_allclose(ref.for_cell(name, view)["chr21"][0] + own["chr21"][0], total)
    groups = ref.groups(raw.names)
    assert len(groups) == 8  # 4 labels x 2 folds
    for g, members, bands_of in groups:
        assert not set(members) & set(same) or g.startswith(labels[name])


def test_fold_reference_compares_single_cells_with_the_other_fold(lee_scool):
    raw = open_cells(lee_scool)
    labels = raw.metadata()["cell_type"]
    ref = PooledCellsReference(raw, labels, raw, folds=True)
    view = _View(MB, D)
    name = raw.names[0]
    same = sorted(labels.index[labels == labels[name]])
    other = [n for k, n in enumerate(same) if k % 2 != same.index(name) % 2]
    assert other and name not in other
    total = sum(cell_bands(raw, n, D)["chr21"][0] for n in other)
    np.testing.assert_allclose(ref.for_cell(name, view)["chr21"][0], total)
    assert "other fold" in ref.describe()


# -- the whole evaluation ----------------------------------------------------------------------------------


def test_evaluate_lee_end_to_end(lee, lee_scool, tmp_path):
    files = [str(lee / f"{m}.scool") for m in ("raw", "decay", "rwr", "pool-by-label")]
    out = CliRunner().invoke(cli, ["evaluate", *files, "--heldout", str(lee / "heldout.scool"),
                                   "--reference-cells", str(lee_scool), "-o", str(tmp_path / "report")])
    assert out.exit_code == 0, out.output
    table = pd.read_csv(tmp_path / "report" / "metrics.tsv", sep="\t").set_index("method")
    assert list(table.index) == ["raw", "decay", "rwr", "pool-by-label"]
    assert table.loc["decay", "heldout_bits"] == pytest.approx(0, abs=1e-9)
    assert table.loc["rwr", "heldout_bits"] > table.loc["decay", "heldout_bits"]
    assert table.loc["pool-by-label", "ari"] == pytest.approx(1.0)
    assert table.loc["pool-by-label", "scc"] > table.loc["raw", "scc"] > table.loc["decay", "scc"]
    info = json.loads((tmp_path / "report" / "metrics.json").read_text())["info"]
    assert info["cells"] == 12 and info["labels"] == "cell_type"
    for fig in ("maps", "contact_probability", "correlation_by_distance", "embedding", "headline", "compartments"):
        assert (tmp_path / "report" / "figures" / f"{fig}.png").stat().st_size > 1000
    e1 = pd.read_csv(tmp_path / "report" / "compartments.tsv", sep="\t")
    assert set(e1["method"]) == {"raw", "decay", "rwr", "pool-by-label", "reference"}
    assert set(e1["kind"]) == {"cell", "pooled"} and e1["chrom"].nunique() == 1
    assert "pool-by-label" in (tmp_path / "report" / "report.md").read_text()


def test_evaluate_errors(lee, tmp_path, data_dir):
    heldout = str(lee / "heldout.scool")
    nagano = str(data_dir / "nagano2017_mesc_scool" / "test_matrix.scool")
    out = CliRunner().invoke(cli, ["evaluate", nagano, "--heldout", heldout, "-o", str(tmp_path / "r")])
    assert out.exit_code == 2 and "bin table differs" in out.output
    out = CliRunner().invoke(cli, ["evaluate", str(lee / "raw.scool"), "--heldout", heldout, "--reference",
                                   str(lee / "raw.scool"), "--reference-cells", str(lee / "raw.scool"),
                                   "-o", str(tmp_path / "r")])
    assert out.exit_code == 2 and "one of --reference" in out.output


@pytest.fixture(scope="module")
def gse_100kb(data_dir, tmp_path_factory):
    """Three 100 kb mouse cells, chromosomes 18 and 19 only (names without 'chr')."""
    src = open_cells(data_dir / "gse100569_mouse_scool" / "scool_test_file.scool")
    lo, hi = src.chrom_bins["18"][0], src.chrom_bins["19"][1]
    bins = src.bins.iloc[lo:hi].reset_index(drop=True)
    cells = []
    for name in src.names[:3]:
        px = src.pixels(name)
        px = px[(px["bin1_id"] >= lo) & (px["bin2_id"] < hi)]
        cells.append((name, px.assign(bin1_id=px["bin1_id"] - lo, bin2_id=px["bin2_id"] - lo)))
    out = tmp_path_factory.mktemp("gse") / "gse.scool"
    write_scool(out, bins, cells)
    return out


def test_insulation_at_100kb(gse_100kb, tmp_path, bulk):
    split_cells(gse_100kb, tmp_path / "i.scool", tmp_path / "h.scool", 0.2)
    run_baseline(tmp_path / "i.scool", tmp_path / "raw.scool", "raw", max_distance=2 * MB)
    raw = open_cells(gse_100kb)
    ev = evaluate({"raw": tmp_path / "raw.scool"}, tmp_path / "h.scool",
                  reference=PooledCellsReference(raw, None, raw), params=EvalParams(max_distance=2 * MB))
    row = ev.summary.iloc[0]
    assert ev.info["insulation_window_bins"] == 10 and ev.info["compartment_resolution"] == MB
    assert np.isfinite(row["insulation_corr"]) and 0 <= row["boundary_f1"] <= 1
    # a 1 Mb bulk with 'chr' names: compared at 1 Mb, no insulation
    ev = evaluate({"raw": tmp_path / "raw.scool"}, tmp_path / "h.scool",
                  reference=CoolerReference(bulk, raw), params=EvalParams(max_distance=2 * MB))
    assert ev.info["reference_resolution"] == MB and ev.info["reference_chromosomes"] == ["18", "19"]
    assert "insulation_corr" not in ev.summary.columns and np.isfinite(ev.summary["scc"].iloc[0])


def test_method_names(lee, tmp_path):
    copy = tmp_path / "my_rwr.scool"
    copy.write_bytes((lee / "rwr.scool").read_bytes())
    assert method_names([lee / "raw.scool", lee / "rwr.scool"]) == ["raw", "rwr"]
    assert method_names([lee / "rwr.scool", copy]) == ["rwr", "my_rwr"]
