"""Training data: every cell's band grids in memory, random training windows and fixed validation windows.

Training may draw from several inputs at once (other datasets, assemblies, resolutions): one
:class:`BandStore` each; a batch comes from one store, chosen with probability proportional to the square root
of its training cells, so that a large set does not drown a small one.

All cells' band grids (diagonals ``1..D`` of the modelled chromosomes, from
:func:`hicdiff._cellmaps.cell_bands`) are loaded once, chromosomes one after another along the rows, as their
nonzero entries only: memory follows the cells' contacts, not cells x rows x diagonals. A training window is a
slice of ``window_rows`` rows starting at a multiple of ``tile_rows`` (so the model's genomic-tile index of its
first row is exact); rows past the chromosome's end are invalid (PAD).

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
from hicdiff.diffusion import mask_tokens
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet
from hicdiff.tokens import Tokenizer
from hicdiff.windows import Layout, band_depth, depth_feature, to_tokens

log = logging.getLogger(__name__)

#: Validation cells whose windows are built at once (float windows of all of them would not fit).
VALIDATION_CELLS_PER_PART = 4


def split_cells(names, fraction: float, min_cells: int, seed: int, small_ok: bool = False,
                max_cells: int | None = None) -> tuple[list[str], list[str]]:
    """``(training cells, validation cells)``: ``max(min_cells, round(fraction * n))`` cells, at most
    ``max_cells``, chosen by a seeded permutation are held out; both lists keep the input order.

    The cap keeps validation's memory and time bounded on large sets (its windows are held for every
    validation cell); below it the split is the uncapped one, and above it the validation cells are the first
    ``max_cells`` of the uncapped ones, the rest training.

    ``small_ok`` (fine-tuning): a set too small to spare validation cells trains on every cell and validates
    on them too (with another split of their contacts than training draws), rather than refusing.
    """
    names = list(names)
    n_val = max(min_cells, round(fraction * len(names)))
    if max_cells is not None:
        n_val = min(n_val, max_cells)
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
    """Band grids of many cells, chromosomes stacked along the rows, kept as their nonzero entries.

    A cell's band is mostly zeros (a 100 kb cell with a 10 Mb band: a few tens of thousands of nonzero
    entries among millions), so only the nonzero entries are held, sorted by ``key``: memory grows with the
    cells' contacts, not with cells x rows x diagonals. :meth:`gather` turns windows back into dense grids.

    Attributes
    ----------
    names : list of str
        Cells, in the order of their index (``key // (rows * padded_diags)``).
    layout : Layout
        Resolution, chromosomes, their lengths in bins and genomic-tile offsets.
    key : int64 tensor ``(entries,)``, sorted
        ``(cell * rows + row) * padded_diags + diagonal index`` of each nonzero entry; chromosome ``k`` occupies
        rows ``row0[k]:row0[k + 1]``.
    count : float32 tensor ``(entries,)``
        Raw counts of those entries.
    valid : bool tensor ``(rows, padded_diags)``
        Entry ``(i, d)`` lies inside its chromosome (``i + d < N``) and ``d <= max_diag``.
    depth : float64 tensor ``(cells,)``
        Contacts in each cell's band (diagonals ``1..max_diag``, all modelled chromosomes).
    row0 : int array ``(chromosomes + 1,)``
    """

    names: list[str]
    layout: Layout
    max_diag: int
    key: torch.Tensor
    count: torch.Tensor
    valid: torch.Tensor
    depth: torch.Tensor
    row0: np.ndarray

    @property
    def resolution(self) -> int:
        return self.layout.resolution

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(cells, rows, padded_diags)`` of the dense grids the store stands for."""
        return (len(self.names), *self.valid.shape)

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
        rows = int(row0[-1])
        depth = torch.zeros(len(cs), dtype=torch.float64)
        keys, counts = [], []
        for k, name in enumerate(cs.names):
            bands = cell_bands(cs, name, max_diag, chroms, dtype=np.float32)
            for c, lo in zip(chroms, row0[:-1]):
                i, d = np.nonzero(bands[c][0])
                keys.append(((k * rows + lo + i) * padded_diags + d).astype(np.int64))
                counts.append(bands[c][0][i, d])
            depth[k] = band_depth(bands)
        valid = torch.zeros((rows, padded_diags), dtype=torch.bool)
        for n, lo in zip(layout.n_bins, row0[:-1]):
            valid[lo:lo + n, :max_diag] = torch.from_numpy(valid_mask(n, max_diag))
        key = torch.from_numpy(np.concatenate(keys) if keys else np.zeros(0, np.int64))
        count = torch.from_numpy(np.concatenate(counts) if counts else np.zeros(0, np.float32))
        return cls(list(cs.names), layout, max_diag, key, count, valid, depth, row0)

    def cell_entries(self, cells) -> tuple[torch.Tensor, torch.Tensor]:
        """``(key, count)`` of the entries of ``cells`` (indices), keyed as if ``cells[k]`` were cell ``k``."""
        cells = torch.as_tensor(np.asarray(cells, dtype=np.int64))
        span = self.valid.numel()
        lo = torch.searchsorted(self.key, cells * span)
        hi = torch.searchsorted(self.key, (cells + 1) * span)
        idx = _ranges(lo, hi)
        cell = torch.repeat_interleave(torch.arange(len(cells)), hi - lo)
        return self.key[idx] - (cells[cell] - cell) * span, self.count[idx]

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
               entries: tuple[torch.Tensor, torch.Tensor] | None = None):
        """Windows ``(counts (B, W, Dp), valid (B, W, Dp))`` of ``cells[b]`` starting at row ``first_rows[b]``;
        rows at or past ``ends[b]`` (the chromosome's end) are invalid and zero. ``entries``: other
        ``(key, count)`` to read them from (a split of :meth:`cell_entries`), else the store's own."""
        key, values = (self.key, self.count) if entries is None else entries
        n_rows, dp = self.valid.shape
        cells, first_rows, ends = (torch.as_tensor(x, dtype=torch.int64) for x in (cells, first_rows, ends))
        rows = first_rows[:, None] + torch.arange(window_rows)
        inside = rows < ends[:, None]
        valid = self.valid[rows.clamp(max=n_rows - 1)] & inside[..., None]
        base = cells * n_rows
        lo = torch.searchsorted(key, (base + first_rows) * dp)
        hi = torch.searchsorted(key, (base + torch.minimum(first_rows + window_rows, ends)) * dp)
        idx = _ranges(lo, hi)
        b = torch.repeat_interleave(torch.arange(len(cells)), hi - lo)
        at = key[idx] - (base[b] + first_rows[b]) * dp
        counts = torch.zeros((len(cells), window_rows, dp), dtype=torch.float32)
        counts[b, at // dp, at % dp] = values[idx].float()
        return counts, valid

    def nonzero_counts(self, cells) -> np.ndarray:
        """All nonzero band counts of the given cells (for fitting the tokenizer's class values)."""
        return self.cell_entries(cells)[1].numpy()


def _ranges(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """The indices ``lo[0]..hi[0]-1, lo[1]..hi[1]-1, ...`` in one tensor."""
    n = hi - lo
    start = torch.repeat_interleave(lo - (torch.cumsum(n, 0) - n), n)
    return start + torch.arange(int(n.sum()))


class WindowSampler(torch.utils.data.IterableDataset):
    """Endless batches of random training windows of the training cells of one or more stores.

    Each batch: a store (probability proportional to the square root of its training cells), then per window
    a cell uniformly, then a start uniformly among all window starts of all chromosomes (multiples of
    ``tile_rows``, the last one reaching the chromosome's end). Yields dicts of ``counts`` (float32
    ``(B, W, Dp)``), ``valid`` (bool, same shape), ``locus_start`` (``(B,)`` genomic-tile index of the first
    row), ``depth`` (``(B,)`` band contacts of the cell), ``entries`` (``(B,)`` band pixels of the store),
    ``resolution`` (``(B,)`` bp) and ``cell`` (``(B,)`` index into the store). The split, tokens and masks are
    drawn later, in the training step, on the training device.

    ``rank`` (the process's global rank when training on several devices) gives each process its own stream
    of windows; rank 0 draws the stream of a single device.
    """

    def __init__(self, stores, cells, window_rows: int, batch_size: int, seed: int, rank: int = 0,
                 priors=None):
        super().__init__()
        if isinstance(stores, BandStore):
            stores, cells = [stores], [cells]
            priors = None if priors is None else [priors]
        # a hicdiff.guidance.StorePools per store: batches then carry each window's prior (``prior``,
        # ``prior_depth``), its cell's label pool less the cell itself
        self.priors = priors
        self.stores = list(stores)
        self.cells = [torch.as_tensor(np.asarray(c, dtype=np.int64)) for c in cells]
        self.window_rows = window_rows
        self.batch_size = batch_size
        self.starts = [s.windows(window_rows, overlapping=True) for s in self.stores]
        w = torch.tensor([float(len(c)) ** 0.5 for c in self.cells])
        self.weights = w / w.sum()
        # one generator for the sampler's life: a second iteration continues the stream, never repeats it
        if rank:
            seed = int(np.random.SeedSequence([seed, rank]).generate_state(1, np.uint64)[0] >> 1)
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self) -> dict:
        g = self.generator
        k = int(torch.multinomial(self.weights, 1, generator=g)) if len(self.stores) > 1 else 0
        store, (first, locus, end) = self.stores[k], self.starts[k]
        idx = torch.randint(len(first), (self.batch_size,), generator=g)
        cells = self.cells[k][torch.randint(len(self.cells[k]), (self.batch_size,), generator=g)]
        counts, valid = store.gather(cells, first[idx], end[idx], self.window_rows)
        n = self.batch_size
        batch = {"counts": counts, "valid": valid, "locus_start": locus[idx],
                 "depth": store.depth[cells].float(), "entries": torch.full((n,), float(store.entries)),
                 "resolution": torch.full((n,), float(store.resolution)), "cell": cells}
        if self.priors is not None:
            batch["prior"], batch["prior_depth"] = self.priors[k].windows(
                cells, first[idx], end[idx], self.window_rows, counts, store.depth[cells])
        return batch

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
        # only nonzero entries can hold contacts out, so the split is drawn on them
        key, count = store.cell_entries(cells)
        heldout = torch.binomial(count, torch.full_like(count, rho), generator=g)
        first, locus, end = store.windows(window_rows, overlapping=False)
        n_win = len(first)
        parts = []
        # a few cells at a time, so that float windows never exist for every validation cell at once
        for lo in range(0, len(cells), VALIDATION_CELLS_PER_PART):
            which = torch.arange(lo, min(lo + VALIDATION_CELLS_PER_PART, len(cells))).repeat_interleave(n_win)
            f, e = first.repeat(len(which) // n_win), end.repeat(len(which) // n_win)
            obs, valid = store.gather(which, f, e, window_rows, entries=(key, count - heldout))
            held, _ = store.gather(which, f, e, window_rows, entries=(key, heldout))
            obs_tok = to_tokens(obs, valid, tokenizer).to(torch.uint8)
            x0 = to_tokens(held, valid, tokenizer)
            masked = torch.stack([
                mask_tokens(x0, valid, torch.full((len(x0),), float(tt)), tokenizer.mask_id, generator=g)[1]
                for tt in t])
            parts.append((obs_tok, x0.to(torch.uint8), valid, masked))
        which = torch.arange(len(cells)).repeat_interleave(n_win)
        feature = store.depth_feature(cells, 1 - rho, portable)[which]
        obs_tok, x0, valid, masked = (torch.cat([p[k] for p in parts], dim=1 if k == 3 else 0) for k in range(4))
        return cls(obs_tok, x0, valid, masked, locus.repeat(len(cells)), feature,
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


def distance_only_ce(store: BandStore, cells, val: ValidationSet, tokenizer: Tokenizer) -> float:
    """Cross-entropy (nats per entry) of the distance-only predictor on the validation windows at ``t = 1``.

    The predictor: held-out class frequencies per diagonal (add-one smoothed), fitted on the training cells
    split at the validation's ``rho`` with the validation's seed. It knows distance and nothing about the cell.
    """
    g = torch.Generator().manual_seed(val.seed)
    k, dp = tokenizer.n_classes, store.valid.shape[1]
    cells = np.asarray(cells, dtype=np.int64)
    key, count = store.cell_entries(cells)
    held = torch.binomial(count, torch.full_like(count, val.rho), generator=g)
    tok = to_tokens(held, torch.ones_like(held, dtype=torch.bool), tokenizer)
    freq = torch.bincount(key % dp * k + tok, minlength=dp * k).double()
    # the valid entries without a contact hold none out: the class of 0 on their diagonal
    zero = int(to_tokens(torch.zeros(1), torch.ones(1, dtype=torch.bool), tokenizer))
    freq.view(dp, k)[:, zero] += len(cells) * store.valid.sum(0).double() - torch.bincount(key % dp, minlength=dp)
    logp = torch.log((freq.view(dp, k) + 1) / (freq.view(dp, k) + 1).sum(1, keepdim=True))
    target = val.target.long()[val.valid]
    vdiag = torch.arange(dp).expand_as(val.valid)[val.valid]
    return float(-logp[vdiag, target].mean())
