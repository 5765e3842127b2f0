"""Imputation cost at 1 Mb, 500 kb and 100 kb: hicdiff ``mean`` mode against scHiCluster-style RWR, side by side.

    python bench/scale.py [--cells 4] [--threads 2] [--skip-lengths] [--skip-gse]

1. Genome-wide, per resolution: the first ``--cells`` Nagano et al. 2017 mouse ES cells (contact files) are
   binned with ``hicdiff load`` (mm9, cis), then imputed by hicdiff (``impute_scool``, an untrained model of
   the ``small`` preset: speed does not depend on the weights) and by RWR (``run_baseline(method="rwr")``),
   both writing the same kind of ``.scool`` over the same band. 1 Mb uses the CPU default model's band
   (32 diagonals = 32 Mb); 500 kb and 100 kb a 10 Mb band (20 and 100 diagonals).
2. The GSE100569 ``.scool`` (5 mouse nuclei, 100 kb, 10 Mb band), both methods.
3. Chromosome length at 100 kb: one cell, one chromosome at a time (chr19, chr10, chr1 of mm9), so
   time and memory can be read against the chromosome's length.

Every measurement runs in its own process, so its peak memory (max RSS) is its own; ``extra_mb`` is that
peak minus the process's RSS before any imputation (model loaded, cells opened): the memory the imputation
itself needs. Each process first imputes one cell untimed (warm-up: first-call allocations, BLAS and torch
start-up), then times all its cells: seconds per cell are wall time of reading, imputing and writing.
Prints one JSON line per measurement and a Markdown table at the end.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NAGANO = DATA / "nagano2017_mesc_contacts" / "cells"
GSE = DATA / "gse100569_mouse_scool" / "scool_test_file.scool"
MM9 = DATA / "chromsizes" / "mm9.chrom.sizes"


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(a) -> None:
    """One timed run (in its own process): ``a.worker`` on the cells of ``a.scool``."""
    import torch

    from hicdiff.io import open_cells

    torch.set_num_threads(a.threads)
    cs = open_cells(a.scool)
    out = os.path.join(a.tmp, f"{a.worker}-{os.getpid()}.scool")
    warm = os.path.join(a.tmp, f"{a.worker}-{os.getpid()}-warmup.scool")
    first = cs.names[:1]
    if a.worker == "hicdiff":
        from hicdiff.impute import Imputer, impute_scool

        imp = Imputer.from_checkpoint(a.model, device="cpu")
        before = _rss_mb()
        impute_scool(a.scool, a.model, warm, cells=first, imputer=imp)
        t0 = time.perf_counter()
        impute_scool(a.scool, a.model, out, imputer=imp)
    else:
        from threadpoolctl import threadpool_limits

        from hicdiff.baselines import run_baseline

        before = _rss_mb()
        with threadpool_limits(a.threads):
            run_baseline(cs, warm, "rwr", max_distance=a.max_distance, names=first)
            t0 = time.perf_counter()
            run_baseline(cs, out, "rwr", max_distance=a.max_distance)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds_per_cell": round(wall / len(cs), 4), "peak_mb": round(peak, 1),
                      "extra_mb": round(peak - before, 1), "cells": len(cs)}))


def measure(scool, resolution, max_diag, threads, tmp, label) -> dict:
    from hicdiff.checkpoint import untrained_checkpoint
    from hicdiff.config import load_config
    from hicdiff.io import open_cells
    from hicdiff.windows import default_chromosomes

    cs = open_cells(scool)
    chroms = default_chromosomes(cs)
    model = untrained_checkpoint(os.path.join(tmp, Path(scool).stem + ".ckpt"), cs,
                                 load_config("small", max_diag=max_diag))
    row = {"data": label, "resolution": resolution, "band_mb": max_diag * resolution / 1e6, "diagonals": max_diag,
           "cells": len(cs), "bins": sum(cs.n_bins(c) for c in chroms)}
    for method in ("hicdiff", "rwr"):
        cmd = [sys.executable, __file__, "--worker", method, "--scool", scool, "--model", model,
               "--max-distance", str(max_diag * resolution), "--threads", str(threads), "--tmp", tmp]
        res = json.loads(subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout.splitlines()[-1])
        row.update({f"{method}_{k}": v for k, v in res.items() if k != "cells"})
    row["hicdiff_over_rwr"] = round(row["hicdiff_seconds_per_cell"] / row["rwr_seconds_per_cell"], 3)
    print(json.dumps(row), flush=True)
    return row


def load(resolution, tmp, n_cells, chromosomes=None, tag="") -> str:
    from hicdiff.importers import import_cells

    out = os.path.join(tmp, f"nagano-{resolution}{tag}.scool")
    cells = sorted(p for p in NAGANO.iterdir() if p.is_dir())[:n_cells]
    import_cells([str(p) for p in cells], out, resolution, str(MM9), fmt="contacts",
                 chromosomes=chromosomes)
    return out


def table(rows) -> str:
    head = ("| data | resolution | band | cells | bins | hicdiff s/cell | hicdiff peak / extra MB | "
            "RWR s/cell | RWR peak / extra MB | hicdiff / RWR time |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['data']} | {r['resolution'] // 1000} kb | {r['band_mb']:g} Mb ({r['diagonals']}) | {r['cells']} | "
            f"{r['bins']:,} | {r['hicdiff_seconds_per_cell']:.3f} | {r['hicdiff_peak_mb']:.0f} / "
            f"{r['hicdiff_extra_mb']:.0f} | {r['rwr_seconds_per_cell']:.3f} | {r['rwr_peak_mb']:.0f} / "
            f"{r['rwr_extra_mb']:.0f} | {r['hicdiff_over_rwr']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", type=int, default=4, help="Nagano cells per resolution")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--resolutions", type=int, nargs="+", default=[1_000_000, 500_000, 100_000])
    p.add_argument("--skip-lengths", action="store_true")
    p.add_argument("--skip-gse", action="store_true")
    p.add_argument("--worker", choices=["hicdiff", "rwr"], help=argparse.SUPPRESS)
    p.add_argument("--scool", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--max-distance", type=int, help=argparse.SUPPRESS)
    p.add_argument("--tmp", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        worker(a)
        return
    import logging

    from hicdiff.config import load_config

    logging.basicConfig(level=logging.WARNING)
    default_diag = load_config("small").max_diag  # the CPU default model's band at 1 Mb
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for res in a.resolutions:
            max_diag = default_diag if res == 1_000_000 else 10_000_000 // res
            rows.append(measure(load(res, tmp, a.cells), res, max_diag, a.threads, tmp, "Nagano mESC"))
        if not a.skip_gse:
            rows.append(measure(str(GSE), 100_000, 100, a.threads, tmp, "GSE100569"))
        if not a.skip_lengths:
            for chrom in ("chr19", "chr10", "chr1"):
                scool = load(100_000, tmp, 1, chromosomes=[chrom], tag=chrom)
                rows.append(measure(scool, 100_000, 100, a.threads, tmp, f"Nagano, {chrom} only"))
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
