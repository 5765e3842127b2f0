"""Load per-cell contact files into one .scool and check every cell's total against its source file.

    python bench/load_check.py [CELLS_DIR] [--resolution 1000000] [--chromsizes SIZES] [--labels cells.tsv]

Defaults: the 300 Lee et al. 2019 cells of ``../shared/data/lee2019_pfc`` at 1 Mb. The source totals are
summed with plain Python (gzip + split, no pandas), independently of the importer. Prints the load time, the
check time and the number of cells whose totals differ (0 expected); exits 1 if any does.
"""

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

from hicdiff.importers import import_cells
from hicdiff.io import cell_name_from_path, open_cells

LEE = Path(__file__).resolve().parents[2] / "shared" / "data" / "lee2019_pfc"


def source_total(path: Path) -> int:
    with gzip.open(path, "rt") as fh:
        return sum(int(line.split()[4]) for line in fh if line.strip())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cells", nargs="?", default=str(LEE / "cells"))
    p.add_argument("--resolution", type=int, default=1_000_000)
    p.add_argument("--chromsizes", default=str(LEE / "hg19.chrom.sizes"))
    p.add_argument("--labels", default=str(LEE / "cells.tsv"))
    a = p.parse_args(argv)
    files = sorted(Path(a.cells).glob("*.gz"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cells.scool"
        t0 = time.perf_counter()
        import_cells([a.cells], out, a.resolution, a.chromsizes, fmt="contacts", labels=a.labels)
        load_s = time.perf_counter() - t0
        cells = open_cells(str(out))
        totals, labelled = cells.contacts_per_cell(), cells.metadata()
        t1 = time.perf_counter()
        wrong = [f.name for f in files if int(totals.get(cell_name_from_path(f), -1)) != source_total(f)]
        check_s = time.perf_counter() - t1
    print(f"cells loaded: {len(totals)} of {len(files)} files; contacts: {int(totals.sum()):,}; "
          f"load {load_s:.1f} s; check {check_s:.1f} s")
    if "cell_type" in labelled:
        print("labels:", labelled["cell_type"].value_counts().to_dict())
    print(f"cells whose total differs from the source file: {len(wrong)}" + (f" ({wrong[:5]})" if wrong else ""))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
