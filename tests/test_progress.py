"""Progress: plain log lines when stderr is not a terminal, a bar on one, nothing with --quiet."""

import io
import logging
import re
import subprocess
import sys

from hicdiff import progress
from hicdiff.progress import Progress, format_seconds, track


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_lines_when_not_a_terminal(monkeypatch, caplog):
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="hicdiff.test"):
        with Progress(3, "imputed", unit="cells", logger=logging.getLogger("hicdiff.test"), stream=stream) as bar:
            for _ in range(3):
                bar.update()
    assert stream.getvalue() == ""
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("imputed 1/3 cells (33%)") and lines[0].endswith(" left")
    assert lines[-1].startswith("imputed 3/3 cells (100%)") and lines[-1].endswith(" in all")
    assert not any("\r" in m or "\x1b" in m for m in lines)


def test_bar_on_a_terminal():
    stream = _Terminal()
    with Progress(4, "read", unit="files", stream=stream) as bar:
        for _ in range(4):
            bar.update()
    out = stream.getvalue()
    assert out.startswith("\r") and out.endswith("\n")
    assert "4/4 files" in out and "[" in out


def test_quiet_shows_nothing(monkeypatch, caplog):
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    monkeypatch.setattr(progress, "_quiet", True)
    stream = _Terminal()
    with caplog.at_level(logging.INFO):
        assert list(track([1, 2], "done", logger=logging.getLogger("hicdiff.test"))) == [1, 2]
        with Progress(2, stream=stream) as bar:
            bar.update(2)
    assert stream.getvalue() == "" and not caplog.records


def test_format_seconds():
    assert format_seconds(75.2) == "1:15"
    assert format_seconds(3725) == "1:02:05"
    assert format_seconds(float("inf")) == "?"


SCRIPT = ("import sys; from hicdiff import progress; progress.INTERVAL = 0.0; from hicdiff.cli import cli; "
          "cli(sys.argv[1:], prog_name='hicdiff')")


def _load(args, data_dir, tmp_path, name):
    lee = data_dir / "lee2019_pfc"
    files = sorted(str(p) for p in (lee / "cells").iterdir())[:3]
    cmd = [sys.executable, "-c", SCRIPT, *args, "load", *files, "--format", "contacts", "--resolution", "10000000",
           "--chromsizes", str(lee / "hg19.chrom.sizes"), "--chromosomes", "chr21,chr22", "-o", str(tmp_path / name)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_cli_progress_in_a_pipe_is_plain_lines(data_dir, tmp_path):
    res = _load([], data_dir, tmp_path, "a.scool")
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    assert not any("\r" in line or "\x1b" in line for line in res.stderr.split("\n"))
    assert all(re.match(r"\d\d:\d\d:\d\d \S+ [A-Z]+ ", line) for line in lines), lines
    progress_lines = [line for line in lines if " read " in line and " files (" in line]
    assert len(progress_lines) == 3 and "3/3 files (100%)" in progress_lines[-1]
    quiet = _load(["--quiet"], data_dir, tmp_path, "b.scool")
    assert quiet.returncode == 0 and quiet.stderr == ""
