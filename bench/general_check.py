"""The general model on data it never saw: zero-shot, fine-tuned, trained from scratch and RWR, side by side.

Every step is the CLI a user runs (hicdiff load / split / train / impute / baseline / evaluate); the held-out
gain (bits per held-out contact over distance alone, DESIGN §5) comes from ``hicdiff evaluate``'s metrics.tsv.

    python bench/general_check.py --minutes 5 --threads 2              # every case
    python bench/general_check.py --cases dipc200k,lee20 --minutes 5

Cases (all kept out of the general model's training, configs/general_model.yaml):
- ``dipc200k``: the Dip-C GM12878 cell at 200 kb, 20% held out by whole 40 kb pixels (hicdiff split
  --heldout-unit 40000); scored within the model's band (32 diagonals = 6.4 Mb);
- ``nagano1mb`` / ``nagano100kb``: the 37 Nagano 2017 mouse ES contact cells, 80/20 contact split, at 1 Mb
  (band 10 Mb) and 100 kb (band 3.2 Mb, the model's);
- ``lee20``: 20 of the 60 kept-out lee2019 cells (5 of each type) at 1 Mb, 80/20; adds training from
  scratch for the same minutes;
- ``lee60``: the 60 kept-out cells; adds a model trained from scratch ``--scratch-minutes`` (10) on the input
  parts of all 300 cells (each cell's split depends only on the seed and its name, so the 60 are split alike).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from _cli import hicdiff

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
LEE = DATA / "lee2019_pfc"


def run(args, log):
    t = time.perf_counter()
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    with open(log, "a") as fh:
        fh.write("$ " + " ".join(map(str, args)) + "\n")
        fh.flush()
        r = subprocess.run(hicdiff(*args[1:]) if args[0] == "hicdiff" else [str(a) for a in args], stdout=fh,
                           stderr=subprocess.STDOUT, env=env)
    if r.returncode:
        sys.exit(f"failed ({r.returncode}): {' '.join(map(str, args))}; see {log}")
    return time.perf_counter() - t


def lee_files(which: str) -> list[Path]:
    names = [n for n in (REPO / "configs" / "lee2019_kept_out.txt").read_text().splitlines()
             if n and not n.startswith("#")]
    if which == "lee20":
        table = pd.read_csv(LEE / "cells.tsv", sep="\t")
        kept = table[table["name"].isin([n[:-3] for n in names])]
        names = [n + ".gz" for n in kept.groupby("cell_type", sort=True).head(5)["name"]]
    if which == "all":
        names = sorted(p.name for p in (LEE / "cells").glob("*.txt.gz"))
    return [LEE / "cells" / n for n in names]


def load_and_split(case: str, cells: Path, inp: Path, held: Path, log) -> None:
    """The case's cells loaded into ``cells`` and split into ``inp`` and ``held``."""
    if case == "dipc200k":
        run(["hicdiff", "load", DATA / "dipc_gm12878_cell11" / "gm12878_11.clean.con.txt.gz", "--resolution",
             40000, "--chromsizes", DATA / "chromsizes" / "hg19.chrom.sizes", "-o", cells], log)
        run(["hicdiff", "split", cells, "--heldout-unit", 40000, "--resolution", 200000, "--seed", 0, "-o", inp,
             held], log)
    elif case.startswith("nagano"):
        res = 1_000_000 if case == "nagano1mb" else 100_000
        run(["hicdiff", "load", DATA / "nagano2017_mesc_contacts" / "cells", "--resolution", res, "--chromsizes",
             DATA / "chromsizes" / "mm9.chrom.sizes", "-o", cells], log)
        run(["hicdiff", "split", cells, "--seed", 0, "-o", inp, held], log)
    else:
        run(["hicdiff", "load", *lee_files(case), "--format", "contacts", "--resolution", 1_000_000,
             "--chromsizes", LEE / "hg19.chrom.sizes", "--labels", LEE / "cells.tsv", "-o", cells], log)
        run(["hicdiff", "split", cells, "--seed", 0, "-o", inp, held], log)


