"""Fault injection: inputs never overwritten, interruptions resumable, a full disk or a damaged file one message.

Subprocess cases run the installed ``hicdiff`` (or a small driver that kills itself mid-write) so that
``kill -9`` and ``ulimit -f`` act on a real process; the rest use click's runner in-process.
"""

import gzip
import hashlib
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hicdiff import safety
from hicdiff.checkpoint import untrained_checkpoint
from hicdiff.cli import cli
from hicdiff.config import load_config
from hicdiff.errors import HicdiffError
from hicdiff.impute import Imputer, impute_scool
from hicdiff.io import ScoolWriter, open_cells
from hicdiff.split import split_cells

HICDIFF = str(Path(sys.executable).with_name("hicdiff"))

# a hicdiff command that SIGKILLs itself in the middle of writing its Nth cell (in cooler's index writer)
KILLER = """
import os, signal, sys
import cooler.create._create as cc
write_indexes, calls = cc.write_indexes, [0]
def killing(*args, **kwargs):
    calls[0] += 1
    if calls[0] == int(os.environ["KILL_AT"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return write_indexes(*args, **kwargs)
cc.write_indexes = killing
from hicdiff.cli import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run(args, limit_kb=None, env=None, driver=None):
    """Run hicdiff in a subprocess (``ulimit -f limit_kb`` when given); returns the CompletedProcess."""
    def limit():
        if limit_kb is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_kb * 1024, resource.RLIM_INFINITY))

    cmd = [sys.executable, "-c", driver, *args] if driver else [HICDIFF, *args]
    return subprocess.run(cmd, capture_output=True, text=True, preexec_fn=limit, timeout=300,
                          env={**os.environ, **(env or {})})


def error_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.startswith("hicdiff: error: ")]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def invoke(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_refused(result, *fragments):
    assert result.exit_code == 2, result.output
    line = error_line(result.output)
    for f in fragments:
        assert f in line, line


@pytest.fixture(scope="module")
def work(lee_scool, tmp_path_factory):
    """Six cells of two chromosomes, their split and an untrained tiny model (weights do not matter here)."""
    tmp = tmp_path_factory.mktemp("reliability")
    cells = open_cells(str(lee_scool))
    names = cells.names[:6]
    inp, held = tmp / "input.scool", tmp / "heldout.scool"
    split_cells(cells, str(inp), str(held), names=names)
    model = untrained_checkpoint(tmp / "tiny.ckpt", cells, load_config("tiny"), chroms=["chr21", "chr22"])
    return {"tmp": tmp, "input": inp, "heldout": held, "model": model, "names": names,
            "sha": {p: sha256(p) for p in (inp, held, model)}}


def fresh(work, tmp_path):
    """A private copy of the input cells (so a test can hash, link and damage it)."""
    path = tmp_path / "cells.scool"
    shutil.copy(work["input"], path)
    return path


# -- no input is ever overwritten -------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["train", "train-symlink", "train-hardlink", "impute-cells", "split-cells",
                                  "baseline-labels", "impute-model", "uncertainty-is-output"])
def test_output_over_any_input_is_refused(work, tmp_path, case):
    cells = fresh(work, tmp_path)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(work["names"][:2]) + "\n")
    labels = tmp_path / "labels.tsv"
    labels.write_text("cell\tcell_type\n" + "".join(f"{n}\tX\n" for n in work["names"]))
    model = tmp_path / "m.ckpt"
    shutil.copy(work["model"], model)
    if case == "train-symlink":
        os.symlink(cells, tmp_path / "link.scool")
    if case == "train-hardlink":
        os.link(cells, tmp_path / "hard.scool")
    args = {
        "train": ["train", cells, "-o", cells, "--config", "tiny", "--max-steps", 2],
        "train-symlink": ["train", cells, "-o", tmp_path / "link.scool", "--config", "tiny", "--max-steps", 2],
        "train-hardlink": ["train", cells, "-o", tmp_path / "hard.scool", "--config", "tiny", "--max-steps", 2],
        "impute-cells": ["impute", cells, "--model", model, "--cells", names, "-o", names],
        "split-cells": ["split", cells, "--cells", names, "-o", tmp_path / "a.scool", names],
        "baseline-labels": ["baseline", cells, "-m", "pool-by-label", "--labels", labels, "-o", labels],
        "impute-model": ["impute", cells, "--model", model, "-o", model],
        "uncertainty-is-output": ["impute", cells, "--model", model, "--mode", "sample", "-o", tmp_path / "u.scool",
                                  "--uncertainty", tmp_path / "u.scool"],
    }[case]
    before = {p: sha256(p) for p in (cells, names, labels, model)}
    assert_refused(invoke(args), "is also an input")
    assert {p: sha256(p) for p in before} == before


def test_output_folder_checked_before_any_work(work, tmp_path, monkeypatch):
    cells = fresh(work, tmp_path)
    train = ["train", cells, "--config", "tiny", "--max-steps", 2, "--threads", 1]
    assert_refused(invoke([*train, "-o", tmp_path / "missing" / "m.ckpt"]), "does not exist")
    assert_refused(invoke([*train, "-o", tmp_path]), "is a folder")
    assert_refused(invoke(["evaluate", cells, "--heldout", work["heldout"], "-o", cells]), "is not a folder")
    # root may write anywhere, so an unwritable folder is simulated where the check asks
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(safety.os, "access", lambda p, mode: False if str(p) == str(ro) else real_access(p, mode))
    assert_refused(invoke([*train, "-o", ro / "m.ckpt"]), "is not writable")
    assert not list(ro.iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_in_a_subprocess(work, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        r = run(["split", str(work["input"]), "-o", str(ro / "a.scool"), str(ro / "b.scool")])
    finally:
        ro.chmod(0o755)
    assert r.returncode == 2 and "is not writable" in error_line(r.stderr)


def test_second_writer_is_refused_up_front(work, tmp_path):
    out = tmp_path / "a.scool"
    with safety.lock_output(out):  # this process is the first writer
        r = run(["split", str(work["input"]), "-o", str(out), str(tmp_path / "b.scool")])
    assert r.returncode == 2 and "another hicdiff run" in error_line(r.stderr)
    assert not out.exists() and not (tmp_path / "b.scool").exists()
    # the lock goes with its holder: now the same command runs
    r = run(["split", str(work["input"]), "-o", str(out), str(tmp_path / "b.scool")])
    assert r.returncode == 0, r.stderr
    assert not list(tmp_path.glob("*.lock"))


# -- interruptions ----------------------------------------------------------------------------------------

def _same_cells(a, b):
    ca, cb = open_cells(str(a)), open_cells(str(b))
    assert ca.names == cb.names
    for n in ca.names:
        pd.testing.assert_frame_equal(ca.pixels(n), cb.pixels(n))


def test_kill_9_during_a_cell_write_then_resume(work, tmp_path):
    full = tmp_path / "full.scool"
    impute_scool(str(work["input"]), work["model"], str(full), device="cpu")
    out = tmp_path / "out.scool"
    args = ["impute", str(work["input"]), "--model", work["model"], "-o", str(out), "--threads", "1"]
    r = run(args, env={"KILL_AT": "3"}, driver=KILLER)
    assert r.returncode == -9 and not out.exists()
    assert Path(str(out) + ".partial").exists()
    r = run([*args, "--resume"])
    assert r.returncode == 0, r.stderr
    assert '"skipped": 2' in r.stdout  # the two finished cells were kept, the one cut short redone
    assert "dropping 1 cell(s) whose write was interrupted" in r.stderr
    _same_cells(out, full)
    assert sha256(work["input"]) == work["sha"][work["input"]]


def _interrupt_after(imp, k):
    many = imp.impute_many

    def stop(*args, **kwargs):
        for i, res in enumerate(many(*args, **kwargs)):
            if i == k:
                raise KeyboardInterrupt
            yield res

    imp.impute_many = stop
    return imp


def test_resume_refuses_another_model_or_options(work, tmp_path):
    out = str(tmp_path / "out.scool")
    imp = _interrupt_after(Imputer.from_checkpoint(work["model"], device="cpu"), 2)
    with pytest.raises(KeyboardInterrupt):
        impute_scool(str(work["input"]), work["model"], out, imputer=imp)
    other = str(tmp_path / "other.ckpt")
    shutil.copy(work["model"], other)
    with pytest.raises(HicdiffError, match="cannot resume: .* another parameters"):
        impute_scool(str(work["input"]), work["model"], out, depth_ratio=2.0, resume=True, device="cpu")
    with pytest.raises(HicdiffError, match="cannot resume: .* another model"):
        impute_scool(str(work["input"]), other, out, resume=True, device="cpu")
    summary = impute_scool(str(work["input"]), work["model"], out, resume=True, device="cpu")
    assert summary["skipped"] == 2 and summary["cells"] == len(work["names"]) - 2


def test_sample_mode_resumed_equals_uninterrupted(work, tmp_path):
    opts = dict(mode="sample", samples=2, steps=2, seed=3, device="cpu")
    full = str(tmp_path / "full.scool")
    impute_scool(str(work["input"]), work["model"], full, **opts)
    out = str(tmp_path / "out.scool")
    imp = _interrupt_after(Imputer.from_checkpoint(work["model"], device="cpu"), 1)
    with pytest.raises(KeyboardInterrupt):
        impute_scool(str(work["input"]), work["model"], out, imputer=imp, **opts)
    impute_scool(str(work["input"]), work["model"], out, resume=True, **opts)
    _same_cells(out, full)
    # a cell's draws depend on the seed and its name, not on the cells beside it
    alone = str(tmp_path / "alone.scool")
    last = work["names"][-1]
    impute_scool(str(work["input"]), work["model"], alone, cells=[last], **opts)
    pd.testing.assert_frame_equal(open_cells(alone).pixels(last), open_cells(full).pixels(last))


def test_no_interrupted_message_before_an_option_error(work, tmp_path, caplog):
    out = tmp_path / "o.scool"
    with pytest.raises(HicdiffError, match="--depth-ratio must be a positive finite number"):
        impute_scool(str(work["input"]), work["model"], str(out), depth_ratio=float("nan"), device="cpu")
    assert "interrupted" not in caplog.text and not list(tmp_path.iterdir())


def test_commands_without_resume_replace_a_stale_partial(work, tmp_path):
    a, b = tmp_path / "a.scool", tmp_path / "b.scool"
    Path(str(a) + ".partial").write_text("left by a run killed with kill -9")
    r = invoke(["split", work["input"], "-o", a, b])
    assert r.exit_code == 0 and "--resume" not in r.output, r.output
    assert open_cells(str(a)).names == work["names"]


# -- a full disk ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["impute", "split", "load", "evaluate", "train"])
def test_full_disk_is_one_message_and_leaves_nothing(work, tmp_path, data_dir, case):
    lee = data_dir / "lee2019_pfc"
    cell_file = sorted((lee / "cells").iterdir())[0]
    out = tmp_path / ("report" if case == "evaluate" else "out.ckpt" if case == "train" else "out.scool")
    args, kb = {
        "impute": (["impute", work["input"], "--model", work["model"], "--threads", 1, "-o", out], 30),
        "split": (["split", work["input"], "-o", out, tmp_path / "b.scool"], 30),
        "load": (["load", cell_file, "-r", 100_000, "-c", lee / "hg19.chrom.sizes", "-o", out], 100),
        "evaluate": (["evaluate", work["input"], "--heldout", work["heldout"], "-o", out], 4),
        "train": (["train", work["input"], "--config", "tiny", "--max-steps", 2, "--threads", 1, "-o", out], 20),
    }[case]
    inputs = [p for p in args if isinstance(p, Path) and p.is_file()]
    before = {p: sha256(p) for p in inputs}
    r = run([str(a) for a in args], limit_kb=kb)
    assert r.returncode == 2, r.stderr[-2000:]
    assert error_line(r.stderr) == f"hicdiff: error: no space left writing {out}"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert {p: sha256(p) for p in inputs} == before


# -- damaged inputs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["info", "impute", "train", "split", "baseline", "evaluate", "heldout",
                                     "merge"])
def test_truncated_hdf5_is_named(work, tmp_path, command):
    bad = tmp_path / "cut.scool"
    bad.write_bytes(Path(work["input"]).read_bytes()[:50_000])
    out = tmp_path / "o.scool"
    args = {
        "info": ["info", bad],
        "impute": ["impute", bad, "--model", work["model"], "-o", out],
        "train": ["train", bad, "-o", tmp_path / "m.ckpt", "--config", "tiny", "--max-steps", 2],
        "split": ["split", bad, "-o", out, tmp_path / "h.scool"],
        "baseline": ["baseline", bad, "-m", "decay", "-o", out],
        "evaluate": ["evaluate", bad, "--heldout", work["heldout"], "-o", tmp_path / "r"],
        "heldout": ["evaluate", work["input"], "--heldout", bad, "-o", tmp_path / "r"],
        "merge": ["merge", bad, work["heldout"], "-o", out],
    }[command]
    assert_refused(invoke(args), str(bad), "truncated")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.scool"]


def test_missing_or_text_imputed_file_in_evaluate(work, tmp_path):
    text = tmp_path / "text.scool"
    text.write_text("not a cooler\n")
    assert_refused(invoke(["evaluate", tmp_path / "none.scool", "--heldout", work["heldout"], "-o", tmp_path / "r"]),
                   "none.scool", "no such file")
    assert_refused(invoke(["evaluate", text, "--heldout", work["heldout"], "-o", tmp_path / "r"]),
                   "text.scool", "not HDF5")


def _load(data_dir, tmp_path, *extra, files=None):
    lee = data_dir / "lee2019_pfc"
    files = files or [sorted((lee / "cells").iterdir())[0]]
    return invoke(["load", *files, "-r", 1_000_000, "-c", lee / "hg19.chrom.sizes", "--chromosomes", "chr21",
                   "-o", tmp_path / "out.scool", *extra])


def test_truncated_gz_is_named(data_dir, tmp_path):
    src = sorted((data_dir / "lee2019_pfc" / "cells").iterdir())[0]
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(src.read_bytes()[:20_000])
    assert_refused(_load(data_dir, tmp_path, files=[cut]), "cut.txt.gz", "truncated or damaged gzip")


def test_labels_tables(data_dir, tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    assert_refused(_load(data_dir, tmp_path, "--labels", empty), "empty.tsv", "labels table is empty")
    comma = tmp_path / "labels.csv"
    table = pd.read_csv(data_dir / "lee2019_pfc" / "cells.tsv", sep="\t")
    table.to_csv(comma, index=False)
    r = _load(data_dir, tmp_path, "--labels", comma, "--strict")
    assert r.exit_code == 0, r.output
    meta = open_cells(str(tmp_path / "out.scool")).metadata()
    assert meta["cell_type"].notna().all()


def test_non_utf8_sizes_file(data_dir, tmp_path):
    sizes = tmp_path / "sizes.txt"
    sizes.write_bytes(b"\xff\xfe\x00chr21\t48129895\n")
    cell = sorted((data_dir / "lee2019_pfc" / "cells").iterdir())[0]
    r = invoke(["load", cell, "-r", 1_000_000, "-c", sizes, "-o", tmp_path / "o.scool"])
    assert_refused(r, "sizes.txt", "not UTF-8")


def test_counts_above_int32_are_refused_not_clamped(data_dir, tmp_path):
    sizes = tmp_path / "sizes.txt"
    sizes.write_text("chr1\t3000000\n")
    cell = tmp_path / "big.txt.gz"
    with gzip.open(cell, "wt") as fh:
        fh.write("chr1\t0\tchr1\t1500000\t3000000000\nchr1\t0\tchr1\t10\t5\n")
    r = invoke(["load", cell, "-r", 1_000_000, "-c", sizes, "-o", tmp_path / "o.scool"])
    assert_refused(r, "2^31-1", "big")
    assert not (tmp_path / "o.scool").exists() and not (tmp_path / "o.scool.partial").exists()


def test_chromosome_names_the_cells_lack(work, tmp_path, data_dir):
    lee = data_dir / "lee2019_pfc"
    (tmp_path / "sizes").write_text("21\t48129895\n22\t51304566\n")
    (tmp_path / "map").write_text("chr21\t21\nchr22\t22\n")
    cells = [lee / "cells" / f"{n}.txt.gz" for n in work["names"][:2]]
    cells = [c if c.exists() else c.with_name(c.name.replace(".txt.gz", ".gz")) for c in cells]
    r = invoke(["load", *cells, "-r", 1_000_000, "-c", tmp_path / "sizes", "--chrom-map", tmp_path / "map",
                "-o", tmp_path / "nochr.scool"])
    assert r.exit_code == 0, r.output
    r = invoke(["impute", tmp_path / "nochr.scool", "--model", work["model"], "-o", tmp_path / "o.scool"])
    assert_refused(r, "chr21, chr22", "not in the cells", "'chr' prefix")


def test_evaluate_with_an_empty_heldout_set(work, tmp_path):
    cells = open_cells(str(work["heldout"]))
    empty = tmp_path / "empty.scool"
    with ScoolWriter(str(empty), cells.bins, {}) as w:
        for n in cells.names:
            w.add(n, pd.DataFrame({"bin1_id": [0], "bin2_id": [0], "count": [1]}), cells.cell_metadata(n))
    r = invoke(["evaluate", work["input"], "--heldout", empty, "-o", tmp_path / "r"])
    assert_refused(r, "held-out part has no contacts")
    assert not (tmp_path / "r").exists() and not (tmp_path / "r.partial").exists()


# -- option ranges at the CLI boundary ---------------------------------------------------------------------

@pytest.mark.parametrize("case", [
    "rwr-sigma", "rwr-restart-0", "rwr-restart-1", "rwr-restart-big", "rwr-tol", "baseline-distance",
    "scc-h", "insulation-window", "compartment-resolution", "eval-distance", "depth-ratio-nan",
    "depth-ratio-inf", "depth-ratio-0", "heldout-fraction-nan", "stride", "config-width"])
def test_option_ranges(work, tmp_path, case):
    inp, held, out = work["input"], work["heldout"], tmp_path / "o.scool"
    base = ["baseline", inp, "-m", "rwr", "-o", out]
    ev = ["evaluate", inp, "--heldout", held, "-o", tmp_path / "r"]
    imp = ["impute", inp, "--model", work["model"], "-o", out]
    (tmp_path / "w.yaml").write_text("width: -4\n")
    args, expect = {
        "rwr-sigma": ([*base, "--rwr-sigma", -1], "--rwr-sigma"),
        "rwr-restart-0": ([*base, "--rwr-restart", 0], "--rwr-restart"),
        "rwr-restart-1": ([*base, "--rwr-restart", 1], "--rwr-restart"),
        "rwr-restart-big": ([*base, "--rwr-restart", 1.5], "--rwr-restart"),
        "rwr-tol": ([*base, "--rwr-tol", 0], "--rwr-tol"),
        "baseline-distance": ([*base, "--max-distance", -5], "--max-distance"),
        "scc-h": ([*ev, "--scc-h", -1], "--scc-h"),
        "insulation-window": ([*ev, "--insulation-window", -1], "--insulation-window"),
        "compartment-resolution": ([*ev, "--compartment-resolution", 0], "--compartment-resolution"),
        "eval-distance": ([*ev, "--max-distance", -5], "--max-distance"),
        "depth-ratio-nan": ([*imp, "--depth-ratio", "nan"], "--depth-ratio"),
        "depth-ratio-inf": ([*imp, "--depth-ratio", "inf"], "--depth-ratio"),
        "depth-ratio-0": ([*imp, "--depth-ratio", 0], "--depth-ratio"),
        "heldout-fraction-nan": (["split", inp, "--heldout-fraction", "nan", "-o", out, tmp_path / "h.scool"],
                                 "--heldout-fraction"),
        "stride": ([*imp, "--stride", 1000], "--stride 1000 must be between 1 and the model's window"),
        "config-width": (["train", inp, "-o", tmp_path / "m.ckpt", "--config", tmp_path / "w.yaml"],
                         "width must be a whole number of at least 1"),
    }[case]
    r = invoke(args)
    assert r.exit_code == 2 and expect in r.output and "Traceback" not in r.output, r.output
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_api_depth_ratio_and_stride_checked(work):
    with pytest.raises(HicdiffError, match="stride"):
        Imputer.from_checkpoint(work["model"], device="cpu", stride=10_000)
    imp = Imputer.from_checkpoint(work["model"], device="cpu")
    cells = open_cells(str(work["input"]))
    with pytest.raises(HicdiffError, match="depth-ratio"):
        next(imp.impute_many(cells, cells.names[:1], depth_ratio=np.inf))
