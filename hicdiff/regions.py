"""Masked regions: genomic intervals whose observed contacts are treated as missing (``impute --mask-regions``).

A region ``[start, end)`` of a chromosome hides every cis pixel ``(i, j)`` whose bin ``i`` or bin ``j``
overlaps it; in band form (row ``i``, diagonal ``d`` = pixel ``(i, i + d)``, :mod:`hicdiff.band`) that is the
region's rows and the entries whose column bin ``i + d`` falls in it. The model is shown MASK there, not zero
counts (a zero would say "no contacts here"), and imputes those pixels from the rest of the cell.

Regions come from a BED file: ``chrom  start  end  [cell]``, tab- or space-separated, 0-based half-open as
BED is; extra columns are ignored. The optional fourth column (BED's ``name``) ties a region to one cell by
its name; ``*`` or no fourth column masks it in every cell. Lines starting with ``#``, ``track`` or
``browser`` and blank lines are skipped.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np

from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet

log = logging.getLogger(__name__)

ALL_CELLS = "*"


@dataclass(frozen=True)
class Region:
    """``[start, end)`` bp of ``chrom``, masked in ``cell`` (``*``: every cell)."""

    chrom: str
    start: int
    end: int
    cell: str = ALL_CELLS
    line: int | None = field(default=None, compare=False)    # of the BED file it came from

    def __str__(self) -> str:
        where = f"{self.chrom}:{self.start}-{self.end}"
        return where if self.cell == ALL_CELLS else f"{where} ({self.cell})"

    def to_list(self) -> list:
        return [self.chrom, self.start, self.end, self.cell]


def read_regions(path) -> list[Region]:
    """Regions of a BED file (see the module's docstring); a line that is not ``chrom start end`` with whole
    numbers ``0 <= start < end`` is an error naming the file and the line."""
    path = str(path)
    if not os.path.isfile(path):
        raise HicdiffError("no such BED file of regions to mask", path)
    out = []
    with open(path) as fh:
        for k, line in enumerate(fh, start=1):
            text = line.strip()
            if not text or text.startswith(("#", "track", "browser")):
                continue
            cols = text.split()
            if len(cols) < 3:
                raise HicdiffError(f"line {k}: a region needs chrom, start and end, got {text!r}", path)
            try:
                start, end = int(cols[1]), int(cols[2])
            except ValueError:
                raise HicdiffError(f"line {k}: start and end must be whole numbers of bp, got {cols[1]!r} and "
                                   f"{cols[2]!r}", path) from None
            if start < 0 or start >= end:
                raise HicdiffError(f"line {k}: need 0 <= start < end, got start {start} and end {end}", path)
            out.append(Region(cols[0], start, end, cols[3] if len(cols) > 3 else ALL_CELLS, line=k))
    if not out:
        raise HicdiffError("no regions in this BED file", path)
    return out


class RegionMask:
    """Which bins of each cell are masked, for the cells of ``cells``.

    ``regions``: a BED path or :class:`Region` objects (or ``(chrom, start, end[, cell])`` tuples). Regions on
    chromosomes the cells do not have or starting past a chromosome's end are refused, naming the BED file and
    line (or the region); regions naming a cell that is not among ``cells`` mask nothing, with a warning that
    lists them.
    """

    def __init__(self, regions, cells: CellSet):
        self.source = str(regions) if isinstance(regions, (str, os.PathLike)) else None
        if self.source is not None:
            regions = read_regions(self.source)
        self.regions = [r if isinstance(r, Region) else Region(str(r[0]), int(r[1]), int(r[2]),
                                                               *(str(x) for x in r[3:4])) for r in regions]
        self.resolution = int(cells.resolution)
        names = set(cells.names)
        sizes = cells.chromsizes
        self._bins: dict[str, dict[str, np.ndarray]] = {}
        elsewhere = []
        for r in self.regions:
            at = f"line {r.line}" if r.line is not None else f"region {r}"
            if r.chrom not in cells.chrom_bins:
                raise HicdiffError(f"{at}: chromosome {r.chrom} is not in the cells' bin table (they have "
                                   f"{', '.join(cells.chromnames[:4])} ...)", self.source or cells.source)
            if not 0 <= r.start < r.end:
                raise HicdiffError(f"{at}: need 0 <= start < end", self.source)
            if r.start >= int(sizes[r.chrom]):
                raise HicdiffError(f"{at}: starts at {r.start}, past the end of {r.chrom} ({int(sizes[r.chrom])} bp)",
                                   self.source or cells.source)
            if r.cell != ALL_CELLS and r.cell not in names:
                elsewhere.append(f"{r.cell} ({at})")
                continue
            n = cells.n_bins(r.chrom)
            lo = r.start // self.resolution
            hi = min(n, -(-r.end // self.resolution))   # every bin that overlaps [start, end)
            bins = self._bins.setdefault(r.cell, {}).setdefault(r.chrom, np.zeros(n, bool))
            bins[lo:hi] = True
        if elsewhere:
            # a subset of the cells (--cells, one cell) leaves the other cells' regions unused; a typo shows here
            log.warning("%s: %d region(s) name cells that are not among the cells imputed, and mask nothing: %s",
                        self.source or "regions", len(elsewhere), ", ".join(elsewhere[:5])
                        + (" ..." if len(elsewhere) > 5 else ""))

    def of_cell(self, name: str) -> list[Region]:
        return [r for r in self.regions if r.cell in (ALL_CELLS, name)]

    def bins(self, name: str, chrom: str) -> np.ndarray | None:
        """Boolean ``(N,)`` masked bins of ``chrom`` in cell ``name`` (``None``: none masked)."""
        own = [self._bins.get(c, {}).get(chrom) for c in (ALL_CELLS, name)]
        own = [b for b in own if b is not None]
        if not own:
            return None
        return np.logical_or.reduce(own)

    def band(self, name: str, chrom: str, max_diag: int) -> np.ndarray | None:
        """Boolean ``(N, max_diag)`` band of the pixels hidden in cell ``name`` (``None``: none)."""
        bins = self.bins(name, chrom)
        return None if bins is None else hidden_band(bins, max_diag)

    def hide(self, name: str, bands: dict, band: int) -> tuple[dict[str, np.ndarray], int]:
        """Zero, in place, what the regions of cell ``name`` hide in ``bands`` (chromosome -> ``(band (N, D),
        diag0)``, as :func:`hicdiff._cellmaps.cell_bands` reads them): the hidden band pixels and the main
        diagonal of masked bins.

        Returns ``(hidden, entries)``: chromosome -> boolean ``(N, D)`` of the hidden pixels (only chromosomes
        with some), and how many hidden pixels lie within the first ``band`` diagonals (the model's band, over
        which the depth it is told is counted)."""
        hidden, entries = {}, 0
        for chrom, (grid, diag0) in bands.items():
            bins = self.bins(name, chrom)
            if bins is None:
                continue
            h = hidden_band(bins, grid.shape[1])
            grid[h] = 0
            diag0[bins] = 0
            hidden[chrom] = h
            entries += int(h[:, :band].sum())
        return hidden, entries

    def hidden_pixels(self, name: str, cells: CellSet, bin1, bin2) -> np.ndarray:
        """Boolean: which pixels of cell ``name`` (genome-wide bin ids ``bin1``, ``bin2`` of ``cells``) its
        regions hide (cis pixels touching a masked bin; trans pixels are never hidden)."""
        masked = np.zeros(len(cells.bins), bool)
        chrom_id = np.zeros(len(cells.bins), np.int64)
        for k, (chrom, (lo, hi)) in enumerate(cells.chrom_bins.items()):
            chrom_id[lo:hi] = k
            bins = self.bins(name, chrom)
            if bins is not None:
                masked[lo:hi] = bins
        bin1, bin2 = np.asarray(bin1), np.asarray(bin2)
        return (masked[bin1] | masked[bin2]) & (chrom_id[bin1] == chrom_id[bin2])

    def to_dict(self) -> dict:
        """What the output's metadata records."""
        return {"file": self.source, "regions": [r.to_list() for r in self.regions],
                "pixels": "every cis pixel (i, j) with bin i or bin j overlapping a region, hidden from the model "
                          "(shown as MASK) and imputed from the rest of the cell; the main diagonal of masked "
                          "bins is written as 0 (not modelled, nothing observed to copy)"}


def hidden_band(bins: np.ndarray, max_diag: int) -> np.ndarray:
    """Boolean ``(N, max_diag)``: pixel ``(i, i + d)`` touches a masked bin (``bins``, boolean ``(N,)``).
    Entries beyond the chromosome's end are False."""
    n = len(bins)
    i = np.arange(n)[:, None]
    j = i + np.arange(1, max_diag + 1)[None, :]
    inside = j < n
    return inside & (bins[:, None] | bins[np.minimum(j, n - 1)])


def write_without_regions(inputs, regions, output) -> dict:
    """A copy of the cells of ``inputs`` with the pixels that ``regions`` hide removed (what the baselines of
    an infilling check are given: the same masked input as ``impute --mask-regions``), cell metadata kept.
    Returns ``{cell: contacts removed}``."""
    from hicdiff.io import ScoolWriter, open_cells

    cells = open_cells(inputs)
    mask = regions if isinstance(regions, RegionMask) else RegionMask(regions, cells)
    removed = {}
    meta = {"method": "input without masked regions", "mask_regions": mask.to_dict()}
    sources = [str(inputs)] + ([mask.source] if mask.source else [])
    with ScoolWriter(output, cells.bins, meta, inputs=sources) as w:
        for name in cells.names:
            px = cells.pixels(name)
            hide = mask.hidden_pixels(name, cells, px["bin1_id"].to_numpy(), px["bin2_id"].to_numpy())
            removed[name] = int(px["count"].to_numpy()[hide].sum())
            w.add(name, px[~hide].reset_index(drop=True), cells.cell_metadata(name))
    return removed
