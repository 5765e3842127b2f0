"""Training data: every cell's band grids in memory, random training windows and fixed validation windows.

Training may draw from several inputs at once (other datasets, assemblies, resolutions): one
:class:`BandStore` each; a batch comes from one store, chosen with probability proportional to the square root
of its training cells, so that a large set does not drown a small one.

All cells' band grids (diagonals ``1..D`` of the modelled chromosomes, from
:func:`hicdiff._cellmaps.cell_bands`) are loaded once into one tensor, chromosomes one after another along the
rows. A training window is a slice of ``window_rows`` rows starting at a multiple of ``tile_rows`` (so the
model's genomic-tile index of its first row is exact); rows past the chromosome's end are invalid (PAD).

The validation windows, their binomial split and their masks are drawn once from a fixed seed, so that the
validation numbers of two runs on the same cells compare. This module imports torch but not Lightning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from hicdiff._cellmaps import cell_bands
from hicdiff.band import valid_mask, window_starts
from hicdiff.diffusion import binomial_split, mask_tokens
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet
from hicdiff.tokens import Tokenizer
from hicdiff.windows import Layout, band_depth, depth_feature, to_tokens

log = logging.getLogger(__name__)


def split_cells(names, fraction: float, min_cells: int, seed: int,
                small_ok: bool = False) -> tuple[list[str], list[str]]:
    """``(training cells, validation cells)``: ``max(min_cells, round(fraction * n))`` cells chosen by a seeded
    permutation are held out; both lists keep the input order.

    ``small_ok`` (fine-tuning): a set too small to spare validation cells trains on every cell and validates
    on them too (with another split of their contacts than training draws), rather than refusing.
    """
    names = list(names)
    n_val = max(min_cells, round(fraction * len(names)))
    if len(names) - n_val < 1 and small_ok:
        log.warning("%d cell(s): too few to hold any out; validating on the training cells", len(names))
        return names, names
    if len(names) - n_val < 1:
        raise HicdiffError(f"{len(names)} cells are too few: {n_val} are held out for validation and at least "
                           "one more is needed to train")
    held = set(np.random.default_rng(seed).permutation(len(names))[:n_val].tolist())
    return ([n for k, n in enumerate(names) if k not in held], [n for k, n in enumerate(names) if k in held])


@dataclass
class BandStore:
    """Band grids of many cells, chromosomes stacked along the rows.

    Attributes
    ----------
    names : list of str
        Cells, in the order of ``grid``'s first axis.
    layout : Layout
        Resolution, chromosomes, their lengths in bins and genomic-tile offsets.
    grid : float32 tensor ``(cells, rows, padded_diags)``
        Raw counts; chromosome ``k`` occupies rows ``row0[k]:row0[k + 1]``; diagonals past ``max_diag`` are 0.
    valid : bool tensor ``(rows, padded_diags)``
        Entry ``(i, d)`` lies inside its chromosome (``i + d < N``) and ``d <= max_diag``.
    depth : float64 tensor ``(cells,)``
        Contacts in each cell's band (diagonals ``1..max_diag``, all modelled chromosomes).
    row0 : int array ``(chromosomes + 1,)``
    """

    names: list[str]
    layout: Layout
    max_diag: int
    grid: torch.Tensor
    valid: torch.Tensor
    depth: torch.Tensor
    row0: np.ndarray

    @property
    def resolution(self) -> int:
        return self.layout.resolution

    @cached_property
    def entries(self) -> int:
        """Pixels of the band over all chromosomes (the denominator of the portable depth feature)."""
        return int(self.valid.sum())

    def depth_feature(self, cells, fraction, portable: bool) -> torch.Tensor:
        """The depth the model is told for ``cells`` (indices) keeping ``fraction`` of their band contacts."""
        return depth_feature(fraction * self.depth[torch.as_tensor(cells)], self.entries, portable)

    @classmethod
    def load(cls, cs: CellSet, chroms, max_diag: int, padded_diags: int, tile_rows: int) -> "BandStore":
        layout = Layout.from_cellset(cs, chroms, tile_rows)
        row0 = np.concatenate([[0], np.cumsum(layout.n_bins)]).astype(np.int64)
        grid = torch.zeros((len(cs), int(row0[-1]), padded_diags), dtype=torch.float32)
        depth = torch.zeros(len(cs), dtype=torch.float64)
        for k, name in enumerate(cs.names):
            bands = cell_bands(cs, name, max_diag, chroms, dtype=np.float32)
            for c, (lo, hi) in zip(chroms, zip(row0[:-1], row0[1:])):
                grid[k, lo:hi, :max_diag] = torch.from_numpy(bands[c][0])
            depth[k] = band_depth(bands)
        valid = torch.zeros((int(row0[-1]), padded_diags), dtype=torch.bool)
        for n, lo in zip(layout.n_bins, row0[:-1]):
            valid[lo:lo + n, :max_diag] = torch.from_numpy(valid_mask(n, max_diag))
        return cls(list(cs.names), layout, max_diag, grid, valid, depth, row0)

    def windows(self, window_rows: int, overlapping: bool):
        """``(first rows, genomic-tile indices, end rows)`` of windows of every chromosome.

        ``overlapping``: every start that is a whole tile (the training windows, as
        :func:`~hicdiff.band.window_starts` with stride one tile); otherwise starts ``0, W, 2W, ...``, so each
        entry lies in exactly one window (the validation windows). Either way the last window of a chromosome
        reaches its end.
        """
        tr = self.layout.tile_rows
        first, locus, end = [], [], []
        for k, (chrom, n) in enumerate(zip(self.layout.chroms, self.layout.n_bins)):
            starts = np.asarray(window_starts(n, window_rows, tr, align=tr) if overlapping
                                else range(0, n, window_rows), dtype=np.int64)
            first.append(self.row0[k] + starts)
            locus.append(self.layout.locus_offset[chrom] + starts // tr)
            end.append(np.full(len(starts), self.row0[k + 1]))
        return tuple(torch.as_tensor(np.concatenate(a)) for a in (first, locus, end))

    def gather(self, cells: torch.Tensor, first_rows: torch.Tensor, ends: torch.Tensor, window_rows: int,
               grid: torch.Tensor | None = None):
        """Windows ``(counts (B, W, Dp), valid (B, W, Dp))`` of ``cells[b]`` starting at row ``first_rows[b]``;
        rows at or past ``ends[b]`` (the chromosome's end) are invalid and zero."""
        grid = self.grid if grid is None else grid
        rows = first_rows[:, None] + torch.arange(window_rows)
        inside = rows < ends[:, None]
        rows = rows.clamp(max=grid.shape[1] - 1)
        valid = self.valid[rows] & inside[..., None]
        counts = grid[cells[:, None], rows]
        return torch.where(valid, counts, torch.zeros_like(counts)), valid

    def nonzero_counts(self, cells, chunk: int = 64) -> np.ndarray:
        """All nonzero band counts of the given cells (for fitting the tokenizer's class values)."""
        out = []
        for k in range(0, len(cells), chunk):
            g = self.grid[cells[k:k + chunk]]
            out.append(g[(g > 0) & self.valid].numpy())
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


class WindowSampler(torch.utils.data.IterableDataset):
    """Endless batches of random training windows of the training cells of one or more stores.

    Each batch: a store (probability proportional to the square root of its training cells), then per window
    a cell uniformly, then a start uniformly among all window starts of all chromosomes (multiples of
    ``tile_rows``, the last one reaching the chromosome's end). Yields dicts of ``counts`` (float32
    ``(B, W, Dp)``), ``valid`` (bool, same shape), ``locus_start`` (``(B,)`` genomic-tile index of the first
    row), ``depth`` (``(B,)`` band contacts of the cell), ``entries`` (``(B,)`` band pixels of the store),
    ``resolution`` (``(B,)`` bp) and ``cell`` (``(B,)`` index into the store). The split, tokens and masks are
    drawn later, in the training step, on the training device.
    """

    def __init__(self, stores, cells, window_rows: int, batch_size: int, seed: int):
        super().__init__()
        if isinstance(stores, BandStore):
            stores, cells = [stores], [cells]
        self.stores = list(stores)
        self.cells = [torch.as_tensor(np.asarray(c, dtype=np.int64)) for c in cells]
        self.window_rows = window_rows
        self.batch_size = batch_size
        self.starts = [s.windows(window_rows, overlapping=True) for s in self.stores]
        w = torch.tensor([float(len(c)) ** 0.5 for c in self.cells])
        self.weights = w / w.sum()
        # one generator for the sampler's life: a second iteration continues the stream, never repeats it
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self) -> dict:
        g = self.generator
        k = int(torch.multinomial(self.weights, 1, generator=g)) if len(self.stores) > 1 else 0
        store, (first, locus, end) = self.stores[k], self.starts[k]
        idx = torch.randint(len(first), (self.batch_size,), generator=g)
        cells = self.cells[k][torch.randint(len(self.cells[k]), (self.batch_size,), generator=g)]
        counts, valid = store.gather(cells, first[idx], end[idx], self.window_rows)
        n = self.batch_size
        return {"counts": counts, "valid": valid, "locus_start": locus[idx],
                "depth": store.depth[cells].float(), "entries": torch.full((n,), float(store.entries)),
                "resolution": torch.full((n,), float(store.resolution)), "cell": cells}

    def __iter__(self):
        while True:
            yield self.sample()


