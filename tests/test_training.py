"""Training: configuration, data windows, the tiny preset end to end, checkpoints, seeding and the CLI."""

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hicdiff.checkpoint import load_checkpoint
from hicdiff.cli import cli
from hicdiff.config import PRESETS, TrainConfig, load_config
from hicdiff.data import BandStore, ValidationSet, WindowSampler, distance_only_ce, split_cells
from hicdiff.errors import HicdiffError
from hicdiff.io import open_cells
from hicdiff.tokens import Tokenizer

REPO = Path(__file__).resolve().parents[1]


# -- configuration -------------------------------------------------------------------------------------------
def test_presets_load_and_small_is_the_default():
    for name in PRESETS:
        assert isinstance(load_config(name), TrainConfig)
    assert load_config("small") == load_config(None) == TrainConfig()
    small = load_config("small")
    assert (small.width, small.depth, small.heads, small.tile_rows, small.tile_diags) == (128, 4, 4, 4, 8)
    assert (small.window_rows, small.max_diag, small.n_classes) == (128, 32, 8)
    tiny = load_config("tiny")
    assert tiny.width == 32 and tiny.window_rows == 32 and tiny.depth <= 2


def test_config_symlinks_point_at_the_package_presets():
    for name in PRESETS:
        link = REPO / "configs" / f"{name}.yaml"
        assert link.is_symlink()
        assert link.resolve() == (REPO / "hicdiff" / "presets" / f"{name}.yaml").resolve()
        assert load_config(str(link)) == load_config(name)


def test_config_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("width: 64\nwidht: 3\n")
    with pytest.raises(HicdiffError, match="widht"):
        load_config(str(bad))
    with pytest.raises(HicdiffError, match="no such configuration"):
        load_config("nonexistent-preset")
    with pytest.raises(HicdiffError, match="tile_rows"):
        load_config("tiny", window_rows=30)
    with pytest.raises(HicdiffError, match="n_loci"):
        load_config(None, n_loci=5)
    with pytest.raises(HicdiffError, match="lr must be a number"):
        load_config(None, lr="fast")
    ok = tmp_path / "ok.yaml"
    ok.write_text("lr: 1e-3\nmax_steps: 100\n")                  # YAML reads 1e-3 as a string
    assert load_config(str(ok)).lr == 0.001


# -- data ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(lee_scool):
    cfg = load_config("tiny")
    cs = open_cells(lee_scool)
    return BandStore.load(cs, ["chr19", "chr20", "chr21", "chr22"], cfg.max_diag, cfg.padded_diags, cfg.tile_rows)


def test_split_cells_is_seeded_and_keeps_order():
    names = [f"c{k}" for k in range(30)]
    train, val = split_cells(names, 0.1, 2, seed=0)
    assert len(val) == 3 and len(train) == 27 and sorted(train + val) == sorted(names)
    assert split_cells(names, 0.1, 2, seed=0) == (train, val)
    assert split_cells(names, 0.1, 2, seed=1) != (train, val)
    assert split_cells(names[:5], 0.1, 2, seed=0)[1].__len__() == 2
    with pytest.raises(HicdiffError, match="too few"):
        split_cells(names[:2], 0.1, 2, seed=0)


def test_validation_cells_are_capped_and_small_sets_split_as_before():
    names = [f"c{k}" for k in range(1000)]
    train, val = split_cells(names, 0.1, 2, seed=0, max_cells=64)
    uncapped = split_cells(names, 0.1, 2, seed=0)[1]
    assert len(val) == 64 and len(train) == 936 and set(val) < set(uncapped)
    assert split_cells(names[:300], 0.1, 2, seed=0, max_cells=64) == split_cells(names[:300], 0.1, 2, seed=0)
    assert load_config(None).val_max_cells == 64
    with pytest.raises(HicdiffError, match="val_max_cells"):
        load_config(None, val_max_cells=1)


def test_training_windows_match_the_cells_band_grids(store, lee_scool):
    """Window starts are whole tiles, locus indices exact, rows past the chromosome's end invalid and zero."""
    from hicdiff._cellmaps import cell_bands
    from hicdiff.windows import window

    cfg = load_config("tiny")
    cs = open_cells(lee_scool)
    batch = WindowSampler(store, list(range(len(store.names))), cfg.window_rows, 64, seed=3).sample()
    offsets = store.layout.locus_offset
    ends = 0
    for b in range(len(batch["cell"])):
        cell, locus = int(batch["cell"][b]), int(batch["locus_start"][b])
        # the chromosome whose genomic tiles hold this locus, and the window's first row in it
        k = max(i for i, c in enumerate(store.layout.chroms) if offsets[c] <= locus)
        chrom = store.layout.chroms[k]
        start = (locus - offsets[chrom]) * cfg.tile_rows
        band = cell_bands(cs, store.names[cell], cfg.max_diag, [chrom])[chrom][0]
        counts, valid = window(band, start, cfg.window_rows, cfg.padded_diags)
        assert np.array_equal(batch["valid"][b].numpy(), valid)
        assert np.array_equal(batch["counts"][b].numpy(), counts)
        assert batch["depth"][b] == pytest.approx(float(store.depth[cell]))
        ends += start + cfg.window_rows > band.shape[0]
    assert ends > 0                                                # some windows reach past a chromosome's end


