"""Pseudo-bulk maps per group of cells (cell type or cluster), ready for HiGlass.

Each group's cells (raw, or imputed by ``hicdiff impute``) are summed with cooler's own merge, coarsened into
a multi-resolution ``.mcool`` with cooler's zoomify and balanced at every resolution with cooler's balance.
One ``.mcool`` per group, ``<output>/<group>.mcool``, because a HiGlass tileset is one ``.mcool`` with its
resolutions at ``resolutions/N`` (``higlass-manage ingest``, ``clodius``); the folder is also what
``hicdiff evaluate --reference-by-label`` reads. ``<output>/groups.tsv`` lists groups, cells and contacts.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import warnings

import cooler
import h5py
import numpy as np
import pandas as pd

from hicdiff import __version__
from hicdiff._cellmaps import cell_labels
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet, file_metadata, open_cells, read_cell_metadata
from hicdiff.merge import _float_counts
from hicdiff.progress import Progress

log = logging.getLogger(__name__)

#: Bins per side of a HiGlass tile: the coarsest resolution shows the whole genome in one tile.
HIGLASS_TILE_BINS = 256

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def zoom_resolutions(base: int, genome_length: int) -> list[int]:
    """``base`` and its doublings up to the first at which the genome fits in one HiGlass tile."""
    res = [int(base)]
    while res[-1] * HIGLASS_TILE_BINS < genome_length:
        res.append(res[-1] * 2)
    return res


def read_groups(cells: CellSet, by: str, column: str | None = None) -> pd.Series:
    """Cell -> group, from a column of the cells' stored metadata or from a TSV.

    ``by`` is a file (TSV whose first column, or column ``cell``/``name``, names cells; the group is
    ``column``, default its first other column) or the name of a stored metadata column such as
    ``cell_type``. Cells without a group are left out (a warning says how many).
    """
    if os.path.isfile(by):
        table = read_cell_metadata(by)
        col = column or (table.columns[0] if len(table.columns) else None)
        if col is None or col not in table.columns:
            raise HicdiffError(f"no group column {col!r} in the table (columns: {', '.join(table.columns)})", by)
        groups = table[col].reindex(cells.names)
    else:
        if column is not None:
            raise HicdiffError("--column applies to a table given with --by FILE.tsv")
        stored = cell_labels(cells, by, required=False)
        if stored is None:
            have = ", ".join(map(str, cells.metadata().columns)) or "none"
            raise HicdiffError(f"--by {by!r} is neither a file nor a stored metadata column (columns: {have})",
                               cells.source)
        groups = stored
    missing = int(groups.isna().sum())
    if missing:
        log.warning("%d of %d cells have no group and are left out", missing, len(groups))
    groups = groups.dropna().astype(str)
    if groups.empty:
        raise HicdiffError("no cell has a group", by)
    return groups


def group_file_name(group: str) -> str:
    """A file name for a group: characters other than letters, digits and ``._+-`` become ``_``."""
    name = _UNSAFE.sub("_", str(group)).strip("._") or "group"
    return f"{name}.mcool"


def _has_trans(uri: str, chunk: int = 10_000_000) -> bool:
    clr = cooler.Cooler(uri)
    offsets = clr._load_dset("indexes/chrom_offset")
    chrom_of_bin = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    path, _, group = uri.partition("::")
    with h5py.File(path, "r") as f:
        px = f[group or "/"]["pixels"]
        for lo in range(0, px["bin1_id"].shape[0], chunk):
            if (chrom_of_bin[px["bin1_id"][lo: lo + chunk]] != chrom_of_bin[px["bin2_id"][lo: lo + chunk]]).any():
                return True
    return False


def _balance(uri: str, cis_only: bool) -> bool:
    """Balance one resolution in place (weights in column ``weight``); whether it converged (on every
    chromosome). Not converging is reported once per group by :func:`pool_cells`, not per chromosome."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)
        _, stats = cooler.balance_cooler(cooler.Cooler(uri), cis_only=cis_only, store=True)
    return bool(np.all(stats.get("converged", False)))


