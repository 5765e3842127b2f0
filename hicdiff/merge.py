"""Merging ``.scool`` files that share one bin table, such as the shards of a sharded imputation.

Shards are written by ``hicdiff impute --cells`` on parts of the cells (one cluster job each); merging them
gives one ``.scool`` as if all cells had been imputed at once: the same bins, the same count type, each cell's
pixels and metadata unchanged, cells in the order of the inputs.
"""

from __future__ import annotations

import logging

import h5py
import numpy as np

from hicdiff.errors import HicdiffError
from hicdiff.io import ScoolWriter, file_metadata, open_cells

log = logging.getLogger(__name__)

#: Root metadata that says what the values mean; shards that disagree on it must not be merged.
DEFINING_KEYS = ("scale", "method", "model", "model_step", "parameters")


def _float_counts(uri: str) -> bool:
    path, _, group = uri.partition("::")
    with h5py.File(path, "r") as f:
        return not np.issubdtype(f[group or "/"]["pixels/count"].dtype, np.integer)


def _same_bins(a, b) -> bool:
    cols = ("chrom", "start", "end")
    return len(a) == len(b) and all(np.array_equal(a[c].to_numpy(), b[c].to_numpy()) for c in cols)


def merge_scools(inputs, output) -> dict:
    """Merge the cells of several ``.scool`` files into one.

    Parameters
    ----------
    inputs : list of str
        ``.scool`` files (or single-cell coolers) with the same bin table; a cell name may occur only once
        among them.
    output : str
        Merged ``.scool``, written atomically.

    Returns
    -------
    dict
        ``cells`` written, ``inputs`` merged and the ``output`` path.
    """
    inputs = [str(i) for i in inputs]
    if not inputs:
        raise HicdiffError("nothing to merge")
    sets = [open_cells(i) for i in inputs]
    first = sets[0]
    seen = {}
    for path, cs in zip(inputs, sets):
        if not _same_bins(cs.bins, first.bins):
            raise HicdiffError(f"bin table differs from {inputs[0]}; only files of one bin table merge", path)
        for name in cs:
            if name in seen:
                raise HicdiffError(f"cell {name!r} occurs twice (also in {seen[name]})", path)
            seen[name] = path
    metas = [file_metadata(i) for i in inputs]
    for key in DEFINING_KEYS:
        values = {repr(m.get(key)) for m in metas}
        if len(values) > 1:
            raise HicdiffError(
                f"the inputs differ in their {key!r} metadata, so their values do not mean the same thing; "
                f"merge only outputs of one command with the same options", inputs[0])
    float_counts = any(_float_counts(u) for cs in sets for u in cs.uris.values())
    meta = {k: v for k, v in metas[0].items() if k != "hicdiff_version"}
    with ScoolWriter(output, first.bins, meta, float_counts=float_counts, inputs=inputs) as writer:
        for cs in sets:
            for name in cs:
                writer.add(name, cs.pixels(name), cs.cell_metadata(name))
    log.info("merged %d cells from %d files into %s", len(seen), len(inputs), output)
    return {"cells": len(seen), "inputs": len(inputs), "output": str(output)}
