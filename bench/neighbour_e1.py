"""Compartments of cells guided by their neighbours, beside raw, RWR and the unguided model; with the leak-free
protocol (each fold of cells imputed alone, single cells and pools compared with the other fold's raw cells).

    python bench/neighbour_e1.py --run results/lee2019_pfc_1mb --model results/nb/model.ckpt --out results/nb \
        [--guidance 4] [--guidance-far 6 [--far-from 10000000]] [--add-observed]

``--model`` is a model trained with ``hicdiff train INPUT --prior-by neighbours``. Every step is the CLI:
``hicdiff impute --guide-neighbours K`` on all the run's cells (neighbours among them all) and on each
fold alone (fold files hold the cells of one reference fold: alternate cells of each label in name order,
as ``hicdiff evaluate`` folds them), ``hicdiff merge``, then ``hicdiff evaluate --reference-cells`` without
and with ``--reference-folds``. Prints the two tables.
"""

import argparse
import os
import subprocess
import sys
import time

import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from _cli import hicdiff  # noqa: E402


def run(*args, log=None):
    t0 = time.perf_counter()
    with open(log, "w") if log else open(os.devnull, "w") as f:
        subprocess.run(hicdiff(*args), check=True, stdout=f, stderr=subprocess.STDOUT)
    return time.perf_counter() - t0


def write_folds(inp, raw, out):
    """Fold files of ``inp``'s cells (folds as hicdiff evaluate makes them from ``raw``'s labels)."""
    from hicdiff._cellmaps import cell_labels
    from hicdiff.io import ScoolWriter, file_metadata, open_cells
    from hicdiff.references import label_folds

    cs, rc = open_cells(inp), open_cells(raw)
    fold = label_folds(cell_labels(rc, "cell_type"))
    paths = []
    import cooler

    for k in (0, 1):
        path = f"{out}/input-fold{k + 1}.scool"
        if not os.path.exists(path):
            w = ScoolWriter(path, cs.bins, file_metadata(inp), inputs=[inp])
            for n in cs.names:
                if fold.get(n) == k:
                    w.add(n, cooler.Cooler(cs.uris[n]).pixels()[:], cs.cell_metadata(n))
            w.close()
        paths.append(path)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="results/lee2019_pfc_1mb")
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", default="results/nb")
    ap.add_argument("--neighbours", type=int, default=5)
    ap.add_argument("--guidance", type=float, default=1.0, help="guidance weight of the guided imputations")
    ap.add_argument("--guidance-far", type=float, default=None,
                    help="guidance weight beyond --far-from (hicdiff impute --guidance-far)")
    ap.add_argument("--far-from", type=int, default=None, help="bp; default the model's band")
    ap.add_argument("--add-observed", action="store_true",
                    help="guided imputations write the observed plus the imputed contacts "
                         "(hicdiff impute --add-observed)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    ev = f"{a.run}/eval"
    inp, raw = f"{ev}/input.scool", f"{a.run}/cells.scool"
    k, th, w = str(a.neighbours), str(a.threads), str(a.guidance)
    tag = "" if a.guidance == 1 else f"-w{a.guidance:g}"
    far = []
    if a.guidance_far is not None:
        far = ["--guidance-far", str(a.guidance_far)] + (["--far-from", str(a.far_from)] if a.far_from else [])
        tag += f"-far{a.guidance_far:g}" + (f"-from{a.far_from // 1000000}mb" if a.far_from else "")
    if a.add_observed:
        far.append("--add-observed")
        tag += "-obs"
    guided = f"{a.out}/hicdiff-neighbours{tag}.scool"
    if not os.path.exists(guided):
        s = run("impute", inp, "--model", a.model, "-o", guided, "--guide-neighbours", k, "--guidance", w,
                *far, "--threads", th, log=f"{a.out}/impute-neighbours{tag}.log")
        print(f"impute --guide-neighbours {k}, all cells: {s:.0f} s", flush=True)
    folds = f"{a.out}/hicdiff-neighbours{tag}-folds.scool"
    if not os.path.exists(folds):
        parts = []
        for n, path in enumerate(write_folds(inp, raw, a.out), 1):
            part = f"{a.out}/hicdiff-neighbours{tag}-fold{n}.scool"
            if not os.path.exists(part):
                s = run("impute", path, "--model", a.model, "-o", part, "--guide-neighbours", k, "--guidance", w,
                        *far, "--threads", th, log=f"{a.out}/impute-fold{n}{tag}.log")
                print(f"impute --guide-neighbours {k}, fold {n} alone: {s:.0f} s", flush=True)
            parts.append(part)
        run("merge", *parts, "-o", folds)
    unguided = f"{a.out}/hicdiff-prior-unguided.scool"
    if not os.path.exists(unguided):
        run("impute", inp, "--model", a.model, "-o", unguided, "--threads", th, log=f"{a.out}/impute-unguided.log")
    methods = [f"{ev}/hicdiff.scool", unguided, guided, folds, f"{ev}/raw.scool", f"{ev}/rwr.scool"]
    cols = ["method", "heldout_bits", "compartment_corr", "compartment_corr_pooled"]
    for name, extra in ((f"report{tag}", []), (f"report{tag}-folds", ["--reference-folds"])):
        rep = f"{a.out}/{name}"
        if not os.path.exists(f"{rep}/metrics.tsv"):
            run("evaluate", *methods, "--heldout", f"{ev}/heldout.scool", "--reference-cells", raw, *extra,
                "-o", rep, log=f"{a.out}/{name}.log")
        m = pd.read_csv(f"{rep}/metrics.tsv", sep="\t")
        print(f"\n{name}:" + (" single cells and pools against the other fold" if extra else
                               " single cells against the leave-one-out pool, pools across folds"))
        print(m[[c for c in cols if c in m]].round(3).to_string(index=False), flush=True)


if __name__ == "__main__":
    main()