@dataclass
class ValidationSet:
    """Fixed validation windows: non-overlapping windows covering every modelled chromosome of the validation
    cells, each cell split once at ``rho`` (observed / held out), each held-out window masked once per ``t``.

    Token grids are stored as uint8: ``observed`` and ``target`` (held-out tokens, x0) ``(n, W, Dp)``,
    ``masked`` ``(len(t), n, W, Dp)``; ``locus_start``, ``log_depth`` (the depth feature), ``resolution``
    ``(n,)``; ``depth_ratio`` = rho/(1-rho). Validation sets of several stores join with :meth:`concat`.
    """

    observed: torch.Tensor
    target: torch.Tensor
    valid: torch.Tensor
    masked: torch.Tensor
    locus_start: torch.Tensor
    log_depth: torch.Tensor
    resolution: torch.Tensor
    t: list[float]
    rho: float
    seed: int

    @classmethod
    def build(cls, store: BandStore, cells, tokenizer: Tokenizer, window_rows: int, rho: float, t, seed: int,
              portable: bool = True):
        g = torch.Generator().manual_seed(seed)
        cells = np.asarray(cells, dtype=np.int64)
        observed, heldout = binomial_split(store.grid[cells], torch.full((len(cells),), rho), generator=g)
        first, locus, end = store.windows(window_rows, overlapping=False)
        n_win = len(first)
        which = torch.arange(len(cells)).repeat_interleave(n_win)
        first, locus, end = first.repeat(len(cells)), locus.repeat(len(cells)), end.repeat(len(cells))
        obs, valid = store.gather(which, first, end, window_rows, grid=observed)
        held, _ = store.gather(which, first, end, window_rows, grid=heldout)
        obs_tok = to_tokens(obs, valid, tokenizer)
        x0 = to_tokens(held, valid, tokenizer)
        masked = torch.stack([
            mask_tokens(x0, valid, torch.full((len(x0),), float(tt)), tokenizer.mask_id, generator=g)[1]
            for tt in t])
        feature = store.depth_feature(cells, 1 - rho, portable)[which]
        return cls(obs_tok.to(torch.uint8), x0.to(torch.uint8), valid, masked, locus, feature,
                   torch.full((len(which),), float(store.resolution)), [float(tt) for tt in t], float(rho),
                   int(seed))

    @classmethod
    def concat(cls, sets: list["ValidationSet"]) -> "ValidationSet":
        if len(sets) == 1:
            return sets[0]
        cat = {k: torch.cat([getattr(v, k) for v in sets]) for k in
               ("observed", "target", "valid", "locus_start", "log_depth", "resolution")}
        return cls(masked=torch.cat([v.masked for v in sets], dim=1), t=sets[0].t, rho=sets[0].rho,
                   seed=sets[0].seed, **cat)

    def __len__(self) -> int:
        return len(self.target)

    def batches(self, batch_size: int) -> list[dict]:
        """Batches for the model, one ``t`` each: ``observed``, ``target`` (x0), ``masked``, ``valid``,
        ``locus_start``, ``log_depth``, ``depth_ratio``, ``t_index``."""
        r = self.rho / (1 - self.rho)
        out = []
        for k in range(len(self.t)):
            for s in range(0, len(self), batch_size):
                sl = slice(s, s + batch_size)
                n = len(self.target[sl])
                out.append({"observed": self.observed[sl], "target": self.target[sl], "masked": self.masked[k, sl],
                            "valid": self.valid[sl], "locus_start": self.locus_start[sl],
                            "log_depth": self.log_depth[sl], "depth_ratio": torch.full((n,), r),
                            "resolution": self.resolution[sl],
                            "t_index": k})
        return out