def prepare(case: str, d: Path, log) -> dict:
    """Load and split the case's cells (once); returns the evaluation band and what to add beside the general
    model."""
    cells, inp, held = d / "cells.scool", d / "input.scool", d / "heldout.scool"
    if not inp.exists():
        load_and_split(case, cells, inp, held, log)
    band = {"dipc200k": 32 * 200_000, "nagano100kb": 32 * 100_000}.get(case, 10_000_000)
    return {"input": inp, "heldout": held, "band": band, "pixels": case == "dipc200k",
            "scratch": case in ("lee20",), "scratch300": case == "lee60"}


def check(case: str, out: Path, minutes: float, scratch_minutes: float, threads: int) -> pd.DataFrame:
    d = out / case
    d.mkdir(parents=True, exist_ok=True)
    log = d / "log.txt"
    p = prepare(case, d, log)
    inp, t = p["input"], {}
    imputed = {}

    def impute(name, model, *extra):
        dest = d / f"{name}.scool"
        if not dest.exists():
            t[name] = run(["hicdiff", "impute", inp, "--model", model, "-o", dest, "--threads", threads, *extra],
                          log)
        imputed[name] = dest

    def train(name, *args):
        ckpt = d / f"{name}.ckpt"
        if not ckpt.exists():
            t[f"train {name}"] = run(["hicdiff", "train", *args, "-o", ckpt, "--threads", threads, "--seed", 0],
                                     log)
        return ckpt

    impute("general", "general")
    ft = train("finetuned", inp, "--init", "general", "--max-time", minutes)
    impute("finetuned", ft)
    if p["pixels"]:
        impute("general-pixels", "general", "--predict", "pixels")
        impute("finetuned-pixels", ft, "--predict", "pixels")
    if p["scratch"]:
        impute("scratch", train("scratch", inp, "--max-time", minutes))
    if p["scratch300"]:
        all300 = out / "lee300"
        all300.mkdir(exist_ok=True)
        if not (all300 / "input.scool").exists():
            load_and_split("all", all300 / "cells.scool", all300 / "input.scool", all300 / "heldout.scool", log)
        impute("scratch300", train("scratch300", all300 / "input.scool", "--max-time", scratch_minutes))
    rwr = d / "rwr.scool"
    if not rwr.exists():
        t["rwr"] = run(["hicdiff", "baseline", inp, "--method", "rwr", "-o", rwr], log)
    imputed["rwr"] = rwr
    report = d / "report"
    if not (report / "metrics.tsv").exists():
        run(["hicdiff", "evaluate", *imputed.values(), "--heldout", p["heldout"], "--max-distance", p["band"],
             "-o", report], log)
    m = pd.read_csv(report / "metrics.tsv", sep="\t")
    col = "method" if "method" in m.columns else m.columns[0]
    bits = dict(zip(m[col], m["heldout_bits"]))
    by_file = {}
    for name, path in imputed.items():
        key = next((k for k in bits if k == name or k == path.stem), None)
        if key is None:   # evaluate names methods from their metadata: match the order instead
            key = list(bits)[list(imputed).index(name)]
        by_file[name] = bits[key]
    rows = [{"case": case, "method": n, "heldout_bits": b, "x_rwr": b / by_file["rwr"],
             "seconds": t.get(n, float("nan"))} for n, b in by_file.items()]
    return pd.DataFrame(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="dipc200k,nagano1mb,nagano100kb,lee20,lee60")
    ap.add_argument("--minutes", type=float, default=5.0, help="fine-tuning (and lee20 from-scratch) minutes")
    ap.add_argument("--scratch-minutes", type=float, default=10.0, help="lee60: from scratch on all 300 cells")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "results" / "general_check"))
    a = ap.parse_args()
    out = Path(a.out)
    tables = []
    for case in a.cases.split(","):
        table = check(case, out, a.minutes, a.scratch_minutes, a.threads)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
        tables.append(table)
    allt = pd.concat(tables)
    allt.to_csv(out / "summary.tsv", sep="\t", index=False)
    print(f"\nsummary: {out / 'summary.tsv'}")


if __name__ == "__main__":
    main()
