"""Few-step sampling: held-out gain of sample mode against steps and draws, beside mean mode and RWR.

Scored as ``hicdiff evaluate`` scores ``heldout_bits`` (per-diagonal normalised log-likelihood gain of the
held-out contacts over a flat diagonal, bits per held-out contact, within its default 10 Mb band, mean over
cells), on the same cells, in one process and one run:

    python bench/sampling_curve.py --run results/lee2019_pfc_1mb --cells 20 --threads 2

``--run`` is a default-workflow run folder (``eval/input.scool``, ``eval/heldout.scool``, ``eval/rwr.scool``,
``model.ckpt``). Rows: mean mode; sample mode with ``--sample-values expected`` (Rao-Blackwellised) and
``drawn`` (the mean of discrete draws), for steps 1..32 and 1 or 4 draws; the ReMDM corrector at a few shares.
Writes ``OUT/sampling_curve.tsv`` and ``OUT/sampling_curve.png`` and prints the table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from _score import BAND_BP, heldout_bits, read_bands
from hicdiff.impute import Imputer
from hicdiff.io import open_cells


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="results/lee2019_pfc_1mb")
    ap.add_argument("--model", default=None, help="checkpoint (default: RUN/model.ckpt)")
    ap.add_argument("--cells", type=int, default=20, help="first N evaluated cells")
    ap.add_argument("--steps", default="1,2,4,8,16,32")
    ap.add_argument("--samples", default="1,4")
    ap.add_argument("--remask", default="0.1,0.3", help="ReMDM shares tried at 4 draws x 4 and 16 steps")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="results/sampling_curve")
    a = ap.parse_args()
    run = Path(a.run)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model = a.model or str(run / "model.ckpt")
    inp = open_cells(str(run / "eval" / "input.scool"))
    heldout = open_cells(str(run / "eval" / "heldout.scool"))
    names = [n for n in heldout.names if n in inp.uris][: a.cells]
    inp = inp.subset(names)
    res = inp.resolution
    dmax = BAND_BP // res
    imp = Imputer.from_checkpoint(model, device="auto", threads=a.threads)
    chroms = imp.chromosomes(inp)
    held = read_bands(heldout, names, dmax, chroms)

    def bands(**kw):
        """Imputed bands (what ``sample_values`` chose) and the mean of the discrete draws, and seconds per cell."""
        t0 = time.perf_counter()
        got, drawn = {}, {}
        for r in imp.impute_many(inp, names, chroms=chroms, max_distance="band", **kw):
            got[r.name], drawn[r.name] = r.bands, r.drawn
        return got, drawn, (time.perf_counter() - t0) / len(names)

    rows = []

    def add(label, values, steps, samples, remask, got, sec):
        rows.append({"method": label, "values": values, "steps": steps, "samples": samples, "remask": remask,
                     "heldout_bits": heldout_bits(got, held, names, dmax), "seconds_per_cell": sec})
        r = rows[-1]
        print(f"{label:6s} {values:9s} steps {steps:3d} samples {samples} remask {remask:.2f}: "
              f"{r['heldout_bits']:.4f} bits ({sec:.2f} s/cell)", flush=True)

    got, _, sec = bands()
    add("mean", "expected", 1, 1, 0.0, got, sec)
    rwr = open_cells(str(run / "eval" / "rwr.scool"))
    add("rwr", "-", 0, 0, 0.0, read_bands(rwr, names, dmax, chroms), float("nan"))
    # one run gives both estimates: the Rao-Blackwellised values and the mean of the same discrete draws
    for samples in map(int, a.samples.split(",")):
        for steps in map(int, a.steps.split(",")):
            got, drawn, sec = bands(mode="sample", samples=samples, steps=steps, seed=0)
            add("sample", "expected", steps, samples, 0.0, got, sec)
            add("sample", "drawn", steps, samples, 0.0, drawn, sec)
    for share in map(float, a.remask.split(",")) if a.remask else []:
        for steps in (4, 16):
            got, drawn, sec = bands(mode="sample", samples=4, steps=steps, seed=0, remask=share)
            add("sample", "expected", steps, 4, share, got, sec)
            add("sample", "drawn", steps, 4, share, drawn, sec)
    df = pd.DataFrame(rows)
    mean = df.loc[df.method == "mean", "heldout_bits"].iloc[0]
    df["share_of_mean"] = df["heldout_bits"] / mean
    df.to_csv(out / "sampling_curve.tsv", sep="\t", index=False, float_format="%.4f")
    print(df.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    plot(df, out / "sampling_curve.png")


def plot(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    plain = df[(df.method == "sample") & (df.remask == 0)]
    for (values, samples), g in plain.groupby(["values", "samples"]):
        ax.plot(g.steps, g.heldout_bits, marker="o", label=f"sample, {values}, {samples} draw(s)")
    for label, style in (("mean", "k--"), ("rwr", "r:")):
        ax.axhline(df.loc[df.method == label, "heldout_bits"].iloc[0], ls=style[1:], color=style[0],
                   label=f"{label} mode" if label == "mean" else "RWR")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("reverse-diffusion steps per draw")
    ax.set_ylabel("held-out gain (bits per contact)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
