"""Infilling masked regions on the default run's kept-out lee2019 cells: hicdiff against RWR and decay.

Each cell gets one 10 Mb region (seeded random chromosome and bin-aligned position) whose pixels every method
is denied: hicdiff through ``impute --mask-regions`` on the cell's input part, the baselines through a copy
of the input part with those pixels removed (:func:`hicdiff.regions.write_without_regions`). The score is the
held-out gain of ``hicdiff evaluate`` (:func:`hicdiff.metrics.heldout_gain`, bits per contact over distance
alone, diagonals up to 10 Mb) over the masked pixels only, each diagonal normalised over its masked pixels,
against all of the cell's contacts there (input and held-out parts together: no method saw any of them).
Decay is flat along each diagonal, so it scores 0 by construction.

Models: the shipped ``general`` zero-shot; ``general`` fine-tuned on the masked input part with
``--region-mask-fraction F``; and the same fine-tune with F = 0 (does training for infilling matter, beyond
fine-tuning on these cells?). Each fine-tuned model's ordinary held-out score (no mask, whole band up to
10 Mb, the score of ``hicdiff evaluate``) is printed too: what region masking costs elsewhere.

    python bench/infill_check.py --minutes 5 --threads 2 --lock /tmp/hicdiff-locks/heavy
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from _cli import hicdiff
from hicdiff._cellmaps import cis_pixel_arrays
from hicdiff.io import open_cells
from hicdiff.metrics import heldout_gain
from hicdiff.references import tables_to_bands
from hicdiff.regions import RegionMask, hidden_band, write_without_regions
from hicdiff.windows import default_chromosomes

REPO = Path(__file__).resolve().parents[1]
DMAX_BP = 10_000_000      # the band hicdiff evaluate scores


def run(args, log, lock=None):
    t = time.perf_counter()
    cmd = hicdiff(*args)
    if lock:
        cmd = ["flock", lock, "nice", "-n", "10", *cmd]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1"}
    with open(log, "a") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        r = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    if r.returncode:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}; see {log}")
    return time.perf_counter() - t


def write_regions(cells, path: Path, length: int, seed: int) -> None:
    """One bin-aligned region of ``length`` bp per cell: a chromosome, then a start, drawn from a generator
    seeded by ``seed`` and the cell's name (the same region whatever the other cells)."""
    res = int(cells.resolution)
    chroms = [c for c in default_chromosomes(cells) if cells.n_bins(c) * res > length + 2 * res]
    rows = []
    for name in cells.names:
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        chrom = chroms[rng.integers(len(chroms))]
        start = int(rng.integers(cells.n_bins(chrom) - length // res)) * res
        rows.append((chrom, start, start + length, name))
    pd.DataFrame(rows).to_csv(path, sep="\t", header=False, index=False)


def bands(cs, name, sizes, dmax, chroms):
    return tables_to_bands(cis_pixel_arrays(cs, name), 1, sizes, dmax, chroms)


def score(methods: dict, inputs, heldout, mask: RegionMask, masked_only: bool) -> pd.DataFrame:
    """Bits per contact of each method for each cell: over its masked pixels against all its contacts there
    (``masked_only``), or over the whole band against the held-out part (the ordinary score)."""
    res = int(inputs.resolution)
    dmax = DMAX_BP // res
    opened = {m: open_cells(p) for m, p in methods.items()}
    rows = []
    for name in inputs.names:
        chroms = sorted({r.chrom for r in mask.of_cell(name)}) if masked_only else default_chromosomes(inputs)
        sizes = {c: inputs.n_bins(c) for c in chroms}
        held = bands(heldout, name, sizes, dmax, chroms)
        truth = held
        if masked_only:
            inp = bands(inputs, name, sizes, dmax, chroms)
            truth = {c: inp[c] + held[c] for c in chroms}
        pixels = {c: hidden_band(mask.bins(name, c), dmax) if masked_only else None for c in chroms}
        for m, cs in opened.items():
            imputed = bands(cs, name, sizes, dmax, chroms)
            g = np.array([heldout_gain(imputed[c], truth[c], pixels[c]) for c in chroms])
            rows.append({"method": m, "cell": name, "contacts": g[:, 2].sum(),
                         "bits": g[:, 0].sum() / g[:, 2].sum() if g[:, 2].sum() else np.nan})
    return pd.DataFrame(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default=str(REPO / "results" / "lee2019_pfc_1mb"), help="the default run's folder")
    ap.add_argument("--out", default=str(REPO / "results" / "infill_check"))
    ap.add_argument("--minutes", type=float, default=5.0, help="fine-tuning time of each model")
    ap.add_argument("--fraction", type=float, default=0.5, help="--region-mask-fraction of the infilling model")
    ap.add_argument("--region-bp", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lock", default=None, help="run each heavy command under flock LOCK")
    ap.add_argument("--no-control", action="store_true", help="skip the fine-tune without region masking")
    a = ap.parse_args()

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "commands.log"
    inp, held = Path(a.run) / "eval" / "input.scool", Path(a.run) / "eval" / "heldout.scool"
    inputs, heldout = open_cells(inp), open_cells(held)
    bed = out / "regions.bed"
    write_regions(inputs, bed, a.region_bp, a.seed)
    mask = RegionMask(str(bed), inputs)
    masked = out / "input_masked.scool"
    if not masked.exists():
        removed = write_without_regions(str(inp), str(bed), str(masked))
        print(f"masked input: {sum(removed.values())} contacts removed from {len(removed)} cells")

    seconds = {}
    models = {"general zero-shot": "general"}
    fractions = {f"general fine-tuned, region masking {a.fraction:g}": a.fraction}
    if not a.no_control:
        fractions["general fine-tuned, no region masking"] = 0.0
    for label, f in fractions.items():
        ckpt = out / f"finetuned_f{f:g}.ckpt"
        if not ckpt.exists():
            seconds[f"train f={f:g}"] = run(["train", masked, "--init", "general", "--region-mask-fraction", f,
                                             "--max-time", a.minutes, "--threads", a.threads, "--seed", a.seed,
                                             "-o", ckpt], log, a.lock)
        models[label] = ckpt
    imputed = {}
    for k, (label, model) in enumerate(models.items()):
        dest = out / f"hicdiff_{k}.scool"
        if not dest.exists():
            seconds[f"impute {label}"] = run(["impute", inp, "--model", model, "--mask-regions", bed,
                                              "--max-distance", DMAX_BP, "--threads", a.threads, "-o", dest],
                                             log, a.lock)
        imputed[f"hicdiff ({label})"] = dest
    for method in ("rwr", "decay"):
        dest = out / f"{method}.scool"
        if not dest.exists():
            seconds[method] = run(["baseline", masked, "-m", method, "--max-distance", DMAX_BP, "-o", dest],
                                  log, a.lock)
        imputed[method] = dest

    cells = score(imputed, inputs, heldout, mask, masked_only=True)
    cells.to_csv(out / "masked_cells.tsv", sep="\t", index=False)
    scored = cells.dropna()
    table = scored.groupby("method", sort=False)["bits"].agg(["mean", "median"])
    wide = scored.pivot(index="cell", columns="method", values="bits")
    best = f"hicdiff ({next(iter(fractions))})"
    table["cells beaten by the infilling model"] = [(wide[best] > wide[m]).mean() if m != best else np.nan
                                                    for m in table.index]
    n_cells = scored["cell"].nunique()
    print(f"\nInside the masked regions ({a.region_bp // 10**6} Mb per cell, {n_cells} of {len(inputs)} cells "
          f"with contacts there; {int(scored.groupby('cell')['contacts'].first().sum())} contacts): "
          "bits per contact over distance alone")
    print(table.to_string(float_format=lambda x: f"{x:.3f}"))

    ordinary = {}
    for k, (label, model) in enumerate(models.items()):
        if model == "general":
            continue
        dest = out / f"plain_{k}.scool"
        if not dest.exists():
            run(["impute", inp, "--model", model, "--max-distance", DMAX_BP, "--threads", a.threads, "-o", dest],
                log, a.lock)
        ordinary[f"hicdiff ({label})"] = dest
    if ordinary:
        plain = score(ordinary, inputs, heldout, mask, masked_only=False)
        plain.to_csv(out / "ordinary_cells.tsv", sep="\t", index=False)
        print("\nOrdinary held-out score, no mask (whole band to 10 Mb, 80/20 split): bits per held-out contact")
        print(plain.groupby("method", sort=False)["bits"].mean().to_string(float_format=lambda x: f"{x:.3f}"))
    print("\nseconds:", {k: round(v, 1) for k, v in seconds.items()})


if __name__ == "__main__":
    main()
