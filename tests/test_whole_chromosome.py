"""Whole chromosomes at coarse resolution: every cis pixel imputed once, the band kept at fine resolution,
what was imputed stated in the metadata, cooltools on the output."""

import cooler
import cooltools
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import hicdiff.impute as impute
from hicdiff._cellmaps import cell_bands
from hicdiff.cli import cli
from hicdiff.impute import Imputer, impute_scool
from hicdiff.io import open_cells

CHROMS = ["chr19", "chr20", "chr21", "chr22"]


@pytest.fixture(scope="module")
def cells(lee_scool):
    return str(lee_scool), open_cells(lee_scool).names[:2]


@pytest.fixture(scope="module")
def whole(cells, tmp_path_factory):
    path, names = cells
    out = str(tmp_path_factory.mktemp("whole") / "whole.scool")
    impute_scool(path, "general", out, cells=names, device="cpu")   # 1 Mb: whole chromosomes by default
    return out


def test_every_cis_pixel_exactly_once(cells, whole):
    path, names = cells
    inp, out = open_cells(path), open_cells(whole)
    params = out.info(names[0])["metadata"]["parameters"]
    assert params["whole_chromosomes"] is True and params["pixels"].startswith("every cis pixel")
    assert params["model_max_distance_bp"] == 32_000_000
    for name in names:
        px = out.cooler(name).pixels()[:]
        key = px["bin1_id"].to_numpy() * 10**6 + px["bin2_id"].to_numpy()
        assert (np.diff(key) > 0).all()                               # sorted, no pixel twice
        expected = []
        for chrom in CHROMS:
            lo, hi = inp.chrom_bins[chrom]
            i, j = np.triu_indices(hi - lo)
            expected.append((i + lo) * 10**6 + j + lo)
        assert np.array_equal(key, np.concatenate(expected))          # every cis pixel, no trans pixel
        assert (px["count"] >= 0).all() and px["count"].gt(0).mean() > 0.99
        # the main diagonal is the observed one
        obs = inp.cis_pixels(name, "chr21")
        o0 = obs[obs.bin1_id == obs.bin2_id].set_index("bin1_id")["count"].astype(float)
        cis = out.cis_pixels(name, "chr21")
        i0 = cis[(cis.bin1_id == cis.bin2_id) & (cis["count"] > 0)].set_index("bin1_id")["count"]
        assert i0.to_dict() == o0.to_dict()


def test_whole_agrees_with_band_near_the_diagonal(cells, whole, tmp_path):
    """Near the diagonal the whole-chromosome windows see what the band's see: the two imputations agree."""
    path, names = cells
    band = str(tmp_path / "band.scool")
    impute_scool(path, "general", band, cells=names[:1], device="cpu", max_distance="band")
    params = open_cells(band).info(names[0])["metadata"]["parameters"]
    assert params["whole_chromosomes"] is False and "not imputed" in params["pixels"]
    a = open_cells(band).cis_pixels(names[0], "chr19")
    b = open_cells(whole).cis_pixels(names[0], "chr19")
    both = a.merge(b, on=["bin1_id", "bin2_id"], suffixes=("_band", "_whole"))
    assert len(both) == len(a) < len(b)
    near = both[(both.bin2_id - both.bin1_id).between(1, 10)]
    assert np.corrcoef(near["count_band"], near["count_whole"])[0, 1] > 0.9


def test_fine_resolution_keeps_the_band(cells, monkeypatch):
    path, _ = cells
    cs = open_cells(path)
    imp = Imputer.from_checkpoint("general", device="cpu")
    assert imp.diagonals(cs, CHROMS, "auto") == {c: cs.n_bins(c) - 1 for c in CHROMS}
    # chromosomes longer than WHOLE_MAX_BINS (200 kb and finer) keep the model's band by default
    monkeypatch.setattr(impute, "WHOLE_MAX_BINS", 50)
    assert imp.diagonals(cs, CHROMS, "auto") == {c: 32 for c in CHROMS}
    assert imp.diagonals(cs, CHROMS, 5_000_000) == {c: 5 for c in CHROMS}


