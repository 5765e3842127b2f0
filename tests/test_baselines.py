"""Baselines on tiny real slices: form of the output, scale, and the properties each method must have."""

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.ndimage import gaussian_filter

from hicdiff import metrics
from hicdiff._cellmaps import cell_bands, cis_pixel_arrays
from hicdiff.band import band_from_pixels, valid_mask
from hicdiff.baselines import SCALE, Baseline, RWRParams, _gaussian_matrix, rwr_band, run_baseline
from hicdiff.cli import cli
from hicdiff.errors import HicdiffError
from hicdiff.io import file_metadata, open_cells
from hicdiff.split import split_cells

D = 10


@pytest.fixture(scope="module")
def lee_split(lee_scool, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lee_split")
    split_cells(lee_scool, folder / "input.scool", folder / "heldout.scool", 0.2, seed=0)
    return folder


@pytest.fixture(scope="module")
def lee_input(lee_split):
    return open_cells(lee_split / "input.scool")


@pytest.fixture(scope="module")
def chrom19(lee_input):
    b1, b2, count = cis_pixel_arrays(lee_input, lee_input.names[0])["chr19"]
    return b1, b2, count, lee_input.n_bins("chr19")


def test_gaussian_matrix_is_scipy_gaussian_filter():
    a = np.random.default_rng(0).poisson(2.0, (30, 30)).astype(float)
    g = _gaussian_matrix(30, 1.0).toarray()
    np.testing.assert_allclose(g @ a @ g, gaussian_filter(a, 1.0, mode="constant"), atol=1e-12)


def test_rwr_symmetric_nonnegative_in_band(chrom19):
    b1, b2, count, n = chrom19
    band = rwr_band(b1, b2, count, n, D)
    assert band.shape == (n, D)
    assert (band >= 0).all() and band.sum() > 0
    assert (band[~valid_mask(n, D)] == 0).all()
    # symmetric: the lower triangle given instead of the upper gives the same map
    np.testing.assert_allclose(rwr_band(b2, b1, count, n, D), band, rtol=1e-12)


def test_rwr_sparse_path_equals_dense(chrom19):
    b1, b2, count, n = chrom19
    dense = rwr_band(b1, b2, count, n, D)
    sparse = rwr_band(b1, b2, count, n, D, RWRParams(dense_max_bins=1, walk_distance=10**9), 1_000_000)
    np.testing.assert_allclose(sparse, dense, rtol=1e-9, atol=1e-15)
    # a restricted walk is an approximation, close to the exact one
    banded = rwr_band(b1, b2, count, n, D, RWRParams(walk_distance=20_000_000), 1_000_000)
    assert np.corrcoef(banded.ravel(), dense.ravel())[0, 1] > 0.95


def test_rwr_smooths_more_than_raw(chrom19):
    """The walk spreads each contact: an empty pixel between observed ones gets a value."""
    b1, b2, count, n = chrom19
    band = rwr_band(b1, b2, count, n, D)
    valid = valid_mask(n, D)
    observed = band_from_pixels(b1, b2, count, n, D)
    assert (band[valid] > 0).mean() > (observed[valid] > 0).mean()


@pytest.mark.parametrize("method", ["raw", "decay", "rwr", "pool", "pool-by-label"])
def test_output_form_and_scale(lee_input, tmp_path, method):
    out = tmp_path / f"{method}.scool"
    run_baseline(lee_input, out, method, max_distance=D * 1_000_000, names=lee_input.names[:4] + lee_input.names[-2:])
    meta = file_metadata(out)
    assert meta["scale"] == SCALE and meta["method"] == method and "parameters" in meta
    imputed = open_cells(out)
    assert imputed.metadata()["cell_type"].notna().all()
    name = imputed.names[0]
    px = imputed.pixels(name)
    assert px["count"].dtype == np.float64 and (px["count"] >= 0).all()
    expected_pixels = sum(valid_mask(imputed.n_bins(c), D).sum() + imputed.n_bins(c) for c in imputed.chromnames)
    assert len(px) == expected_pixels  # every band pixel and the main diagonal
    obs = cell_bands(lee_input, name, D)
    got = cell_bands(imputed, name, D)
    for c in imputed.chromnames:
        np.testing.assert_allclose(got[c][1], obs[c][1])  # main diagonal copied
        assert got[c][0].sum() == pytest.approx(obs[c][0].sum(), rel=1e-9)  # the cell's band sum


def test_decay_scores_exactly_zero_and_scale_changes_nothing(lee_split, lee_input, tmp_path):
    held = open_cells(lee_split / "heldout.scool")
    b = Baseline(lee_input, "decay", max_distance=D * 1_000_000)
    pool = Baseline(lee_input, "pool", max_distance=D * 1_000_000)
    for name in lee_input.names[:3]:
        h = cell_bands(held, name, D)
        for c, (band, _) in b.impute(name).items():
            assert metrics.heldout_gain(band, h[c][0])[0] == pytest.approx(0, abs=1e-9)
        for c, (band, _) in pool.impute(name).items():
            g1 = metrics.heldout_gain(band, h[c][0])
            g2 = metrics.heldout_gain(7.5 * band, h[c][0])
            # equal up to the 1e-12 in the pseudo-count, which does not scale
            np.testing.assert_allclose(g1, g2, rtol=1e-7, atol=1e-7)


def test_pool_by_label_pools_the_same_label(lee_input):
    labels = lee_input.metadata()["cell_type"]
    b = Baseline(lee_input, "pool-by-label", max_distance=D * 1_000_000, labels=labels)
    same = labels.index[labels == labels.iloc[0]]
    other = labels.index[labels != labels.iloc[0]][0]
    a, c, x = (b.impute(n)["chr20"][0] for n in (same[0], same[1], other))
    np.testing.assert_allclose(a / a.sum(), c / c.sum())
    assert not np.allclose(a / a.sum(), x / x.sum())


def test_pool_by_label_needs_labels(nagano_input):
    with pytest.raises(HicdiffError, match="cell_type"):
        run_baseline(nagano_input, "/tmp/never-written.scool", "pool-by-label")


@pytest.fixture
def nagano_input(data_dir):
    cells = open_cells(data_dir / "nagano2017_mesc_scool" / "test_matrix.scool")
    return cells.subset(cells.names[:2])


def test_cli(lee_split, tmp_path):
    out = CliRunner().invoke(cli, ["baseline", str(lee_split / "input.scool"), "--method", "pool-by-label",
                                   "--max-distance", "5000000", "-o", str(tmp_path / "p.scool")])
    assert out.exit_code == 0, out.output
    assert file_metadata(tmp_path / "p.scool")["parameters"]["max_diagonal"] == 5
    bad = CliRunner().invoke(cli, ["baseline", str(lee_split / "input.scool"), "--method", "pool-by-label",
                                   "--label-column", "nope", "-o", str(tmp_path / "q.scool")])
    assert bad.exit_code == 2 and "no column 'nope'" in bad.output
    assert not (tmp_path / "q.scool").exists()
