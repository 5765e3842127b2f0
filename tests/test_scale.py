"""Imputation at 100 kb with a 10 Mb band (100 diagonals): band-only output, batching that changes nothing."""

import numpy as np
import pytest

from hicdiff.checkpoint import untrained_checkpoint
from hicdiff.config import load_config
from hicdiff.impute import Imputer, impute_scool
from hicdiff.io import open_cells

CHROMS = ["18", "19"]


@pytest.fixture(scope="module")
def gse(data_dir):
    return str(data_dir / "gse100569_mouse_scool" / "scool_test_file.scool")


@pytest.fixture(scope="module")
def model_100kb(gse, tmp_path_factory):
    """An untrained tiny model over a 10 Mb band at 100 kb (the weights do not matter for these checks)."""
    path = tmp_path_factory.mktemp("scale") / "tiny100.ckpt"
    return untrained_checkpoint(path, open_cells(gse), load_config("tiny", max_diag=100, window_rows=64), CHROMS)


def test_batching_across_cells_and_windows_changes_nothing(gse, model_100kb):
    cs = open_cells(gse).subset(open_cells(gse).names[:3])
    one = Imputer.from_checkpoint(model_100kb, device="cpu", batch_size=1)
    many = Imputer.from_checkpoint(model_100kb, device="cpu", batch_size=256)
    for a, b in zip(one.impute_many(cs, cs.names), many.impute_many(cs, cs.names), strict=True):
        assert a.name == b.name
        for c in CHROMS:
            assert a.bands[c].shape == (cs.n_bins(c), 100)
            np.testing.assert_allclose(a.bands[c], b.bands[c], rtol=1e-4, atol=1e-6)


def test_100kb_output_is_the_band_and_the_diagonal(gse, model_100kb, tmp_path):
    out = tmp_path / "imputed.scool"
    impute_scool(gse, model_100kb, str(out), cells=open_cells(gse).names[:1], device="cpu")
    res = open_cells(str(out))
    px = res.pixels(res.names[0])
    d = (px["bin2_id"] - px["bin1_id"]).to_numpy()
    assert d.min() == 0 and d.max() == 100
    # every in-chromosome pixel with 0 <= d <= 100, nothing else: sum over chromosomes of N (d = 0) + band
    expected = sum(n + sum(max(n - k, 0) for k in range(1, 101)) for n in map(res.n_bins, CHROMS))
    assert len(px) == expected
    assert np.isfinite(px["count"]).all() and (px["count"] >= 0).all()
