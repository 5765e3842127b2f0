"""From cells to model inputs: the layout of a model's chromosomes, windows of band grids, and token tensors.

Training and imputation both go through these functions, so the model sees the same inputs in both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from hicdiff.band import valid_mask
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet
from hicdiff.tokens import Tokenizer


@dataclass
class Layout:
    """Chromosomes a model covers, their lengths in bins, and each one's first genomic tile (locus) index."""

    resolution: int
    chroms: list[str]
    n_bins: list[int]
    tile_rows: int

    @classmethod
    def from_cellset(cls, cs: CellSet, chroms, tile_rows: int) -> "Layout":
        return cls(int(cs.resolution), list(chroms), [cs.n_bins(c) for c in chroms], tile_rows)

    @property
    def locus_offset(self) -> dict[str, int]:
        tiles = [math.ceil(n / self.tile_rows) for n in self.n_bins]
        return dict(zip(self.chroms, np.concatenate([[0], np.cumsum(tiles)[:-1]]).astype(int).tolist()))

    @property
    def n_loci(self) -> int:
        return int(sum(math.ceil(n / self.tile_rows) for n in self.n_bins))

    def to_dict(self) -> dict:
        return {"resolution": self.resolution, "chroms": self.chroms, "n_bins": self.n_bins,
                "tile_rows": self.tile_rows}

    @classmethod
    def from_dict(cls, d) -> "Layout":
        return cls(int(d["resolution"]), list(d["chroms"]), [int(n) for n in d["n_bins"]], int(d["tile_rows"]))

    def check(self, cs: CellSet, chroms, per_locus: bool = True) -> None:
        """Refuse cells the model cannot impute.

        A model with a per-locus embedding (``per_locus``) knows one resolution and one assembly: other
        resolutions, chromosomes or chromosome lengths are refused. A model without one imputes any resolution
        and assembly; only chromosomes too short to hold a pixel off the diagonal are refused.
        """
        if not per_locus:
            for c in chroms:
                if c not in cs.chrom_bins:
                    raise HicdiffError(f"chromosome {c} is not in the cells' bin table", cs.source)
                if cs.n_bins(c) < 2:
                    raise HicdiffError(f"chromosome {c} has {cs.n_bins(c)} bin at {cs.resolution} bp: nothing "
                                       "to impute off the diagonal", cs.source)
            return
        if int(cs.resolution) != self.resolution:
            raise HicdiffError(
                f"resolution {cs.resolution} bp does not match the model's {self.resolution} bp", cs.source)
        lengths = dict(zip(self.chroms, self.n_bins))
        for c in chroms:
            if c not in lengths:
                raise HicdiffError(f"chromosome {c} is not among the model's chromosomes "
                                   f"({', '.join(self.chroms[:6])}{' ...' if len(self.chroms) > 6 else ''})",
                                   cs.source)
            if cs.n_bins(c) != lengths[c]:
                raise HicdiffError(f"chromosome {c} has {cs.n_bins(c)} bins, the model's has {lengths[c]} "
                                   "(another assembly?)", cs.source)


def default_chromosomes(cs: CellSet, min_bins: int = 2) -> list[str]:
    """Chromosomes worth modelling: not Y, M, random or unplaced contigs, and at least ``min_bins`` long."""
    skip = ("_", "random", "Un", "M", "MT", "chrM", "Y", "chrY")
    out = []
    for c in cs.chromnames:
        if c in skip or any(s in c for s in ("_", "random", "Un")):
            continue
        if cs.n_bins(c) >= min_bins:
            out.append(c)
    return out


def band_depth(bands: dict) -> float:
    """Contacts in the modelled band (diagonals 1..D) over all chromosomes."""
    return float(sum(b.sum(dtype=np.float64) for b, _ in bands.values()))


def log_depth(contacts) -> torch.Tensor:
    """The depth a non-portable model is told: ``log10`` of band contacts (at least 1)."""
    return torch.log10(torch.as_tensor(contacts, dtype=torch.float32).clamp(min=1.0))


