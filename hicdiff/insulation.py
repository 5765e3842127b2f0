"""Per-cell insulation scores and boundaries, on :func:`cooltools.insulation`.

Every cell hicdiff writes carries a ``weight`` column (:mod:`hicdiff.balance`), so cooltools runs on
``CELLS.scool::/cells/NAME`` as is; :func:`insulation` runs it on each cell and stacks the tables. Insulation
is a fine-scale measure: resolutions coarser than :data:`MAX_RESOLUTION` are refused.
"""

from __future__ import annotations

import contextlib
import logging
import warnings

import cooler
import pandas as pd

from hicdiff.balance import DEFAULTS
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet, open_cells

log = logging.getLogger(__name__)

#: Coarsest resolution at which insulation and boundaries are computed (bp).
MAX_RESOLUTION = 200_000

#: Columns of the result besides ``cell, chrom, start, end``.
COLUMNS = ["is_bad_bin", "log2_insulation_score", "n_valid_pixels", "boundary_strength", "is_boundary"]


class _DropSerialNote(logging.Filter):
    # cooltools logs "fallback to serial implementation." on the root logger at every call
    def filter(self, record):
        return "fallback to serial" not in record.getMessage()


@contextlib.contextmanager
def _quiet():
    note = _DropSerialNote()
    root = logging.getLogger()
    root.addFilter(note)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            yield
    finally:
        root.removeFilter(note)


def insulation(cells, window: int, names=None, chroms=None, balance: bool = True,
               min_frac_valid_pixels: float = 0.66, threshold="Li") -> pd.DataFrame:
    """Diamond insulation score and boundaries of every cell (:func:`cooltools.insulation`).

    Parameters
    ----------
    cells : CellSet or str
        Cells at :data:`MAX_RESOLUTION` or finer, with a ``weight`` column when ``balance`` (every
        ``.scool`` hicdiff writes has one).
    window : int
        Diamond size in bp, a multiple of the resolution.
    names : list of str, optional
        Only these cells.
    chroms : list of str, optional
        Only these chromosomes (default: all).
    balance : bool
        Score the balanced map (``weight``); ``False`` scores raw counts (sparse raw cells, where the
        balancing masks most bins).
    min_frac_valid_pixels, threshold
        As in :func:`cooltools.insulation` (its defaults): diamonds with fewer valid pixels get no boundary;
        ``"Li"``, ``"Otsu"`` or a number thresholds the boundary strengths of each cell.

    Returns
    -------
    DataFrame
        ``cell, chrom, start, end`` and :data:`COLUMNS` (``log2_insulation_score``: log2 of the diamond's
        mean over its chromosome's median; ``boundary_strength``: prominence of a local minimum), one row per
        cell and bin; ``attrs["window"]`` is the window in bp.
    """
    import cooltools

    cells = cells if isinstance(cells, CellSet) else open_cells(cells)
    if names is not None:
        cells = cells.subset(names)
    res = int(cells.resolution)
    if res > MAX_RESOLUTION:
        raise HicdiffError(f"insulation needs {MAX_RESOLUTION:,} bp bins or finer; these are {res:,} bp", cells.source)
    window = int(window)
    if window % res or window < 2 * res:
        raise HicdiffError(f"window {window:,} bp must be a multiple of the resolution ({res:,} bp), at least 2 bins")
    chroms = list(cells.chromnames) if chroms is None else list(chroms)
    unknown = sorted(set(chroms) - set(cells.chromnames))
    if unknown:
        raise HicdiffError(f"chromosome(s) {', '.join(unknown)} not in the cells", cells.source)
    keep = set(chroms)
    chroms = [c for c in cells.chromnames if c in keep and cells.n_bins(c) > window // res]
    view = pd.DataFrame({"chrom": chroms, "start": 0, "end": [int(cells.chromsizes[c]) for c in chroms],
                         "name": chroms})
    rename = {f"{c}_{window}": c for c in COLUMNS if c != "is_bad_bin"}
    rows = []
    for name, uri in cells.uris.items():
        clr = cooler.Cooler(uri)
        if balance and "weight" not in clr.bins().columns:
            raise HicdiffError("cells have no 'weight' column: write them with hicdiff, run cooler balance, or "
                               "score raw counts (balance=False)", uri)
        with _quiet():
            table = cooltools.insulation(clr, [window], view_df=view, ignore_diags=DEFAULTS["ignore_diags"],
                                         clr_weight_name="weight" if balance else None,
                                         min_frac_valid_pixels=min_frac_valid_pixels, threshold=threshold)
        rows.append(table.rename(columns=rename)[["chrom", "start", "end", *COLUMNS]].assign(cell=name))
    out = pd.concat(rows, ignore_index=True)[["cell", "chrom", "start", "end", *COLUMNS]]
    out["chrom"] = out["chrom"].astype(str)
    out.attrs["window"] = window
    return out