def test_window_cost_follows_the_triangle(cells):
    path, _ = cells
    cs = open_cells(path)
    imp = Imputer.from_checkpoint("general", device="cpu")
    shapes = {c: cs.n_bins(c) for c in CHROMS}
    diagonals = imp.diagonals(cs, CHROMS, "whole")
    jobs = imp._jobs(0, shapes, imp.stride, diagonals)
    entries = sum(j.rows * j.diags for j in jobs)
    pixels = sum(n * (n - 1) // 2 for n in shapes.values())
    assert entries < 2 * pixels
    for j in jobs:   # every window reaches every pixel of its rows
        assert j.diags >= min(diagonals[j.chrom], shapes[j.chrom] - 1 - j.start)
    batches = list(imp._batches(jobs))
    assert sorted(id(j) for b in batches for j in b) == sorted(id(j) for j in jobs)
    assert all(len({(j.rows, j.diags) for j in b}) == 1 for b in batches)


def test_cells_share_passes_without_changing_values(cells, monkeypatch):
    """Whole chromosomes' windows come in many shapes of a few windows each: several cells share a pass (the
    band keeps one cell per batch_size windows), and the imputed values are those of one cell at a time to
    float32 rounding."""
    path, names = cells
    cs = open_cells(path)
    imp = Imputer.from_checkpoint("general", device="cpu", batch_size=8)
    shapes = {c: cs.n_bins(c) for c in CHROMS}
    whole = imp.diagonals(cs, CHROMS, "whole")
    band = imp.diagonals(cs, CHROMS, "band")
    band_jobs = imp._jobs(0, shapes, imp.stride, band)
    assert imp._cells_per_group(band_jobs, shapes, band) == max(1, 8 // len(band_jobs))
    assert imp._cells_per_group(imp._jobs(0, shapes, imp.stride, whole), shapes, whole) >= 2
    monkeypatch.setattr(impute, "GROUP_ENTRIES", 1)      # the memory cap: one cell at a time
    assert imp._cells_per_group(imp._jobs(0, shapes, imp.stride, whole), shapes, whole) == 1
    alone = list(imp.impute_many(cs, names, chroms=CHROMS, max_distance="whole"))
    monkeypatch.undo()
    grouped = list(imp.impute_many(cs, names, chroms=CHROMS, max_distance="whole"))
    for a, b in zip(alone, grouped):
        for c in CHROMS:
            np.testing.assert_allclose(b.bands[c], a.bands[c], rtol=1e-4, atol=1e-7)


def test_windows_of_chromosomes_shorter_than_a_window(cells):
    """Chromosomes shorter than the whole-chromosome window get windows of fewer rows; each shape its batches."""
    path, names = cells
    cs = open_cells(path)
    imp = Imputer.from_checkpoint("general", device="cpu")
    imp.whole_rows = 128      # longer than chr19-22 at 1 Mb (49-64 bins)
    res = imp.impute_cell(cs, names[0], chroms=CHROMS, max_distance="whole")
    for chrom in CHROMS:
        n = cs.n_bins(chrom)
        assert res.bands[chrom].shape == (n, n - 1)
        inside = np.arange(n)[:, None] + np.arange(1, n)[None, :] < n
        assert (res.bands[chrom][inside] > 0).all() and (res.bands[chrom][~inside] == 0).all()


def test_cooltools_runs_on_whole_chromosome_output(whole, cells):
    _, names = cells
    clr = cooler.Cooler(f"{whole}::/cells/{names[0]}")
    assert np.isfinite(clr.bins()["weight"][:].to_numpy()).mean() > 0.9
    view = pd.DataFrame({"chrom": CHROMS, "start": 0, "end": [clr.chromsizes[c] for c in CHROMS], "name": CHROMS})
    _, vecs = cooltools.eigs_cis(clr, view_df=view, n_eigs=1)
    e1 = vecs["E1"].to_numpy()
    assert np.isfinite(e1).mean() > 0.9
    # a whole-chromosome map gives an E1 with both signs on every chromosome (a band's zeros beyond it give
    # a near-constant vector)
    for chrom in CHROMS:
        v = vecs.loc[vecs.chrom == chrom, "E1"].dropna()
        assert (v > 0).mean() > 0.1 and (v < 0).mean() > 0.1
    ins = cooltools.insulation(clr, [3_000_000], view_df=view)
    assert ins["log2_insulation_score_3000000"].notna().sum() > 100


def test_cli_max_distance(cells, tmp_path):
    path, names = cells
    out = tmp_path / "b.scool"
    r = CliRunner().invoke(cli, ["impute", path, "--model", "general", "--cells", names[0], "--chromosomes",
                                 "chr21", "--max-distance", "band", "--threads", "1", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert open_cells(str(out)).info(names[0])["metadata"]["parameters"]["max_distance_bp"] == 32_000_000
    r = CliRunner().invoke(cli, ["impute", path, "--model", "general", "--max-distance", "far", "-o",
                                 str(tmp_path / "x.scool")])
    assert r.exit_code != 0 and "auto, whole, band" in r.output


def test_add_observed_writes_the_observed_plus_the_imputed_contacts(cells, whole, tmp_path):
    """--add-observed: every pixel is the cell's input count plus what plain imputation writes there; the
    metadata says so, and the plain output carries no such key."""
    path, names = cells
    out = str(tmp_path / "added.scool")
    result = CliRunner().invoke(cli, ["impute", path, "--model", "general", "-o", out, "--cells",
                                      ",".join(names[:1]), "--add-observed", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    inp, plain, added = open_cells(path), open_cells(whole), open_cells(out)
    assert "observed contacts plus the imputed" in added.info(names[0])["metadata"]["parameters"]["add_observed"]
    assert "add_observed" not in plain.info(names[0])["metadata"]["parameters"]
    key = ["bin1_id", "bin2_id"]
    a = added.cooler(names[0]).pixels()[:].set_index(key)["count"]
    p = plain.cooler(names[0]).pixels()[:].set_index(key)["count"]
    o = inp.cooler(names[0]).pixels()[:].set_index(key)["count"].astype(float)
    assert a.index.equals(p.index)                                    # the same pixels, once each
    o = o[o.index.isin(a.index)]
    off = o.index.get_level_values(0) != o.index.get_level_values(1)
    expect = p.copy()
    expect.loc[o.index[off]] += o[off].to_numpy()                     # observed added off the diagonal
    assert o[off].sum() > 100
    np.testing.assert_allclose(a.to_numpy(), expect.to_numpy(), rtol=1e-3, atol=1e-3)  # stored precision


def test_add_observed_in_sample_mode_adds_to_every_draw_not_to_the_spread(cells):
    path, names = cells
    imp = Imputer.from_checkpoint("general", device="cpu")
    cs = open_cells(path)
    kw = dict(chroms=["chr21"], mode="sample", samples=2, steps=2, seed=3)
    plain = imp.impute_cell(cs, names[0], **kw)
    added = imp.impute_cell(cs, names[0], add_observed=True, **kw)
    observed = cell_bands(cs, names[0], plain.bands["chr21"].shape[1], ["chr21"], dtype=np.float32)["chr21"][0]
    assert observed.sum() > 10
    np.testing.assert_allclose(added.bands["chr21"], plain.bands["chr21"] + observed, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(added.drawn["chr21"], plain.drawn["chr21"] + observed, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(added.std["chr21"], plain.std["chr21"])