def band_entries(n_bins, max_diag: int) -> int:
    """Pixels in the band (diagonals ``1..max_diag``) of chromosomes of ``n_bins`` bins."""
    return int(sum(sum(n - d for d in range(1, min(max_diag, n - 1) + 1)) for n in n_bins))


def depth_feature(contacts, entries, portable: bool) -> torch.Tensor:
    """The depth the model is told about a cell: for a portable model ``log10`` of contacts per band pixel
    (``entries`` pixels), which compares across resolutions, band widths and how much genome was sequenced;
    otherwise ``log10`` band contacts."""
    if not portable:
        return log_depth(contacts)
    c = torch.as_tensor(contacts, dtype=torch.float32).clamp(min=1.0)
    return torch.log10(c / torch.as_tensor(entries, dtype=torch.float32).clamp(min=1.0))


def shown_depth(contacts, hidden_contacts, entries, hidden_entries):
    """A cell's band contacts counted over the pixels the model is shown, scaled to the whole band: the
    ``contacts - hidden_contacts`` of ``entries - hidden_entries`` pixels, times ``entries`` over those. The
    density a portable model is told (:func:`depth_feature` with ``entries``) is then that of the shown pixels,
    and hiding pixels (:mod:`hicdiff.regions`) does not make a cell look shallower. Floats or tensors."""
    shown = entries - hidden_entries
    shown = shown.clamp(min=1) if isinstance(shown, torch.Tensor) else max(shown, 1)
    return (contacts - hidden_contacts) * entries / shown


# (chromosome, length) -> assembly, for the checkpoint's record of what a model was trained on
_KNOWN = {("1", 249250621): "hg19", ("19", 59128983): "hg19", ("22", 51304566): "hg19",
          ("X", 155270560): "hg19", ("1", 248956422): "hg38", ("19", 58617616): "hg38",
          ("22", 50818468): "hg38", ("X", 156040895): "hg38", ("1", 197195432): "mm9",
          ("19", 61342430): "mm9", ("X", 166650296): "mm9", ("1", 195471971): "mm10",
          ("19", 61431566): "mm10", ("X", 171031299): "mm10"}


def assembly_of(cs: CellSet) -> str:
    """The assembly of the cells' bin table, told by the lengths of chromosomes 1, 19, 22 or X
    (``unknown`` otherwise)."""
    ends = cs.bins.groupby("chrom", sort=False)["end"].max()
    for chrom, length in ends.items():
        bare = str(chrom).split("_")[-1]
        bare = bare[3:] if bare.lower().startswith("chr") else bare
        if (bare, int(length)) in _KNOWN:
            return _KNOWN[bare, int(length)]
    return "unknown"


def window(band: np.ndarray, start: int, rows: int, padded_diags: int):
    """Rows ``start..start+rows`` of a band grid, padded to ``(rows, padded_diags)``, and its validity mask."""
    n, d = band.shape
    out = np.zeros((rows, padded_diags), dtype=np.float32)
    stop = min(start + rows, n)
    out[: stop - start, :d] = band[start:stop]
    valid = np.zeros((rows, padded_diags), dtype=bool)
    valid[: stop - start, :d] = valid_mask(n, d)[start:stop]
    return out, valid


def to_tokens(counts: torch.Tensor, valid: torch.Tensor, tokenizer: Tokenizer,
              hidden: torch.Tensor | None = None) -> torch.Tensor:
    """Class tokens of a count grid, PAD where ``valid`` is False; MASK where ``hidden`` (pixels treated as
    missing, :mod:`hicdiff.regions`) is True and ``valid`` too."""
    edges = torch.as_tensor(tokenizer.edges, dtype=counts.dtype, device=counts.device)
    tok = torch.bucketize(counts, edges, right=True)
    if hidden is not None:
        tok = torch.where(hidden, torch.full_like(tok, tokenizer.mask_id), tok)
    return torch.where(valid, tok, torch.full_like(tok, tokenizer.pad_id))
