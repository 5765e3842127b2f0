"""Training on two devices: ``hicdiff train --devices 2 --strategy ddp`` on the CPU (gloo), in a subprocess.

Lightning starts the second process by running the same command again, so the test runs the installed
``hicdiff`` script the way a user does.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hicdiff.checkpoint import load_checkpoint
from hicdiff.config import load_config
from hicdiff.data import BandStore, WindowSampler
from hicdiff.io import open_cells


def hicdiff_script() -> str:
    return str(Path(sys.executable).with_name("hicdiff"))


def test_each_rank_draws_its_own_windows(lee_scool):
    cfg = load_config("tiny")
    store = BandStore.load(open_cells(lee_scool), ["chr19", "chr20", "chr21", "chr22"], cfg.max_diag,
                           cfg.padded_diags, cfg.tile_rows)
    cells = list(range(len(store.names)))

    def draw(**kw):
        batch = WindowSampler(store, cells, cfg.window_rows, 32, seed=5, **kw).sample()
        return batch["cell"], batch["locus_start"]

    single, rank0, rank1 = draw(), draw(rank=0), draw(rank=1)
    assert all(torch.equal(a, b) for a, b in zip(single, rank0))   # rank 0 keeps the single-device stream
    assert not all(torch.equal(a, b) for a, b in zip(rank0, rank1))
    assert all(torch.equal(a, b) for a, b in zip(rank1, draw(rank=1)))


def test_an_unknown_strategy_is_refused_before_the_cells_load(lee_scool, tmp_path):
    from click.testing import CliRunner

    from hicdiff.cli import cli

    r = CliRunner().invoke(cli, ["train", str(lee_scool), "-o", str(tmp_path / "m.ckpt"), "--config", "tiny",
                                 "--strategy", "dpp"])
    assert r.exit_code == 2 and "unknown strategy 'dpp'" in r.output and "ddp_spawn" in r.output
    r = CliRunner().invoke(cli, ["train", str(lee_scool), "-o", str(tmp_path / "m.ckpt"), "--devices", "two"])
    assert r.exit_code == 2 and "--devices" in r.output


@pytest.mark.filterwarnings("ignore:.*LeafSpec")
def test_train_on_two_cpu_processes_writes_a_loadable_checkpoint(lee_scool, tmp_path):
    out = tmp_path / "ddp.ckpt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "NODE_RANK"):
        env.pop(name, None)
    proc = subprocess.run([hicdiff_script(), "train", str(lee_scool), "-o", str(out), "--config", "tiny",
                           "--max-steps", "4", "--threads", "1", "--device", "cpu", "--devices", "2",
                           "--strategy", "ddp"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=170)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trained 4 steps") == 1        # the second process prints nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp.ckpt"]   # no lock or partial file left
    model, tokenizer, layout, ckpt = load_checkpoint(out)
    assert ckpt["step"] == 4 and layout.chroms == ["chr19", "chr20", "chr21", "chr22"]
    ce = ckpt["data"]["val/ce_t1"]
    assert np.isfinite(ce)

    # the validation numbers of the two processes were added up: one device scores the same weights alike
    import lightning.pytorch as L

    from hicdiff.training import CellsDataModule, DiffusionModule

    cfg = load_config("tiny")
    data = CellsDataModule(str(lee_scool), cfg, tokenizer=tokenizer)
    module = DiffusionModule(model, tokenizer, cfg)
    L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
              enable_model_summary=False).validate(module, datamodule=data, verbose=False)
    assert module.val_results["val/ce_t1"] == pytest.approx(ce, rel=1e-5)
