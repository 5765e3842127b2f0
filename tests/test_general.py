"""The general model's pieces: a portable network across resolutions and assemblies, fine-tuning with
``--init``, training over several inputs, and the model shipped in the package."""

import os
import socket

import numpy as np
import pytest
from click.testing import CliRunner

from hicdiff.checkpoint import load_checkpoint, resolve_model
from hicdiff.cli import cli
from hicdiff.config import load_config
from hicdiff.errors import HicdiffError
from hicdiff.impute import Imputer, impute_scool
from hicdiff.io import open_cells


@pytest.fixture(scope="module")
def portable(lee_scool, tmp_path_factory):
    """A tiny portable model (no per-locus embedding) trained on 1 Mb human cells."""
    from hicdiff.training import train

    out = str(tmp_path_factory.mktemp("general") / "portable.ckpt")
    cfg = load_config("tiny", locus_embedding=False, max_steps=30, pixel_split_fraction=0.3)
    result = train(str(lee_scool), out, cfg, device="cpu", threads=1)
    return out, result


def test_a_portable_checkpoint_imputes_another_resolution_and_assembly(portable, data_dir, tmp_path):
    path, _ = portable
    model, _, layout, ckpt = load_checkpoint(path)
    assert model.cfg.portable and model.cfg.n_loci == 0
    assert ckpt["data"]["resolutions"] == [1_000_000] and ckpt["data"]["assemblies"] == ["hg19"]
    mouse = data_dir / "gse100569_mouse_scool" / "scool_test_file.scool"    # mm9, 100 kb, chroms "1".."X"
    out = tmp_path / "mouse.scool"
    impute_scool(str(mouse), path, str(out), cells=open_cells(mouse).names[:1], chroms=["19"], device="cpu")
    got = open_cells(out)
    assert got.resolution == 100_000
    px = got.pixels(got.names[0])
    d = px["bin2_id"] - px["bin1_id"]
    assert np.isfinite(px["count"]).all() and (px["count"] >= 0).all()
    assert d.max() == model.cfg.max_diag and (d > 0).sum() > 1000


def test_a_per_locus_checkpoint_refuses_another_resolution_clearly(lee_scool, data_dir, tmp_path):
    from hicdiff.checkpoint import untrained_checkpoint

    path = untrained_checkpoint(tmp_path / "locus.ckpt", open_cells(lee_scool), load_config("tiny"))
    mouse = data_dir / "gse100569_mouse_scool" / "scool_test_file.scool"
    with pytest.raises(HicdiffError, match="does not match the model's 1000000 bp"):
        impute_scool(str(mouse), path, str(tmp_path / "o.scool"), device="cpu")


def test_init_keeps_the_weights_it_loads(portable, lee_scool, tmp_path):
    """Fine-tuning starts where the loaded model is: after one step at a vanishing learning rate the
    validation loss is the loaded model's, far below a fresh network's."""
    from hicdiff.training import train

    path, first = portable
    cfg = load_config("tiny", max_steps=1, lr=1e-12, warmup_steps=1)
    tuned = train(str(lee_scool), str(tmp_path / "tuned.ckpt"), cfg, device="cpu", threads=1, init=path)
    assert tuned.val_ce_t1 == pytest.approx(first.val_ce_t1, abs=1e-4)
    fresh = train(str(lee_scool), str(tmp_path / "fresh.ckpt"), load_config("tiny", max_steps=1, lr=1e-12,
                                                                            warmup_steps=1, locus_embedding=False),
                  device="cpu", threads=1)
    assert fresh.val_ce_t1 > first.val_ce_t1 + 0.1
    ckpt = load_checkpoint(str(tmp_path / "tuned.ckpt"))[3]
    assert ckpt["training"]["init"] == path
    assert ckpt["tokenizer"] == load_checkpoint(path)[3]["tokenizer"]      # class values kept