def test_validation_windows_cover_each_entry_once(store):
    tok = Tokenizer(8)
    val = ValidationSet.build(store, [0, 1], tok, window_rows=32, rho=0.2, t=[0.5, 1.0], seed=0)
    assert int(val.valid.sum()) == 2 * int(store.valid.sum())
    assert torch.equal(val.masked[1], val.valid)                 # t = 1: everything valid is masked
    share = val.masked[0].sum() / val.valid.sum()
    assert 0.45 < float(share) < 0.55
    assert (val.target[~val.valid] == tok.pad_id).all()
    again = ValidationSet.build(store, [0, 1], tok, window_rows=32, rho=0.2, t=[0.5, 1.0], seed=0)
    assert torch.equal(again.observed, val.observed) and torch.equal(again.masked, val.masked)
    ce = distance_only_ce(store, list(range(2, len(store.names))), val, tok)
    assert 0 < ce < math.log(8)


# -- training end to end -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(lee_scool, tmp_path_factory):
    from hicdiff.training import train

    out = tmp_path_factory.mktemp("train") / "tiny.ckpt"
    return train(lee_scool, out, load_config("tiny"), device="cpu")


def test_tiny_training_loss_falls(tiny_run):
    losses = [loss for _, loss in tiny_run.history]
    assert tiny_run.steps == load_config("tiny").max_steps
    assert losses[-1] < 0.7 * losses[0]
    assert tiny_run.val_ce_t1 < 0.7 * math.log(8)               # well below an untrained (uniform) model
    assert set(tiny_run.val) == {"val/ce_t0.25", "val/ce_t0.5", "val/ce_t0.75", "val/ce_t1"}
    assert tiny_run.entries_per_s > 0


def test_checkpoint_reloads_to_identical_predictions(tiny_run, lee_scool):
    model, tokenizer, layout, ckpt = load_checkpoint(tiny_run.checkpoint)
    assert ckpt["step"] == tiny_run.steps
    assert layout.chroms == ["chr19", "chr20", "chr21", "chr22"]
    data = ckpt["data"]
    assert len(data["training_cells"]) == 10 and len(data["validation_cells"]) == 2
    assert not set(data["training_cells"]) & set(data["validation_cells"])
    assert data["val/ce_t1"] == pytest.approx(tiny_run.val_ce_t1)
    assert data["val/ce_t1_distance_only"] == pytest.approx(tiny_run.distance_only_ce)
    assert ckpt["training"]["t_one_fraction"] == load_config("tiny").t_one_fraction
    assert tokenizer.values[1] == 1.0 and tokenizer.values[3] > 3.0   # fitted class values
    g = torch.Generator().manual_seed(0)
    cfg = model.cfg
    shape = (3, cfg.window_rows, cfg.padded_diags)
    obs = torch.randint(0, cfg.n_classes, shape, generator=g)
    tgt = torch.full(shape, tokenizer.mask_id)
    args = (obs, tgt, torch.tensor([0, 5, 20]), torch.full((3,), -1.0), torch.full((3,), 0.25), torch.full((3,), 1e6))
    with torch.no_grad():
        assert torch.equal(model(*args), tiny_run.model(*args))


def test_seeded_cpu_runs_are_identical(lee_scool, tmp_path):
    from hicdiff.training import train

    cfg = dict(max_steps=8, checkpoint_every=0)
    a = train(lee_scool, tmp_path / "a.ckpt", load_config("tiny", seed=7, **cfg), device="cpu")
    b = train(lee_scool, tmp_path / "b.ckpt", load_config("tiny", seed=7, **cfg), device="cpu")
    c = train(lee_scool, tmp_path / "c.ckpt", load_config("tiny", seed=8, **cfg), device="cpu")
    sa, sb, sc = (r.model.state_dict() for r in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert a.val == b.val


# -- command line --------------------------------------------------------------------------------------------
def test_cli_train_tiny(lee_scool, tmp_path):
    out = tmp_path / "m.ckpt"
    r = CliRunner().invoke(cli, ["train", str(lee_scool), "-o", str(out), "--config", "tiny", "--max-steps", "6",
                                 "--threads", "1", "--seed", "3", "--chromosomes", "chr21,chr22",
                                 "--max-distance", "8000000", "--batch-size", "4"])
    assert r.exit_code == 0, r.output
    assert "trained 6 steps" in r.output and "distance-only" in r.output
    _, _, layout, ckpt = load_checkpoint(out)
    assert layout.chroms == ["chr21", "chr22"]
    assert ckpt["model_config"]["max_diag"] == 8
    assert ckpt["training"]["batch_size"] == 4 and ckpt["training"]["seed"] == 3
    assert not os.path.exists(f"{out}.partial")


def test_cli_train_bad_inputs(lee_scool, tmp_path):
    runner = CliRunner()
    missing = tmp_path / "missing.scool"
    r = runner.invoke(cli, ["train", str(missing), "-o", str(tmp_path / "m.ckpt")])
    assert r.exit_code != 0 and "no such file" in r.output and str(missing) in r.output
    r = runner.invoke(cli, ["train", str(lee_scool), "-o", str(tmp_path / "m.ckpt"), "--config", "huge"])
    assert r.exit_code != 0 and "presets: tiny, small, base" in r.output
    r = runner.invoke(cli, ["train", str(lee_scool), "-o", str(tmp_path / "m.ckpt"), "--config", "tiny",
                            "--chromosomes", "chr99"])
    assert r.exit_code != 0 and "chr99" in r.output
    r = runner.invoke(cli, ["train", str(lee_scool), "-o", str(tmp_path / "no" / "m.ckpt"), "--config", "tiny"])
    assert r.exit_code != 0 and "does not exist" in r.output
