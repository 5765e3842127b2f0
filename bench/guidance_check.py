"""Guidance by a cell type's pooled cells on shallow cells: held-out gain with and without the prior.

    python bench/guidance_check.py --run results/lee2019_pfc_1mb --minutes 6 --threads 2

On the default run's 60 cells (``RUN/eval/input.scool``, 80% of each cell; ``RUN/eval/heldout.scool``, the
other 20%): each input part is thinned to 10% of its contacts (``hicdiff split --heldout-fraction 0.9``), the
shallow cells. The shipped ``general`` model is fine-tuned with a prior channel (``hicdiff train
RUN/eval/input.scool OUT/shallow.scool --init general --prior-by cell_type``: each training cell's prior is
its type's other training cells pooled). Each shallow cell is then imputed (mean mode, the model's band)

- unguided (guidance weight 0: the same network without the prior),
- guided by its type's pool of the 80% input parts of the OTHER cells (weights 1, 2),
- and the shipped model zero-shot, unguided;

beside the prior alone (that pool, what ``pool-by-label`` gives less the cell itself) and RWR of the
shallow cell. Scored as ``hicdiff evaluate`` scores ``heldout_bits`` (10 Mb band) against the held-out 20%,
which neither the cell's shallow copy, the pool nor any training saw. Writes ``OUT/guidance.tsv``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path

import cooler
import pandas as pd

from _cli import hicdiff
from _score import BAND_BP, heldout_bits, read_bands
from hicdiff._cellmaps import cell_labels
from hicdiff.guidance import PoolPrior
from hicdiff.impute import Imputer
from hicdiff.io import open_cells


def run(*cmd):
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run(list(map(str, cmd)), check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="results/lee2019_pfc_1mb")
    ap.add_argument("--out", default="results/guidance_check")
    ap.add_argument("--minutes", type=float, default=6.0, help="fine-tuning with the prior channel")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fraction", type=float, default=0.1, help="share of the input part kept (shallow cells)")
    ap.add_argument("--bulk", default="../shared/data/bulk_gm12878_rao2014/gm12878_1_2_3.cool",
                    help="a real bulk map as the prior too (scored on its chromosomes); '' to skip")
    a = ap.parse_args()
    run_dir, out = Path(a.run), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    inp, heldout = run_dir / "eval" / "input.scool", run_dir / "eval" / "heldout.scool"
    shallow, rest = out / "shallow.scool", out / "shallow_rest.scool"
    if not shallow.exists():
        run(*hicdiff("split", inp, "-o", shallow, rest, "--heldout-fraction", 1 - a.fraction, "--seed", 7))
    model = out / "prior.ckpt"
    if not model.exists():
        t0 = time.time()
        run(*hicdiff("train", inp, shallow, "-o", model, "--init", "general", "--prior-by", "cell_type",
                     "--max-time", a.minutes, "--threads", a.threads, "--val-fraction", 0.1))
        print(f"fine-tuned in {time.time() - t0:.0f} s", flush=True)
    rwr = out / "shallow_rwr.scool"
    if not rwr.exists():
        run(*hicdiff("baseline", shallow, "--method", "rwr", "-o", rwr))

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    full = open_cells(str(inp))
    cells = open_cells(str(shallow))
    held_cells = open_cells(str(heldout))
    names = [n for n in cells.names if n in held_cells.uris]
    labels = cell_labels(full, "cell_type")
    dmax = BAND_BP // cells.resolution
    guided_imp = Imputer.from_checkpoint(str(model), device="auto", threads=a.threads)
    general = Imputer.from_checkpoint("general", device="auto", threads=a.threads)
    chroms = guided_imp.chromosomes(cells)
    held = read_bands(held_cells, names, dmax, chroms)
    band = guided_imp.cfg.max_diag
    results: dict[str, dict] = {}
    for label in sorted(labels.unique()):
        group = [n for n in names if labels[n] == label]
        pool = [n for n in full.names if labels[n] == label]
        prior = PoolPrior(full, pool, chroms, band, band, label=label)
        sub = cells.subset(group)
        for key, imp, w in (("general zero-shot", general, None), ("prior model, unguided (w=0)", guided_imp, 0.0),
                            ("guided by type pool, w=1", guided_imp, 1.0),
                            ("guided by type pool, w=2", guided_imp, 2.0)):
            kw = {} if w is None else {"prior": prior, "guidance": w}
            got = {r.name: r.bands for r in imp.impute_many(sub, group, chroms=chroms, max_distance="band", **kw)}
            results.setdefault(key, {}).update(got)
        results.setdefault("type pool alone (less the cell)", {}).update(
            {n: prior.for_cell(n)[0] for n in group})
        print(f"{label}: {len(group)} cells imputed", flush=True)
    results["RWR of the shallow cell"] = read_bands(open_cells(str(rwr)), names, dmax, chroms)
    results["raw shallow cell"] = read_bands(cells, names, dmax, chroms)
    rows = [{"method": k, "heldout_bits": heldout_bits(v, held, names, dmax), "cells": len(names)}
            for k, v in results.items()]
    if a.bulk:
        rows += bulk_rows(a.bulk, guided_imp, cells, names, held_cells, dmax)
    df = pd.DataFrame(rows)
    df.to_csv(out / "guidance.tsv", sep="\t", index=False, float_format="%.4f")
    print(df.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


def bulk_rows(bulk, imp, cells, names, held_cells, dmax) -> list[dict]:
    """The same shallow cells guided by a real bulk map (every cell the same prior), on the bulk's
    chromosomes only: unguided, guided (w = 1, 2), and the bulk alone."""
    from hicdiff.guidance import BulkPrior

    clr_chroms = [c for c in imp.chromosomes(cells) if c.removeprefix("chr") in
                  {n.removeprefix("chr") for n in cooler.Cooler(bulk).chromnames}]
    band = imp.cfg.max_diag
    prior = BulkPrior(bulk, cells, clr_chroms, band, band)
    held = read_bands(held_cells, names, dmax, clr_chroms)
    out = []
    for label, w in (("bulk chromosomes: prior model, unguided (w=0)", 0.0),
                     ("bulk chromosomes: guided by bulk, w=1", 1.0), ("bulk chromosomes: guided by bulk, w=2", 2.0)):
        got = {r.name: r.bands for r in imp.impute_many(cells, names, chroms=clr_chroms, max_distance="band",
                                                         prior=prior, guidance=w)}
        out.append({"method": label, "heldout_bits": heldout_bits(got, held, names, dmax), "cells": len(names)})
    alone = {n: prior.bands for n in names}
    out.append({"method": "bulk chromosomes: the bulk map alone", "heldout_bits": heldout_bits(alone, held, names,
                                                                                             dmax),
                "cells": len(names)})
    out.append({"method": f"(bulk: {bulk}, chromosomes {', '.join(clr_chroms)})", "heldout_bits": float("nan"),
                "cells": len(names)})
    return out


if __name__ == "__main__":
    main()
