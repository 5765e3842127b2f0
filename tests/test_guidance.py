"""Guidance by a prior map: training a prior channel, and imputation guided by a bulk map or a cell type."""

import cooler
import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from hicdiff.cli import cli
from hicdiff.config import load_config
from hicdiff.errors import HicdiffError
from hicdiff.guidance import prior_features
from hicdiff.impute import Imputer
from hicdiff.io import file_metadata, open_cells
from hicdiff.split import split_cells


@pytest.fixture(scope="module")
def guided(lee_scool, tmp_path_factory):
    """A tiny model trained with a prior channel (cell types pooled), and the cells' input/held-out parts."""
    from hicdiff.training import train

    tmp = tmp_path_factory.mktemp("guidance")
    inp, held = str(tmp / "input.scool"), str(tmp / "heldout.scool")
    split_cells(str(lee_scool), inp, held, heldout_fraction=0.2, seed=0)
    cfg = load_config("tiny", max_steps=300, prior_by="cell_type", val_fraction=0.2)
    model = str(tmp / "prior.ckpt")
    train(inp, model, cfg, device="cpu", threads=1)
    return {"model": model, "input": inp, "heldout": held, "tmp": tmp}


def _bulk(cells, path, chrom, boost):
    """A bulk cooler with the cells' bins: a flat decay, ``boost`` times higher on the pixels of rows 10-19 of
    ``chrom``."""
    bins = cells.bins[["chrom", "start", "end"]]
    pix = []
    for c, (lo, hi) in cells.chrom_bins.items():
        i, j = np.triu_indices(hi - lo)
        v = 1000.0 / (1 + j - i)
        if c == chrom:
            v = np.where((i >= 10) & (i < 20), v * boost, v)
        pix.append(pd.DataFrame({"bin1_id": i + lo, "bin2_id": j + lo, "count": v}))
    cooler.create_cooler(str(path), bins, pd.concat(pix, ignore_index=True), dtypes={"count": float},
                         ordered=True)
    return str(path)


def test_prior_features_scale_with_the_asked_depth():
    prior = torch.ones((1, 4, 8))
    valid = torch.ones((1, 4, 8), dtype=torch.bool)
    valid[0, 0, 0] = False
    f1 = prior_features(prior, torch.tensor([100.0]), torch.tensor([1.0]), valid)
    f10 = prior_features(prior, torch.tensor([100.0]), torch.tensor([10.0]), valid)
    assert f1[0, 0, 0] == 0 and (f10[0, 1:] > f1[0, 1:]).all()
    # a prior count of 1 in 100, asked for 1 contact: 0.01 expected, one PRIOR_UNIT
    assert np.isclose(float(f1[0, 1, 1]), np.log(2.0))


def test_a_bulk_prior_pulls_the_imputation_towards_it(guided):
    imp = Imputer.from_checkpoint(guided["model"], device="cpu")
    assert imp.cfg.prior
    cells = open_cells(guided["input"])
    name = cells.names[0]
    bulk = _bulk(cells, guided["tmp"] / "bulk.cool", "chr19", boost=20.0)
    plain = imp.impute_cell(cells, name, chroms=["chr19"], max_distance="band").bands["chr19"]
    runs = {w: imp.impute_cell(cells, name, chroms=["chr19"], max_distance="band", prior=bulk,
                               guidance=w).bands["chr19"] for w in (0.0, 1.0, 3.0)}
    # weight 0 is the unguided model exactly
    assert np.allclose(runs[0.0], plain, rtol=1e-5, atol=1e-7)
    inside = slice(10, 20)
    ratio = lambda b: b[inside].sum() / b.sum()   # noqa: E731  (share of the map in the boosted rows)
    assert ratio(runs[1.0]) > ratio(plain)
    assert ratio(runs[3.0]) > ratio(runs[1.0])


def test_guidance_far_changes_only_the_pixels_beyond_its_distance(guided):
    imp = Imputer.from_checkpoint(guided["model"], device="cpu")
    cells = open_cells(guided["input"])
    name, res = cells.names[0], cells.resolution
    bulk = _bulk(cells, guided["tmp"] / "bulk-far.cool", "chr19", boost=20.0)
    run = lambda **kw: imp.impute_cell(cells, name, chroms=["chr19"], max_distance="whole", prior=bulk,   # noqa: E731
                                       **kw).bands["chr19"]
    near = run(guidance=1.0)
    far = run(guidance=1.0, guidance_far=3.0, far_from=10 * res)
    # diagonals 1..10 (columns 0..9) as guidance 1 alone; beyond, as guidance 3 everywhere
    assert np.allclose(far[:, :10], near[:, :10], rtol=1e-5, atol=1e-7)
    everywhere = run(guidance=3.0)
    assert np.allclose(far[:, 10:], everywhere[:, 10:], rtol=1e-5, atol=1e-7)
    assert not np.allclose(far[:, 10:], near[:, 10:], rtol=1e-3)
    with pytest.raises(HicdiffError, match="needs a prior"):
        imp.impute_cell(cells, name, chroms=["chr19"], guidance_far=3.0)
    with pytest.raises(HicdiffError, match="--guidance-far"):
        imp.impute_cell(cells, name, chroms=["chr19"], prior=bulk, guidance_far=float("nan"))


def test_guide_label_pools_other_cells_and_cli_records_it(guided, tmp_path):
    cells = open_cells(guided["input"])
    label = cells.metadata()["cell_type"].iloc[0]
    out = tmp_path / "guided.scool"
    r = CliRunner().invoke(cli, ["impute", guided["input"], "--model", guided["model"], "-o", str(out),
                                 "--guide-label", str(label), "--guidance", "2", "--chromosomes", "chr19",
                                 "--guidance-far", "5", "--far-from", "20000000", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    params = file_metadata(out)["parameters"]
    assert params["guidance"] == 2.0 and str(label) in params["prior"]
    assert params["guidance_far"] == 5.0 and params["guidance_far_from_bp"] == 20_000_000
    bad = CliRunner().invoke(cli, ["impute", guided["input"], "--model", guided["model"], "-o",
                                   str(tmp_path / "x.scool"), "--guide-label", "no-such-type"])
    assert bad.exit_code != 0 and "no-such-type" in bad.output


def test_a_model_without_a_prior_channel_refuses_guidance(trained_plain, guided):
    imp = Imputer.from_checkpoint(trained_plain, device="cpu")
    cells = open_cells(guided["input"])
    with pytest.raises(HicdiffError, match="no prior channel"):
        imp.impute_cell(cells, cells.names[0], chroms=["chr19"], guide_label=cells.metadata()["cell_type"].iloc[0])


@pytest.fixture(scope="module")
def trained_plain(guided):
    from hicdiff.training import train

    model = str(guided["tmp"] / "plain.ckpt")
    train(guided["input"], model, load_config("tiny", max_steps=5), device="cpu", threads=1)
    return model


def test_a_negative_far_from_is_refused_before_any_cell_is_read():
    from hicdiff.impute import check_options

    with pytest.raises(HicdiffError, match="--far-from must be a distance of at least 0 bp"):
        check_options("mean", 1.0, guidance_far=4.0, guided=True, far_from=-1)
    check_options("mean", 1.0, guidance_far=4.0, guided=True, far_from=0)
