"""Hostile-user fault cases, each run as a subprocess and classified (issue 16's closing count).

    python bench/fault_cases.py [--workdir DIR] [--cells 6]

Builds a workspace from a few lee2019 cells (load, split, an untrained tiny model), then runs every case:
bad inputs and options, outputs over inputs, damaged files, a full disk (``ulimit -f``), two writers, and
``kill -9`` in the middle of a write followed by ``--resume``. Each case ends in one class:

- ``input damaged``: a file the command read changed;
- ``silent wrong``: exit 0 where an error was due, or NaN written;
- ``traceback``: a Python traceback or a crash (signal) instead of a message;
- ``unresumable``: an interrupted run whose ``--resume`` fails or differs from an uninterrupted run;
- ``ok``: a one-line ``hicdiff: error:`` (or click usage error) where one was due, or a correct result.

Prints one line per case and the counts; exits 1 unless every case is ok.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LEE = DATA / "lee2019_pfc"
HICDIFF = str(Path(sys.executable).with_name("hicdiff"))
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


def sha(path) -> str | None:
    p = Path(path)
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None


def run(args, limit_kb=None, env=None, driver=None, timeout=300):
    def limit():
        if limit_kb is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_kb * 1024, resource.RLIM_INFINITY))

    cmd = [sys.executable, "-c", driver, *map(str, args)] if driver else [HICDIFF, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, preexec_fn=limit, timeout=timeout,
                          env={**os.environ, **(env or {})})


def clean_error(r) -> bool:
    text = r.stderr + r.stdout
    if "Traceback" in text or r.returncode < 0 or r.returncode > 2:
        return False
    return r.returncode == 2 and ("hicdiff: error: " in text or "Error: " in text)


def has_nan(path) -> bool:
    import numpy as np

    from hicdiff.io import open_cells

    cs = open_cells(str(path))
    return any(np.isnan(cs.pixels(n)["count"].to_numpy()).any() for n in cs.names)


def same_cells(a, b) -> bool:
    from hicdiff.io import open_cells

    ca, cb = open_cells(str(a)), open_cells(str(b))
    return ca.names == cb.names and all(ca.pixels(n).equals(cb.pixels(n)) for n in ca.names)


class Bench:
    def __init__(self, root: Path, n_cells: int):
        self.root = root
        self.results = []
        files = sorted((LEE / "cells").iterdir())[:n_cells]
        self.cell_files = files
        self.raw = root / "cells.scool"
        r = run(["load", *files, "-r", 1_000_000, "-c", LEE / "hg19.chrom.sizes", "--labels", LEE / "cells.tsv",
                 "--chromosomes", "chr21,chr22", "-o", self.raw])
        assert r.returncode == 0, r.stderr
        self.input, self.held = root / "input.scool", root / "heldout.scool"
        assert run(["split", self.raw, "-o", self.input, self.held]).returncode == 0
        from hicdiff.checkpoint import untrained_checkpoint
        from hicdiff.config import load_config
        from hicdiff.io import open_cells

        self.model = untrained_checkpoint(root / "tiny.ckpt", open_cells(str(self.raw)), load_config("tiny"))
        self.imputed = root / "imputed.scool"
        assert run(["impute", self.input, "--model", self.model, "-o", self.imputed, "--threads", 1]).returncode == 0
        self.names = open_cells(str(self.input)).names

    def case_dir(self, name) -> Path:
        d = self.root / "cases" / name
        d.mkdir(parents=True)
        return d

    def record(self, name, verdict, detail=""):
        self.results.append((name, verdict, detail))
        print(f"{verdict:14s} {name}  {detail}"[:200], flush=True)

    def expect_error(self, name, args, inputs=(), **kw):
        """A case that must end in a clear message, leave no output and leave its inputs as they were."""
        before = {p: sha(p) for p in inputs}
        r = run(args, **kw)
        text = (r.stderr + r.stdout).strip().splitlines()
        if any(sha(p) != h for p, h in before.items()):
            return self.record(name, "input damaged")
        if r.returncode == 0:
            return self.record(name, "silent wrong", "exit 0")
        if not clean_error(r):
            return self.record(name, "traceback", f"rc {r.returncode}: {text[-1] if text else ''}")
        return self.record(name, "ok", text[-1] if text else "")

    def expect_ok(self, name, args, output=None, inputs=()):
        before = {p: sha(p) for p in inputs}
        r = run(args)
        if any(sha(p) != h for p, h in before.items()):
            return self.record(name, "input damaged")
        if r.returncode != 0:
            verdict = "ok" if clean_error(r) else "traceback"
            return self.record(name, verdict if verdict == "traceback" else "silent wrong",
                               (r.stderr.strip().splitlines() or [""])[-1])
        if output is not None and str(output).endswith(".scool") and has_nan(output):
            return self.record(name, "silent wrong", "NaN in output")
        return self.record(name, "ok")

    # -- the cases --------------------------------------------------------------------------------------

    def outputs_over_inputs(self):
        for cmd in ("train", "impute-cells", "split-cells", "baseline-labels", "impute-model", "merge",
                    "load-sizes", "load-labels", "symlink", "hardlink"):
            d = self.case_dir(f"overwrite-{cmd}")
            cells = d / "cells.scool"
            shutil.copy(self.input, cells)
            names = d / "names.txt"
            names.write_text("\n".join(self.names[:2]) + "\n")
            labels = d / "labels.tsv"
            shutil.copy(LEE / "cells.tsv", labels)
            sizes = d / "sizes"
            shutil.copy(LEE / "hg19.chrom.sizes", sizes)
            model = d / "m.ckpt"
            shutil.copy(self.model, model)
            os.symlink(cells, d / "link.scool")
            os.link(cells, d / "hard.scool")
            args = {
                "train": ["train", cells, "-o", cells, "--config", "tiny", "--max-steps", 2, "--threads", 1],
                "impute-cells": ["impute", cells, "--model", model, "--cells", names, "-o", names],
                "split-cells": ["split", cells, "--cells", names, "-o", d / "a.scool", names],
                "baseline-labels": ["baseline", cells, "-m", "pool-by-label", "--labels", labels, "-o", labels],
                "impute-model": ["impute", cells, "--model", model, "-o", model],
                "merge": ["merge", cells, self.held, "-o", cells],
                "load-sizes": ["load", self.cell_files[0], "-r", 1_000_000, "-c", sizes, "-o", sizes],
                "load-labels": ["load", self.cell_files[0], "-r", 1_000_000, "-c", sizes, "--labels", labels,
                                "-o", labels],
                "symlink": ["baseline", cells, "-m", "decay", "-o", d / "link.scool"],
                "hardlink": ["baseline", cells, "-m", "decay", "-o", d / "hard.scool"],
            }[cmd]
            self.expect_error(f"overwrite-{cmd}", args, inputs=[cells, names, labels, model, sizes])

    def bad_outputs(self):
        d = self.case_dir("bad-outputs")
        ro = d / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        train = ["train", self.input, "--config", "tiny", "--max-steps", 2, "--threads", 1]
        self.expect_error("output-folder-missing", [*train, "-o", d / "none" / "m.ckpt"], [self.input])
        self.expect_error("output-is-a-folder", [*train, "-o", d], [self.input])
        if os.geteuid() != 0:
            self.expect_error("output-folder-read-only", [*train, "-o", ro / "m.ckpt"], [self.input])
        self.expect_error("evaluate-output-is-a-file", ["evaluate", self.imputed, "--heldout", self.held, "-o",
                                                        self.imputed], [self.imputed])
        ro.chmod(0o755)

    def options(self):
        imp = ["impute", self.input, "--model", self.model, "-o", self.root / "x.scool", "--threads", 1]
        base = ["baseline", self.input, "-m", "rwr", "-o", self.root / "x.scool"]
        ev = ["evaluate", self.imputed, "--heldout", self.held, "-o", self.root / "xr"]
        (self.root / "w.yaml").write_text("width: -4\n")
        (self.root / "lr.yaml").write_text("lr: .nan\n")
        cases = {
            "depth-ratio-nan": [*imp, "--depth-ratio", "nan"], "depth-ratio-inf": [*imp, "--depth-ratio", "inf"],
            "depth-ratio-neg": [*imp, "--depth-ratio", -1], "stride-over-window": [*imp, "--stride", 1000],
            "stride-0": [*imp, "--stride", 0], "samples-0": [*imp, "--mode", "sample", "--samples", 0],
            "rwr-sigma-neg": [*base, "--rwr-sigma", -1], "rwr-restart-0": [*base, "--rwr-restart", 0],
            "rwr-restart-1": [*base, "--rwr-restart", 1], "rwr-restart-2": [*base, "--rwr-restart", 2],
            "rwr-tol-0": [*base, "--rwr-tol", 0], "baseline-distance-neg": [*base, "--max-distance", -1],
            "scc-h-neg": [*ev, "--scc-h", -1], "insulation-window-neg": [*ev, "--insulation-window", -1],
            "compartment-resolution-0": [*ev, "--compartment-resolution", 0],
            "eval-distance-neg": [*ev, "--max-distance", -5],
            "heldout-fraction-nan": ["split", self.raw, "--heldout-fraction", "nan", "-o", self.root / "a.scool",
                                     self.root / "b.scool"],
            "heldout-fraction-1": ["split", self.raw, "--heldout-fraction", 1, "-o", self.root / "a.scool",
                                   self.root / "b.scool"],
            "config-width-neg": ["train", self.input, "-o", self.root / "w.ckpt", "--config", self.root / "w.yaml"],
            "config-lr-nan": ["train", self.input, "-o", self.root / "w.ckpt", "--config", self.root / "lr.yaml"],
        }
        for name, args in cases.items():
            self.expect_error(f"option-{name}", args, [self.input, self.held, self.imputed])

    def damaged_inputs(self):
        d = self.case_dir("damaged")
        cut = d / "cut.scool"
        cut.write_bytes(self.input.read_bytes()[:50_000])
        text = d / "text.scool"
        text.write_text("hello\n")
        for name, bad in (("truncated", cut), ("text", text), ("missing", d / "none.scool")):
            for cmd, args in {
                "info": ["info", bad], "impute": ["impute", bad, "--model", self.model, "-o", d / "o.scool"],
                "train": ["train", bad, "-o", d / "m.ckpt", "--config", "tiny", "--max-steps", 2],
                "split": ["split", bad, "-o", d / "a.scool", d / "b.scool"],
                "baseline": ["baseline", bad, "-m", "decay", "-o", d / "o.scool"],
                "evaluate": ["evaluate", bad, "--heldout", self.held, "-o", d / "r"],
                "evaluate-heldout": ["evaluate", self.imputed, "--heldout", bad, "-o", d / "r"],
                "merge": ["merge", bad, self.held, "-o", d / "o.scool"],
                "model": ["impute", self.input, "--model", bad, "-o", d / "o.scool"],
            }.items():
                if name == "train" and cmd == "train":
                    continue
                self.expect_error(f"{name}-{cmd}", args, [self.input, self.held])
        gz = d / "cut.txt.gz"
        gz.write_bytes(self.cell_files[0].read_bytes()[:20_000])
        sizes = LEE / "hg19.chrom.sizes"
        self.expect_error("truncated-gz", ["load", gz, "-r", 1_000_000, "-c", sizes, "-o", d / "o.scool"])
        (d / "empty.tsv").write_text("")
        self.expect_error("labels-empty", ["load", self.cell_files[0], "-r", 1_000_000, "-c", sizes, "--labels",
                                           d / "empty.tsv", "-o", d / "o.scool"])
        (d / "bin.sizes").write_bytes(b"\xff\xfe\x00chr21\t48129895\n")
        self.expect_error("sizes-not-utf8", ["load", self.cell_files[0], "-r", 1_000_000, "-c", d / "bin.sizes",
                                             "-o", d / "o.scool"])
        big = d / "big.txt.gz"
        with gzip.open(big, "wt") as fh:
            fh.write("chr21\t0\tchr21\t1500000\t3000000000\n")
        self.expect_error("count-over-int32", ["load", big, "-r", 1_000_000, "-c", sizes, "--chromosomes", "chr21",
                                               "-o", d / "o.scool"])
        (d / "nochr.sizes").write_text("21\t48129895\n22\t51304566\n")
        (d / "map.tsv").write_text("chr21\t21\nchr22\t22\n")
        r = run(["load", *self.cell_files[:2], "-r", 1_000_000, "-c", d / "nochr.sizes", "--chrom-map",
                 d / "map.tsv", "-o", d / "nochr.scool"])
        assert r.returncode == 0, r.stderr
        self.expect_error("chr-prefix-vs-model", ["impute", d / "nochr.scool", "--model", self.model, "-o",
                                                  d / "o.scool"])
        comma = d / "labels.csv"
        comma.write_text((LEE / "cells.tsv").read_text().replace("\t", ","))
        self.expect_ok("labels-comma-separated", ["load", *self.cell_files[:2], "-r", 1_000_000, "-c", sizes,
                                                  "--chromosomes", "chr21", "--labels", comma, "--strict", "-o",
                                                  d / "comma.scool"], inputs=[comma])
        from hicdiff.io import ScoolWriter, open_cells
        import pandas as pd

        held = open_cells(str(self.held))
        with ScoolWriter(str(d / "emptyheld.scool"), held.bins, {}) as w:
            for n in held.names:
                w.add(n, pd.DataFrame({"bin1_id": [0], "bin2_id": [0], "count": [1]}), held.cell_metadata(n))
        self.expect_error("evaluate-empty-heldout", ["evaluate", self.imputed, "--heldout", d / "emptyheld.scool",
                                                     "-o", d / "r"])

    def full_disk(self):
        sizes = LEE / "hg19.chrom.sizes"
        for name, args, kb in (
            ("impute", ["impute", self.input, "--model", self.model, "--threads", 1], 40),
            ("split", ["split", self.raw, "-o"], 30),
            ("load", ["load", self.cell_files[0], "-r", 100_000, "-c", sizes], 100),
            ("baseline", ["baseline", self.input, "-m", "rwr"], 30),
            ("merge", ["merge", self.input], 30),
            ("evaluate", ["evaluate", self.imputed, "--heldout", self.held], 4),
            ("train", ["train", self.input, "--config", "tiny", "--max-steps", 2, "--threads", 1], 20),
        ):
            d = self.case_dir(f"disk-{name}")
            out = d / ("report" if name == "evaluate" else "o.ckpt" if name == "train" else "o.scool")
            full = [*args, out, d / "h.scool"] if name == "split" else [*args, "-o", out]
            before = {p: sha(p) for p in (self.raw, self.input, self.held, self.imputed, self.model)}
            r = run(full, limit_kb=kb)
            left = sorted(p.name for p in d.iterdir())
            if any(sha(p) != h for p, h in before.items()):
                self.record(f"disk-{name}", "input damaged")
            elif r.returncode == 0:
                self.record(f"disk-{name}", "silent wrong", "exit 0 under ulimit -f")
            elif not clean_error(r) or "no space left writing" not in r.stderr:
                self.record(f"disk-{name}", "traceback", f"rc {r.returncode}")
            elif left:
                self.record(f"disk-{name}", "silent wrong", f"left {left}")
            else:
                self.record(f"disk-{name}", "ok", r.stderr.strip().splitlines()[-1])

    def two_writers(self):
        d = self.case_dir("two-writers")
        out = d / "o.scool"
        from hicdiff.safety import lock_output

        with lock_output(out):
            self.expect_error("two-writers", ["split", self.raw, "-o", out, d / "h.scool"], [self.raw])
        # two real processes at once: exactly one writes, the other is refused
        outs = {}

        def go(k):
            outs[k] = run(["impute", self.input, "--model", self.model, "-o", d / "same.scool", "--threads", 1])

        threads = [threading.Thread(target=go, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.returncode for r in outs.values())
        clean = all(r.returncode == 0 or clean_error(r) for r in outs.values())
        self.record("two-writers-concurrent", "ok" if clean and codes[0] == 0 else "traceback", str(codes))

    def interruptions(self):
        for kill_at in (1, 2, 4):
            for mode in ("mean", "sample"):
                name = f"kill9-cell{kill_at}-{mode}"
                d = self.case_dir(name)
                opts = ["--threads", 1] + (["--mode", "sample", "--samples", 2, "--steps", 2] if mode == "sample"
                                           else [])
                ref = d / "ref.scool"
                run(["impute", self.input, "--model", self.model, "-o", ref, *opts])
                out = d / "o.scool"
                args = ["impute", self.input, "--model", self.model, "-o", out, *opts]
                r = run(args, env={"KILL_AT": str(kill_at)}, driver=KILLER)
                if r.returncode != -9:
                    self.record(name, "traceback", f"the kill did not happen (rc {r.returncode})")
                    continue
                r = run([*args, "--resume"])
                if r.returncode != 0:
                    self.record(name, "unresumable", (r.stderr.strip().splitlines() or [""])[-1])
                elif not same_cells(out, ref):
                    self.record(name, "unresumable", "resumed output differs from an uninterrupted run")
                else:
                    self.record(name, "ok")
        # Ctrl-C (SIGINT) and a plain kill (SIGTERM) while running
        import signal
        import time

        for sig in (signal.SIGINT, signal.SIGTERM):
            name = f"signal-{sig.name}"
            d = self.case_dir(name)
            out = d / "o.scool"
            args = ["impute", self.input, "--model", self.model, "-o", out, "--threads", 1, "--mode", "sample",
                    "--samples", 4, "--steps", 4]
            p = subprocess.Popen([HICDIFF, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
            while not Path(str(out) + ".partial").exists() and p.poll() is None:
                time.sleep(0.05)
            p.send_signal(sig)
            _, err = p.communicate()
            if "Traceback" in err and "KeyboardInterrupt" not in err:
                self.record(name, "traceback")
                continue
            r = run([*args, "--resume"])
            self.record(name, "ok" if r.returncode == 0 else "unresumable",
                        (r.stderr.strip().splitlines() or [""])[-1] if r.returncode else "")
        d = self.case_dir("resume-other-options")
        out = d / "o.scool"
        args = ["impute", self.input, "--model", self.model, "-o", out, "--threads", 1]
        run(args, env={"KILL_AT": "3"}, driver=KILLER)
        self.expect_error("resume-other-depth-ratio", [*args, "--resume", "--depth-ratio", 2])
        other = d / "other.ckpt"
        shutil.copy(self.model, other)
        self.expect_error("resume-other-model", ["impute", self.input, "--model", other, "-o", out, "--threads", 1,
                                                 "--resume"])
        d = self.case_dir("load-killed")
        out = d / "o.scool"
        load = ["load", *self.cell_files, "-r", 1_000_000, "-c", LEE / "hg19.chrom.sizes", "-o", out]
        run(load, env={"KILL_AT": "2"}, driver=KILLER)
        r = run(load)
        self.record("load-rerun-after-kill", "ok" if r.returncode == 0 and "--resume" not in r.stderr
                    else "unresumable", (r.stderr.strip().splitlines() or [""])[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default=None, help="Workspace (default: a temporary folder, removed).")
    ap.add_argument("--cells", type=int, default=6, help="lee2019 cells in the workspace.")
    a = ap.parse_args()
    root = Path(a.workdir or tempfile.mkdtemp(prefix="hicdiff-faults-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        b = Bench(root, a.cells)
        for group in (b.outputs_over_inputs, b.bad_outputs, b.options, b.damaged_inputs, b.full_disk,
                      b.two_writers, b.interruptions):
            group()
    finally:
        if a.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    counts = Counter(v for _, v, _ in b.results)
    print(f"\n{len(b.results)} cases: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in
          ("input damaged", "silent wrong", "traceback", "unresumable", "ok")))
    sys.exit(0 if counts.get("ok", 0) == len(b.results) else 1)


if __name__ == "__main__":
    main()
