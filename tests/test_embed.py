"""hicdiff embed: an AnnData .h5ad of the cells with the model's embedding (tiny real slice, untrained model)."""

import anndata
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hicdiff.checkpoint import untrained_checkpoint
from hicdiff.cli import cli
from hicdiff.config import load_config
from hicdiff.embed import StateRecorder, embed_cells, embedding_summary, state_map, thinning, write_h5ad
from hicdiff.impute import Imputer
from hicdiff.io import open_cells


@pytest.fixture(scope="module")
def tiny_model(lee_scool, tmp_path_factory):
    cells = open_cells(lee_scool)
    return untrained_checkpoint(tmp_path_factory.mktemp("embed") / "tiny.ckpt", cells, load_config("tiny"))


def test_h5ad_round_trip(lee_scool, tiny_model, tmp_path):
    cells = open_cells(lee_scool)
    adata = embed_cells(lee_scool, tiny_model, n_components=5, pca_components=4, clusters=4, threads=1)
    out = write_h5ad(adata, tmp_path / "cells.h5ad")
    assert not (tmp_path / "cells.h5ad.partial").exists()
    back = anndata.read_h5ad(out)
    assert list(back.obs_names) == cells.names
    stored = cells.metadata()
    assert list(back.obs["cell_type"].astype(str)) == list(stored.loc[cells.names, "cell_type"])
    assert list(back.obs["batch"].astype(str)) == list(stored.loc[cells.names, "batch"].astype(str))
    assert back.obsm["X_hicdiff"].shape == (len(cells), 5)
    assert back.obsm["X_pca"].shape == (len(cells), 4)
    assert np.isfinite(back.obsm["X_hicdiff"]).all()
    assert back.obs["hicdiff_cluster"].nunique() <= 4
    assert (back.obs["contacts"] > back.obs["band_contacts"]).all()
    assert back.uns["hicdiff"]["parameters"]["n_components"] == 5
    # what hicdiff evaluate --embedding puts in the report
    table, scatter = embedding_summary(out)
    assert list(table["representation"]) == ["X_hicdiff", "X_pca"]
    assert table[["ari", "knn_accuracy"]].notna().all().all() and "cluster_ari" in table
    assert len(scatter) == 2 * len(cells) and set(scatter["label"]) == set(stored["cell_type"])


def test_without_pca_the_states_embedding_is_the_same(lee_scool, tiny_model):
    full = embed_cells(lee_scool, tiny_model, n_components=5, pca_components=4, threads=1)
    fast = embed_cells(lee_scool, tiny_model, n_components=5, threads=1, pca=False)
    assert "X_pca" not in fast.obsm
    assert np.allclose(fast.obsm["X_hicdiff"], full.obsm["X_hicdiff"], rtol=1e-5, atol=1e-6)
    assert np.array_equal(fast.obs["band_contacts"], full.obs["band_contacts"])


def test_state_map_and_thinning(lee_scool, tiny_model):
    cells = open_cells(lee_scool)
    imp = Imputer.from_checkpoint(tiny_model, threads=1)
    chroms = imp.chromosomes(cells)
    shapes = {c: cells.n_bins(c) for c in chroms}
    name = cells.names[0]
    depths = {}

    def record(n, bands):
        depths[n] = sum(b.sum() for b, _ in bands.values())
        return bands

    # states of the model's band windows, as hicdiff.embed asks for them
    next(imp.impute_many(cells, [name], chroms=chroms, transform=record, max_distance="band"))
    rec = StateRecorder(imp.model)
    try:
        thin = thinning(depths, depths[name] / 4, seed=0)
        next(imp.impute_many(cells, [name], chroms=chroms, transform=thin, max_distance="band"))
        states = rec.take()
    finally:
        rec.remove()
    cfg = imp.cfg
    assert {w.shape for w in states} == {(cfg.row_tiles * cfg.diag_tiles, cfg.width)}
    m = state_map(imp, states, shapes)
    assert m.shape == (sum(-(-n // cfg.tile_rows) for n in shapes.values()), cfg.diag_tiles, cfg.width)
    thinned = thin(name, _bands(cells, name, cfg.max_diag, chroms))
    total = sum(b.sum() for b, _ in thinned.values())
    assert 0.15 * depths[name] < total < 0.35 * depths[name]
    again = thin(name, _bands(cells, name, cfg.max_diag, chroms))
    assert all(np.array_equal(again[c][0], thinned[c][0]) for c in chroms)


def test_a_band_wider_than_the_chromosomes_embeds(lee_scool, tmp_path):
    """A model whose band spans every chromosome (hicdiff train --max-distance 250000000 at 1 Mb) imputes its
    band as whole-chromosome windows of several widths; the embedding places each in the map."""
    cells = open_cells(lee_scool)
    cfg = load_config("tiny")
    cfg.max_diag = 80                                   # the test chromosomes have 49-63 bins at 1 Mb
    wide = untrained_checkpoint(tmp_path / "wide.ckpt", cells, cfg)
    imp = Imputer.from_checkpoint(wide, threads=1)
    chroms = imp.chromosomes(cells)
    shapes = {c: cells.n_bins(c) for c in chroms}
    rec = StateRecorder(imp.model)
    try:
        next(imp.impute_many(cells, [cells.names[0]], chroms=chroms, max_distance="band"))
        states = rec.take()
    finally:
        rec.remove()
    assert len({w.shape for w in states}) > 1           # windows follow each chromosome's triangle
    m = state_map(imp, states, shapes)
    assert m.shape[1] == imp.cfg.diag_tiles and np.abs(m).sum() > 0
    adata = embed_cells(lee_scool, wide, n_components=3, threads=1, pca=False)
    assert adata.obsm["X_hicdiff"].shape == (len(cells), 3) and np.isfinite(adata.obsm["X_hicdiff"]).all()


def _bands(cells, name, max_diag, chroms):
    from hicdiff._cellmaps import cell_bands

    return cell_bands(cells, name, max_diag, chroms, dtype=np.float32)


def test_cli_embed_writes_clusters(lee_scool, tiny_model, tmp_path):
    out, tsv = tmp_path / "cells.h5ad", tmp_path / "clusters.tsv"
    res = CliRunner().invoke(cli, ["--quiet", "embed", str(lee_scool), "--model", str(tiny_model), "-o", str(out),
                                   "--components", "3", "--clusters", "2", "--clusters-tsv", str(tsv),
                                   "--threads", "1"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tsv, sep="\t")
    assert list(table.columns) == ["cell", "cluster"]
    assert list(table["cell"]) == open_cells(lee_scool).names
    back = anndata.read_h5ad(out)
    assert list(back.obs["hicdiff_cluster"].astype(str)) == list(table["cluster"])
    bad = CliRunner().invoke(cli, ["embed", str(lee_scool), "--model", str(tiny_model), "-o",
                                   str(tmp_path / "x.h5ad"), "--clusters-tsv", str(tmp_path / "c.tsv")])
    assert bad.exit_code == 2 and "--clusters" in bad.output


def test_imputed_cells_are_refused(lee_scool, tiny_model, tmp_path):
    from hicdiff.errors import HicdiffError
    from hicdiff.io import write_scool

    cells = open_cells(lee_scool)
    imputed = tmp_path / "imputed.scool"
    write_scool(imputed, cells.bins, [(n, cells.pixels(n).astype({"count": float})) for n in cells.names[:2]],
                float_counts=True)
    with pytest.raises(HicdiffError, match="raw cells"):
        embed_cells(imputed, tiny_model, threads=1)
