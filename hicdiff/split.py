"""Split each cell's contacts into an input part and a held-out part by binomial thinning.

Every off-diagonal pixel count ``n`` (cis and trans) is split into ``n - k`` input and ``k`` held-out contacts
with ``k ~ Binomial(n, heldout_fraction)``: each contact independently lands in the held-out part with
probability ``heldout_fraction``. The main diagonal (pixels ``(i, i)``) is not scored by the evaluation and
stays whole in the input. Imputing from the input and scoring the held-out contacts
(:func:`hicdiff.evaluate.heldout_loglik`) measures how well a method predicts contacts the cell really has.

The split of a cell depends only on ``seed`` and the cell's name, not on which other cells are in the file.

**Fine-scale split** (``heldout_unit``): protocols that hold duplicated contacts (Dip-C) leak under
contact-level thinning, since a held-out contact's twin stays in the input. :func:`hold_out_pixels` holds out
whole pixels of ``heldout_unit`` bp instead: every contact of a held-out fine pixel is held out, so no fine
pixel has contacts on both sides. Load the cells at the unit (or finer), split, and write both parts at a
coarser ``resolution`` (:func:`coarsen_pixels`).
"""

from __future__ import annotations

import logging
import os
import zlib

import numpy as np
import pandas as pd

from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet, ScoolWriter, chromsizes_table, make_bins, normalize_pixels, open_cells

log = logging.getLogger(__name__)


def cell_rng(seed: int, name: str) -> np.random.Generator:
    """Random generator for one cell: a function of the seed and the cell name only."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def _raw_counts(pixels: pd.DataFrame) -> np.ndarray:
    count = pixels["count"].to_numpy()
    if not np.issubdtype(count.dtype, np.integer):
        if not np.all(count == np.round(count)):
            raise HicdiffError("counts are not integers; splitting needs raw contact counts")
        count = count.astype(np.int64)
    if (count < 0).any():
        raise HicdiffError("negative counts; splitting needs raw contact counts")
    return count


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
    count = _raw_counts(pixels)
    off = pixels["bin1_id"].to_numpy() != pixels["bin2_id"].to_numpy()
    held = np.zeros_like(count)
    held[off] = rng.binomial(count[off], heldout_fraction)
    cols = pixels[["bin1_id", "bin2_id"]].reset_index(drop=True)
    inp = cols.assign(count=count - held)
    out = cols.assign(count=held)
    return inp[inp["count"] > 0].reset_index(drop=True), out[out["count"] > 0].reset_index(drop=True)


def hold_out_pixels(pixels: pd.DataFrame, heldout_fraction: float, rng: np.random.Generator, unit_of_bin,
                    diagonal):
    """Whole-pixel split of one cell: each fine pixel of ``heldout_unit`` bp (ids ``unit_of_bin[bin]``) goes,
    with all its contacts, to the held-out part with probability ``heldout_fraction``.

    ``diagonal``: bool per pixel, True where the pixel lies on the main diagonal at the output resolution
    (kept whole in the input, as in :func:`thin_pixels`). Returns ``(input, heldout)`` pixel frames.
    """
    count = _raw_counts(pixels)
    u1 = unit_of_bin[pixels["bin1_id"].to_numpy()]
    u2 = unit_of_bin[pixels["bin2_id"].to_numpy()]
    units, inverse = np.unique(np.stack([u1, u2], axis=1), axis=0, return_inverse=True)
    held_unit = rng.random(len(units)) < heldout_fraction
    held = held_unit[inverse.ravel()] & ~np.asarray(diagonal)
    cols = pixels[["bin1_id", "bin2_id"]].reset_index(drop=True)
    return (cols.assign(count=np.where(held, 0, count)).query("count > 0").reset_index(drop=True),
            cols.assign(count=np.where(held, count, 0)).query("count > 0").reset_index(drop=True))


def coarsen_pixels(pixels: pd.DataFrame, to_coarse: np.ndarray) -> pd.DataFrame:
    """Pixels re-binned by the bin map ``to_coarse`` (fine bin id -> coarse bin id), counts summed."""
    return normalize_pixels(to_coarse[pixels["bin1_id"].to_numpy()], to_coarse[pixels["bin2_id"].to_numpy()],
                            pixels["count"].to_numpy())


def _bin_map(bins: pd.DataFrame, resolution: int, what: str, source) -> tuple[np.ndarray, pd.DataFrame]:
    """``(fine bin -> bin at resolution, the coarse bin table)``; the resolution a multiple of the bins'."""
    fine = int((bins["end"] - bins["start"]).iloc[0])
    if resolution < fine or resolution % fine:
        raise HicdiffError(f"{what} {resolution} bp must be a multiple of the cells' resolution ({fine} bp)",
                           source)
    coarse = make_bins(chromsizes_table(bins), resolution)
    first = coarse.assign(chrom=coarse["chrom"].astype(str)).reset_index().groupby("chrom", sort=False)["index"].min()
    ids = first.reindex(bins["chrom"].astype(str)).to_numpy() + bins["start"].to_numpy() // resolution
    return ids.astype(np.int64), coarse


def split_cells(cells, input_path, heldout_path, heldout_fraction: float = 0.2, seed: int = 0,
                names=None, heldout_unit: int | None = None, resolution: int | None = None) -> pd.DataFrame:
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
    heldout_unit : int, optional
        Hold out whole pixels of this size in bp (a multiple of the cells' resolution) instead of single
        contacts: every contact of a held-out fine pixel is held out (the fine-scale split).
    resolution : int, optional
        Write both parts at this resolution (a multiple of the cells' and of ``heldout_unit``; default: the
        cells' own).

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
    unit_of_bin = to_out = None
    out_bins = cells.bins
    if heldout_unit is not None:
        unit_of_bin, _ = _bin_map(cells.bins, int(heldout_unit), "--heldout-unit", cells.source)
    if resolution is not None and int(resolution) != int(cells.resolution):
        to_out, out_bins = _bin_map(cells.bins, int(resolution), "--resolution", cells.source)
        if heldout_unit is not None and int(resolution) % int(heldout_unit):
            raise HicdiffError(f"--resolution {resolution} bp must be a multiple of --heldout-unit "
                               f"{heldout_unit} bp", cells.source)
    params = {"heldout_fraction": float(heldout_fraction), "seed": int(seed), "source": cells.source,
              "unit": "contact" if heldout_unit is None else f"pixel of {int(heldout_unit)} bp",
              "source_resolution": int(cells.resolution)}
    writers = [
        ScoolWriter(path, out_bins, {"split": {**params, "part": part}}, inputs=[cells.source])
        for path, part in ((input_path, "input"), (heldout_path, "heldout"))
    ]
    rows = {}
    try:
        for name in cells:
            try:
                pixels = cells.pixels(name)
                if heldout_unit is None:
                    inp, held = thin_pixels(pixels, heldout_fraction, cell_rng(seed, name))
                else:
                    b1, b2 = pixels["bin1_id"].to_numpy(), pixels["bin2_id"].to_numpy()
                    diagonal = (b1 == b2) if to_out is None else (to_out[b1] == to_out[b2])
                    inp, held = hold_out_pixels(pixels, heldout_fraction, cell_rng(seed, name), unit_of_bin,
                                                diagonal)
                if to_out is not None:
                    inp, held = coarsen_pixels(inp, to_out), coarsen_pixels(held, to_out)
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
