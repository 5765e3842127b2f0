"""Guidance by neighbours: each cell's nearest cells in an embedding, pooled as its prior."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hicdiff.cli import cli
from hicdiff.config import load_config
from hicdiff.errors import HicdiffError
from hicdiff.guidance import NeighbourPrior
from hicdiff.io import file_metadata, open_cells
from hicdiff.neighbours import nearest_cells
from hicdiff.references import label_folds
from hicdiff.split import split_cells


def test_nearest_cells_orders_by_distance_and_never_picks_the_cell_itself():
    x = np.array([[0.0], [1.0], [3.0], [10.0]])
    near = nearest_cells(x, ["a", "b", "c", "d"], 2)
    assert near == {"a": ["b", "c"], "b": ["a", "c"], "c": ["b", "a"], "d": ["c", "b"]}
    # only "among" cells may be neighbours
    assert nearest_cells(x, ["a", "b", "c", "d"], 1, among=["c", "d"])["a"] == ["c"]
    with pytest.raises(HicdiffError, match="only 3 other cells"):
        nearest_cells(x, ["a", "b", "c", "d"], 4)


def test_a_neighbour_prior_is_the_sum_of_the_neighbours(lee_scool):
    cs = open_cells(str(lee_scool))
    a, b, c = cs.names[:3]
    chroms = cs.chromnames[:1]
    prior = NeighbourPrior(cs, {n: [b, c] if n == a else [a] for n in cs.names}, chroms, 8, 8)
    bands, depth = prior.for_cell(a)
    from hicdiff._cellmaps import cell_bands

    want = sum(cell_bands(cs, n, 8, chroms)[chroms[0]][0] for n in (b, c))
    assert np.allclose(bands[chroms[0]], want)
    assert depth == pytest.approx(want.sum())
    with pytest.raises(HicdiffError, match="not a cell of the input"):
        NeighbourPrior(cs, {n: ["nobody"] for n in cs.names}, chroms, 8, 8)


@pytest.fixture(scope="module")
def neighbour_model(lee_scool, tmp_path_factory):
    """A tiny model trained with each training cell's 3 nearest training cells as its prior."""
    from hicdiff.training import train

    tmp = tmp_path_factory.mktemp("neighbours")
    inp, held = str(tmp / "input.scool"), str(tmp / "heldout.scool")
    split_cells(str(lee_scool), inp, held, heldout_fraction=0.2, seed=0)
    cfg = load_config("tiny", max_steps=60, prior_by="neighbours", prior_neighbours=3, val_fraction=0.2,
                      neighbours_from="general")
    model = str(tmp / "nb.ckpt")
    train(inp, model, cfg, device="cpu", threads=1)
    return {"model": model, "input": inp, "tmp": tmp}


def test_imputation_guided_by_neighbours_records_them_and_differs_from_unguided(neighbour_model):
    import cooler

    m, tmp = neighbour_model, neighbour_model["tmp"]
    runner = CliRunner()
    guided, plain = str(tmp / "guided.scool"), str(tmp / "plain.scool")
    r = runner.invoke(cli, ["impute", m["input"], "--model", m["model"], "-o", guided, "--guide-neighbours", "2",
                            "--threads", "1"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["impute", m["input"], "--model", m["model"], "-o", plain, "--threads", "1"])
    assert r.exit_code == 0, r.output
    cs = open_cells(guided)
    name = cs.names[0]
    meta = cs.cell_metadata(name)
    assert len(meta["neighbours"]) == 2 and name not in meta["neighbours"]
    assert set(meta["neighbours"]) <= set(cs.names)
    a = cooler.Cooler(f"{guided}::/cells/{name}").pixels()[:]["count"].to_numpy()
    b = cooler.Cooler(f"{plain}::/cells/{name}").pixels()[:]["count"].to_numpy()
    assert a.shape == b.shape and not np.allclose(a, b)


def test_neighbours_among_the_imputed_cells_stay_inside_them(neighbour_model, tmp_path):
    m = neighbour_model
    names = open_cells(m["input"]).names
    chosen = names[: max(3, len(names) // 2)]
    listed = tmp_path / "fold.txt"
    listed.write_text("".join(f"{n}\n" for n in chosen))
    out = str(tmp_path / "fold.scool")
    r = CliRunner().invoke(cli, ["impute", m["input"], "--model", m["model"], "-o", out, "--cells", str(listed),
                                 "--guide-neighbours", "2", "--neighbours-among", "cells", "--threads", "1"])
    assert r.exit_code == 0, r.output
    cs = open_cells(out)
    assert sorted(cs.names) == sorted(chosen)
    for n in cs.names:
        assert set(cs.cell_metadata(n)["neighbours"]) <= set(chosen) - {n}
    assert "imputed cells" in file_metadata(out)["parameters"]["neighbours_among"]
    bad = CliRunner().invoke(cli, ["impute", m["input"], "--model", m["model"], "-o", str(tmp_path / "x.scool"),
                                   "--guide-neighbours", "2", "--neighbours-among", "cells"])
    assert bad.exit_code != 0 and "--cells" in bad.output


def test_neighbours_found_inside_impute_many_leave_its_whole_chromosomes_intact(neighbour_model):
    # finding neighbours embeds the cells with the same imputer (its band); the imputation after it must still
    # see every diagonal of the cell, as when the prior is made first (what hicdiff impute does)
    from hicdiff.impute import Imputer

    imp = Imputer.from_checkpoint(neighbour_model["model"], device="cpu")
    cells = open_cells(neighbour_model["input"])
    names = cells.names[:2]
    chroms = ["chr19"]
    source = imp.prior_source(cells, chroms, cells.n_bins("chr19") - 1, guide_neighbours=2)
    first = [r.bands["chr19"] for r in imp.impute_many(cells, names, chroms=chroms, max_distance="whole",
                                                        prior=source, guidance_far=3.0)]
    inside = [r.bands["chr19"] for r in imp.impute_many(cells, names, chroms=chroms, max_distance="whole",
                                                         guide_neighbours=2, guidance_far=3.0)]
    for a, b in zip(first, inside):
        assert a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-7)


def test_label_folds_alternate_cells_of_each_label_in_name_order():
    labels = pd.Series(["a", "b", "a", "a", "b"], index=["c3", "c1", "c2", "c0", "c4"])
    assert label_folds(labels) == {"c0": 0, "c2": 1, "c3": 0, "c1": 0, "c4": 1}


def test_neighbours_need_a_model_with_a_prior_channel(lee_scool, tmp_path):
    r = CliRunner().invoke(cli, ["impute", str(lee_scool), "--model", "general", "-o", str(tmp_path / "x.scool"),
                                 "--guide-neighbours", "2"])
    assert r.exit_code != 0 and "no prior channel" in r.output