def pool_group(cells: CellSet, names, output: str, resolutions=None, metadata=None) -> dict:
    """Sum ``names`` of ``cells`` into one multi-resolution, balanced ``.mcool`` at ``output`` (written under
    a temporary name and renamed). Returns ``resolutions``, ``contacts`` and whether balancing converged."""
    uris = [cells.uris[n] for n in names]
    genome = int(cells.chromsizes.sum())
    resolutions = sorted(resolutions or zoom_resolutions(cells.resolution, genome))
    if resolutions[0] != cells.resolution or any(r % cells.resolution for r in resolutions):
        raise HicdiffError(f"resolutions must start at the cells' {cells.resolution} bp and be multiples of it")
    dtypes = {"count": np.float64} if _float_counts(uris[0]) else None
    folder = os.path.dirname(os.path.abspath(output))
    tmpdir = tempfile.mkdtemp(prefix=".pool-", dir=folder)
    try:
        base = os.path.join(tmpdir, "base.cool")
        cooler.merge_coolers(base, uris, mergebuf=20_000_000, dtypes=dtypes)
        partial = os.path.join(tmpdir, "pooled.mcool")
        cooler.zoomify_cooler(base, partial, resolutions, chunksize=10_000_000, dtypes=dtypes)
        # cells loaded cis only (the default) have no trans pixels: balance each chromosome on its own
        cis_only = not _has_trans(base)
        converged = [_balance(f"{partial}::resolutions/{r}", cis_only) for r in resolutions]
        contacts = float(cooler.Cooler(base).pixels()["count"][:].sum())
        meta = {"hicdiff_version": __version__, "cells": len(names), "contacts": contacts, **(metadata or {})}
        with h5py.File(partial, "r+") as f:
            f.attrs["metadata"] = json.dumps(meta)
            for r in resolutions:
                f[f"resolutions/{r}"].attrs["metadata"] = json.dumps(meta)
        os.replace(partial, output)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return {"resolutions": resolutions, "contacts": contacts,
            "balanced": all(converged)}


def pool_cells(inputs, by: str, output, column: str | None = None, resolutions=None) -> pd.DataFrame:
    """Pseudo-bulk of each group of cells as ``<output>/<group>.mcool`` (the ``hicdiff pool`` command).

    Parameters
    ----------
    inputs : str or list of str
        A ``.scool`` of raw or imputed cells (or per-cell coolers sharing one bin table).
    by : str
        A stored metadata column (``cell_type``) or a TSV of cell -> group, e.g. clusters from
        ``hicdiff embed --clusters-tsv``; see :func:`read_groups`.
    output : str
        Folder to write (created): one ``.mcool`` per group and ``groups.tsv``.
    column : str, optional
        The group column of a TSV given as ``by``.
    resolutions : list of int, optional
        Resolutions in bp (default: the cells' resolution and its doublings up to one HiGlass tile for the
        whole genome, :func:`zoom_resolutions`).

    Returns
    -------
    DataFrame
        One row per group: ``group``, ``file``, ``cells``, ``contacts``, ``resolutions``, ``balanced``.
    """
    cells = open_cells(inputs)
    groups = read_groups(cells, by, column)
    output = str(output)
    if os.path.exists(output) and not os.path.isdir(output):
        raise HicdiffError("output exists and is not a folder (pool writes one .mcool per group into a folder)",
                           output)
    os.makedirs(output, exist_ok=True)
    files = {g: group_file_name(g) for g in sorted(set(groups))}
    if len(set(files.values())) < len(files):
        raise HicdiffError("two groups give the same file name; rename them", by)
    source = file_metadata(cells.uris[cells.names[0]])
    rows = []
    with Progress(len(files), "pooled", unit="groups", logger=log) as bar:
        for g, fname in files.items():
            names = groups.index[groups == g].tolist()
            meta = {"group": g, "grouped_by": str(by), "source": cells.source,
                    "scale": source.get("scale", "raw contacts") + ", summed over the group's cells",
                    "method": source.get("method", "raw")}
            res = pool_group(cells, names, os.path.join(output, fname), resolutions, meta)
            rows.append({"group": g, "file": fname, "cells": len(names), "contacts": res["contacts"],
                         "resolutions": ",".join(map(str, res["resolutions"])), "balanced": res["balanced"]})
            if not res["balanced"]:
                log.warning("group %s: balancing did not converge at every resolution", g)
            bar.update()
    table = pd.DataFrame(rows)
    table.to_csv(os.path.join(output, "groups.tsv"), sep="\t", index=False)
    log.info("pooled %d cells into %d groups in %s", len(groups), len(files), output)
    return table