def test_fine_tuning_with_another_band_saves_that_band(portable, lee_scool, tmp_path):
    """A portable network fine-tuned with a wider band (--max-distance) imputes that band afterwards."""
    from hicdiff.training import train

    path, _ = portable
    assert load_checkpoint(path)[0].cfg.max_diag != 24
    train(str(lee_scool), str(tmp_path / "wide.ckpt"), load_config("tiny", max_steps=1, max_diag=24),
          device="cpu", threads=1, init=path)
    model, _, _, ckpt = load_checkpoint(str(tmp_path / "wide.ckpt"))
    assert model.cfg.max_diag == 24 == ckpt["data"]["max_diag"]


def test_train_over_several_inputs_of_several_resolutions(lee_scool, data_dir, tmp_path):
    mouse = data_dir / "gse100569_mouse_scool" / "scool_test_file.scool"
    out = tmp_path / "multi.ckpt"
    r = CliRunner().invoke(cli, ["train", str(lee_scool), str(mouse), "-o", str(out), "--config", "tiny",
                                 "--max-steps", "5", "--threads", "1"])
    assert r.exit_code == 2 and "locus_embedding: false" in r.output      # several inputs need no loci
    cfg = tmp_path / "portable.yaml"
    cfg.write_text("locus_embedding: false\nchromosomes: [chr21, chr22, '18', '19']\n"
                   "width: 32\ndepth: 1\nheads: 2\nwindow_rows: 32\nmax_diag: 16\nbatch_size: 8\nval_batch_size: 32\n")
    r = CliRunner().invoke(cli, ["train", str(lee_scool), str(mouse), "-o", str(out), "--config", str(cfg),
                                 "--max-steps", "5", "--threads", "1"])
    assert r.exit_code == 0, r.output
    data = load_checkpoint(str(out))[3]["data"]
    assert data["resolutions"] == [100_000, 1_000_000] and data["assemblies"] == ["hg19", "mm9"]
    assert [i["chromosomes"] for i in data["inputs"]] == [["chr21", "chr22"], ["18", "19"]]


def test_fine_tuning_a_single_cell_validates_on_it(portable, data_dir, tmp_path):
    """One cell (the Dip-C set) is too few to hold any out: fine-tuning trains and validates on it."""
    from hicdiff.training import train

    src = open_cells(data_dir / "nagano2017_mesc_scool" / "test_matrix.scool")
    one = tmp_path / "one.scool"
    from hicdiff.io import write_scool

    name = src.names[0]
    write_scool(str(one), src.bins, [(name, src.pixels(name))])
    result = train(str(one), str(tmp_path / "t.ckpt"), load_config("tiny", max_steps=2), device="cpu",
                   threads=1, init=portable[0])
    assert result.steps == 2 and np.isfinite(result.val_ce_t1)



def test_the_general_model_loads_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    path = resolve_model("general")
    imp = Imputer.from_checkpoint("general", device="cpu")
    assert imp.path == path and imp.cfg.portable and imp.cfg.n_loci == 0
    data = imp.checkpoint["data"]
    assert {1_000_000, 500_000, 200_000, 100_000} <= set(data["resolutions"])
    kept_out = ("dipc_gm12878_cell11", "nagano2017")
    assert not any(k in i["scool"] for i in data["inputs"] for k in kept_out)
    from pathlib import Path
    kept_cells = Path(__file__).resolve().parents[1] / "configs" / "lee2019_kept_out.txt"
    kept_cells = {n.removesuffix(".txt.gz") for n in kept_cells.read_text().splitlines() if n and n[0] != "#"}
    trained_on = {n for i in data["inputs"] for n in i["training_cells"] + i["validation_cells"]}
    assert len(kept_cells) == 60 and not kept_cells & trained_on
    assert imp.model.n_params() < 20e6 / 4    # float32 weights under the 20 MB the wheel allows
    assert os.path.getsize(path) < 20e6
