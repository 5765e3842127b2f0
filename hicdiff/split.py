"""Split each cell's contacts into an input part and a held-out part by binomial thinning.

Every off-diagonal pixel count ``n`` (cis and trans) is split into ``n - k`` input and ``k`` held-out contacts
with ``k ~ Binomial(n, heldout_fraction)``: each contact independently lands in the held-out part with
probability ``heldout_fraction``. The main diagonal (pixels ``(i, i)``) is not scored by the evaluation and
stays whole in the input. Imputing from the input and scoring the held-out contacts
(:func:`hicdiff.evaluate.heldout_loglik`) measures how well a method predicts contacts the cell really has.

The split of a cell depends only on ``seed`` and the cell's name, not on which other cells are in the file.
"""

from __future__ import annotations

import logging
import os
import zlib

import numpy as np
import pandas as pd

from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet, ScoolWriter, open_cells

log = logging.getLogger(__name__)


def cell_rng(seed: int, name: str) -> np.random.Generator:
    """Random generator for one cell: a function of the seed and the cell name only."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def thin_pixels(pixels: pd.DataFrame, heldout_fraction: float, rng: np.random.Generator):
    """Binomial thinning of one cell's pixels.

    Parameters
    ----------
    pixels : DataFrame
        ``bin1_id``, ``bin2_id``, ``count`` (integer counts).
    heldout_fraction : float
        Probability that a contact goes to the held-out part, in (0, 1).
    rng : numpy Generator

    Returns
    -------
    input, heldout : DataFrame
        Pixels of the two parts, zero counts dropped; the main diagonal is wholly in ``input``.
    """
    count = pixels["count"].to_numpy()
    if not np.issubdtype(count.dtype, np.integer):
        if not np.all(count == np.round(count)):
            raise HicdiffError("counts are not integers; binomial thinning needs raw contact counts")
        count = count.astype(np.int64)
    if (count < 0).any():
        raise HicdiffError("negative counts; binomial thinning needs raw contact counts")
    off = pixels["bin1_id"].to_numpy() != pixels["bin2_id"].to_numpy()
    held = np.zeros_like(count)
    held[off] = rng.binomial(count[off], heldout_fraction)
    cols = pixels[["bin1_id", "bin2_id"]].reset_index(drop=True)
    inp = cols.assign(count=count - held)
    out = cols.assign(count=held)
    return inp[inp["count"] > 0].reset_index(drop=True), out[out["count"] > 0].reset_index(drop=True)


def split_cells(cells, input_path, heldout_path, heldout_fraction: float = 0.2, seed: int = 0,
                names=None) -> pd.DataFrame:
    """Split every cell of ``cells`` into ``input_path`` and ``heldout_path`` (two ``.scool`` files).

    Parameters
    ----------
    cells : CellSet or str
        Cells with raw integer counts (a ``.scool`` path or anything :func:`hicdiff.io.open_cells` takes).
    input_path, heldout_path : str
        Output ``.scool`` files; cells keep their names and stored metadata (labels).
    heldout_fraction : float
        Expected fraction of each off-diagonal contact count that is held out.
    seed : int
        Random seed; together with the cell name it fixes the split of that cell.
    names : list of str, optional
        Only these cells.

    Returns
    -------
    DataFrame
        Per cell: ``contacts``, ``input`` and ``heldout`` contact totals and ``heldout_offdiag_fraction``
        (held-out share of the off-diagonal contacts).
    """
    if not 0 < heldout_fraction < 1:
        raise HicdiffError(f"held-out fraction must be between 0 and 1, got {heldout_fraction}")
    if os.path.realpath(input_path) == os.path.realpath(heldout_path):
        raise HicdiffError("the input and held-out outputs are the same file", input_path)
    if not isinstance(cells, CellSet):
        cells = open_cells(cells)
    if names is not None:
        cells = cells.subset(names)
    params = {"heldout_fraction": float(heldout_fraction), "seed": int(seed), "source": cells.source}
    writers = [
        ScoolWriter(path, cells.bins, {"split": {**params, "part": part}}, inputs=[cells.source])
        for path, part in ((input_path, "input"), (heldout_path, "heldout"))
    ]
    rows = {}
    try:
        for name in cells:
            try:
                inp, held = thin_pixels(cells.pixels(name), heldout_fraction, cell_rng(seed, name))
            except HicdiffError as e:
                raise HicdiffError(f"cell {name}: {e}", cells.source) from None
            meta = cells.cell_metadata(name)
            writers[0].add(name, inp, meta)
            writers[1].add(name, held, meta)
            off_total = float(inp["count"][inp["bin1_id"] != inp["bin2_id"]].sum() + held["count"].sum())
            rows[name] = {
                "contacts": float(inp["count"].sum() + held["count"].sum()),
                "input": float(inp["count"].sum()),
                "heldout": float(held["count"].sum()),
                "offdiag": off_total,
            }
        for w in writers:
            w.close()
    except BaseException:
        for w in writers:
            w.abort()
        raise
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("cell")
    table["heldout_offdiag_fraction"] = table["heldout"] / table["offdiag"].where(table["offdiag"] > 0)
    log.info("split %d cells: %.0f of %.0f off-diagonal contacts held out", len(table),
             table["heldout"].sum(), table["offdiag"].sum())
    return table.drop(columns="offdiag")