def distance_only_ce(store: BandStore, cells, val: ValidationSet, tokenizer: Tokenizer, chunk: int = 32) -> float:
    """Cross-entropy (nats per entry) of the distance-only predictor on the validation windows at ``t = 1``.

    The predictor: held-out class frequencies per diagonal (add-one smoothed), fitted on the training cells
    split at the validation's ``rho`` with the validation's seed. It knows distance and nothing about the cell.
    """
    g = torch.Generator().manual_seed(val.seed)
    k, dp = tokenizer.n_classes, store.grid.shape[2]
    diag = torch.arange(dp).expand_as(store.valid)[store.valid]
    freq = torch.zeros(dp * k, dtype=torch.float64)
    cells = np.asarray(cells, dtype=np.int64)
    for s in range(0, len(cells), chunk):
        part = store.grid[cells[s:s + chunk]]
        _, held = binomial_split(part, torch.full((len(part),), val.rho), generator=g)
        tok = to_tokens(held, store.valid.expand_as(held), tokenizer)[:, store.valid]
        freq += torch.bincount((diag * k + tok).ravel(), minlength=dp * k).double()
    logp = torch.log((freq.view(dp, k) + 1) / (freq.view(dp, k) + 1).sum(1, keepdim=True))
    target = val.target.long()[val.valid]
    vdiag = torch.arange(dp).expand_as(val.valid)[val.valid]
    return float(-logp[vdiag, target].mean())
