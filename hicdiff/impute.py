"""Imputation with a trained denoiser (DESIGN §4), without Lightning.

``mean`` mode: each cell is the condition, the target fully masked (``t = 1``) at depth ratio ``r``; one forward
pass per window gives each entry's class distribution, and the imputed value is the expected count
``sum_k p_k * value_k``. With ``r = 1`` this is the expected count of an independent replicate of the cell at
its own sequencing depth: the scale of every imputed map hicdiff writes.

``sample`` mode: the learned reverse process. Starting fully masked, ``steps`` rounds each sample every masked
entry and commit the most confident ones; ``samples`` draws per cell give the imputed map (their mean) and a
per-pixel uncertainty (their standard deviation).

Windows of several cells are batched together; cells are written one at a time, so memory does not grow
with the number of cells.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from hicdiff._cellmaps import cell_bands, max_diagonal
from hicdiff.band import valid_mask, window_starts
from hicdiff.checkpoint import load_checkpoint, resolve_model
from hicdiff.diffusion import remask, unmask_step
from hicdiff.errors import HicdiffError
from hicdiff.guidance import guided, make_prior, prior_features
from hicdiff.io import CellSet, ScoolWriter, open_cells
from hicdiff.progress import Progress
from hicdiff.regions import RegionMask
from hicdiff.safety import disk_full_file
from hicdiff.split import cell_rng
from hicdiff.windows import band_entries, default_chromosomes, depth_feature, shown_depth, to_tokens, window

log = logging.getLogger(__name__)

SCALE = "expected contacts at the cell's own sequencing depth (depth ratio r times the observed depth)"
SCALE_ADDED = "the cell's observed contacts plus " + SCALE + " (--add-observed)"
#: How imputed counts are stored (file metadata ``precision``).
#: Significand bits kept in stored imputed counts (of float32's 23): the dropped bits are noise far below the
#: model's error, and without them cooler's gzip stores the count column in about half the space.
KEPT_BITS = 12
PRECISION = (f"float32 rounded to {KEPT_BITS} of its 23 stored significand bits: relative error at most "
             f"2^-{KEPT_BITS + 1} ({2.0 ** -(KEPT_BITS + 1):.1e}) of each stored value")

#: ``max_distance="auto"`` imputes whole chromosomes (every cis pixel) when every chromosome has at most this
#: many bins (1 Mb and 500 kb on human and mouse assemblies: chr1 has 250 and 499 bins), else the model's band.
WHOLE_MAX_BINS = 512
#: Rows of the windows beyond the model's band (whole chromosomes): each window reaches every pixel of its rows,
#: and short windows follow the triangle of a chromosome's pixels closely (docs/whole_chromosomes.md).
WHOLE_ROWS = 32
#: Mean mode: at most this many band entries (sums and observed bands, about 12 bytes each) in the cells whose
#: windows share forward passes (:meth:`Imputer._cells_per_group`).
GROUP_ENTRIES = 1 << 22

_MODEL_THREAD: ThreadPoolExecutor | None = None


def _on_model_thread(fn, *args):
    """``fn(*args)`` run on the one thread that runs every forward pass, waited for.

    The model's activations, megabytes each, then come from that thread's own malloc arena. On the thread
    that also reads and writes cells, glibc put them on the heap between the writer's small, long-lived
    allocations (HDF5, pandas), and every batch left the heap larger: peak memory grew with the number of
    cells (issue 13: 424 MB for 25 cells, 787 MB for 100).
    """
    global _MODEL_THREAD
    if _MODEL_THREAD is None:
        _MODEL_THREAD = ThreadPoolExecutor(1, thread_name_prefix="hicdiff-model")
    return _MODEL_THREAD.submit(fn, *args).result()


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise HicdiffError("--device cuda was asked for but no CUDA device is available")
    return torch.device(device)


@dataclass
class CellImputation:
    """One cell's imputed chromosomes: ``bands[chrom]`` is ``(N, D)`` expected counts, ``diag0[chrom]`` the
    observed main diagonal, ``std[chrom]`` the per-pixel standard deviation over samples and ``drawn[chrom]``
    the mean of the discrete draws (``sample`` mode; ``bands`` holds what ``sample_values`` chose)."""

    name: str
    bands: dict = field(default_factory=dict)
    diag0: dict = field(default_factory=dict)
    std: dict = field(default_factory=dict)
    drawn: dict = field(default_factory=dict)

    def pixels(self, cells: CellSet, which: str = "mean", layout: "BandPixels | None" = None) -> pd.DataFrame:
        """Pixels with genome-wide bin ids: every band entry plus the observed main diagonal (``mean``), or
        the standard deviation with a zero main diagonal (``std``); float32 counts. ``layout``: the
        :class:`BandPixels` of these chromosomes, built once for many cells."""
        src = self.bands if which == "mean" else self.std
        layout = layout or BandPixels(cells, list(src), {c: a.shape[1] for c, a in src.items()})
        return layout.table(src, self.diag0 if which == "mean" else None)


def round_significand(x: np.ndarray, bits: int) -> np.ndarray:
    """Round non-negative float32 ``x`` in place to the nearest value with ``bits`` significand bits (ties
    up); returns ``x``."""
    drop = 23 - int(bits)
    if drop > 0:
        u = x.view(np.uint32)
        u += np.uint32(1 << (drop - 1))
        u &= np.uint32((0xFFFFFFFF >> drop) << drop)
    return x


class BandPixels:
    """The pixels every imputed cell has: each band entry and main-diagonal bin of the imputed chromosomes,
    with genome-wide bin ids, sorted by (``bin1_id``, ``bin2_id``) as a ``.scool`` stores them.

    ``diagonals``: the band's width ``D``, one number for every chromosome or a dict per chromosome (a whole
    chromosome of ``N`` bins has ``N - 1``). They are the same for every cell, so they are built once per run
    and writing a cell only gathers its values (float32) through a fixed index into a row buffer per
    chromosome that is reused from cell to cell.
    """

    def __init__(self, cells: CellSet, chroms, diagonals):
        self.chroms = sorted(chroms, key=lambda c: cells.chrom_bins[c][0])   # genome order keeps bin1 sorted
        self.diagonals = (dict(diagonals) if isinstance(diagonals, dict)
                          else {c: int(diagonals) for c in self.chroms})
        self._take, self._rows, bin1, bin2 = {}, {}, [], []
        for c in self.chroms:
            n, lo, dmax = cells.n_bins(c), cells.chrom_bins[c][0], self.diagonals[c]
            # column 0 is the main diagonal, column d the pixel (i, i + d); row-major order is sorted order
            inside = np.concatenate([np.ones((n, 1), bool), valid_mask(n, dmax)], axis=1)
            i, d = np.nonzero(inside)
            self._take[c] = i * (dmax + 1) + d
            self._rows[c] = np.zeros((n, dmax + 1), np.float32)
            bin1.append(i + lo)
            bin2.append(i + d + lo)
        self.bin1 = np.concatenate(bin1)
        self.bin2 = np.concatenate(bin2)

    def __len__(self) -> int:
        return len(self.bin1)

    def table(self, bands: dict, diag0: dict | None = None) -> pd.DataFrame:
        """``bin1_id``, ``bin2_id``, ``count`` of one cell from its ``(N, D)`` bands and main diagonals
        (``None``: zeros). The bin-id columns are shared by every table; ``count`` is the cell's own."""
        count = np.empty(len(self.bin1), np.float32)
        at = 0
        for c in self.chroms:
            rows, take = self._rows[c], self._take[c]
            rows[:, 0] = 0 if diag0 is None else diag0[c]
            rows[:, 1:] = bands[c]
            np.take(rows.reshape(-1), take, out=count[at: at + len(take)])
            at += len(take)
        round_significand(count, KEPT_BITS)
        return pd.DataFrame({"bin1_id": self.bin1, "bin2_id": self.bin2, "count": count}, copy=False)


@dataclass
class _Job:
    cell: int
    chrom: str
    start: int
    rows: int
    diags: int      # padded diagonals of the window (a multiple of the tile's)


class Imputer:
    """A trained model ready to impute cells.

    Parameters
    ----------
    model, tokenizer, layout, checkpoint
        As returned by :func:`hicdiff.checkpoint.load_checkpoint`.
    device : torch.device
    batch_size : int
        Windows per forward pass.
    stride : int, optional
        Rows between window starts in ``mean`` mode; overlapping predictions are averaged. Default: the
        window size (no overlap but for the last window of a chromosome).
    split_unit : float
        What a portable model estimates: 0 (default) the contacts a deeper replicate of the cell would add;
        1 the contacts of pixels that were held out whole (the fine-scale split's question).
    """

    def __init__(self, model, tokenizer, layout, checkpoint, device, batch_size=64, stride=None, path=None,
                 split_unit: float = 0.0, whole_rows: int = WHOLE_ROWS):
        self.model = model
        self.tokenizer = tokenizer
        self.layout = layout
        self.checkpoint = checkpoint
        self.device = device
        self.batch_size = int(batch_size)
        self.cfg = model.cfg
        tr = self.cfg.tile_rows  # window starts stay on tile boundaries, so locus indices are exact
        if stride is not None and not 0 < int(stride) <= self.cfg.window_rows:
            raise HicdiffError(f"--stride {stride} must be between 1 and the model's window ({self.cfg.window_rows} "
                               "rows); a larger stride would leave rows between windows unimputed")
        self.stride = max(tr, int(stride or self.cfg.window_rows) // tr * tr)
        self.path = path
        # what a portable model is asked: 0 = more contacts of the kind the cell shows (a deeper replicate),
        # 1 = the contacts of pixels held out whole (what a fine-scale split scores)
        self.split_unit = float(split_unit)
        self.whole_rows = max(tr, min(int(whole_rows), self.cfg.window_rows) // tr * tr)
        self._resolution = layout.resolution
        self._entries = 1
        self._hidden: list = []     # per cell of the current group: chromosome -> hidden pixels (masked regions)
        self._priors: list = []     # per cell of the current group: (chromosome -> prior band, prior depth)
        self.guidance = 1.0
        self.guidance_far: float | None = None   # the weight beyond far_diag diagonals (None: guidance)
        self.far_diag = 0
        self.values = torch.as_tensor(tokenizer.values, dtype=torch.float32, device=device)
        self.locus_offset = layout.locus_offset

    @classmethod
    def from_checkpoint(cls, path, device="auto", threads=None, batch_size=64, stride=None,
                        split_unit: float = 0.0) -> "Imputer":
        """An imputer for the checkpoint at ``path`` (or a shipped model's name, ``general``)."""
        if threads:
            torch.set_num_threads(int(threads))
        dev = resolve_device(device)
        model, tok, layout, ckpt = load_checkpoint(path, device=dev)
        return cls(model, tok, layout, ckpt, dev, batch_size=batch_size, stride=stride, path=resolve_model(path),
                   split_unit=split_unit)

    # -- windows -----------------------------------------------------------------------------------------
    def _jobs(self, cell: int, shapes: dict, stride: int, diagonals: dict | None = None) -> list[_Job]:
        """Windows of one cell. For the model's band, windows of the model's shape (as in training). For
        whole chromosomes (or a band wider than the model's), windows of :attr:`whole_rows` rows, each
        reaching only as far as the pixels of its rows lie inside the chromosome: a chromosome then costs about
        its ``N^2 / 2`` pixels in tiles rather than ``N`` rows x ``N`` diagonals, and a short chromosome is not
        padded to a long window."""
        c, jobs = self.cfg, []
        td = c.tile_diags
        diagonals = diagonals or {chrom: c.max_diag for chrom in shapes}
        triangle = (any(d > c.max_diag for d in diagonals.values())
                    or all(d >= n - 1 for d, n in zip(diagonals.values(), shapes.values())))
        for chrom, n in shapes.items():
            if not triangle:
                rows = c.window_rows  # as in training: short chromosomes are padded, not cut
                jobs += [_Job(cell, chrom, s, rows, c.padded_diags)
                         for s in window_starts(n, rows, stride, c.tile_rows)]
                continue
            rows = min(self.whole_rows, -(-n // c.tile_rows) * c.tile_rows)
            for s in window_starts(n, rows, min(stride, rows), c.tile_rows):
                reach = min(diagonals[chrom], n - 1 - s)
                jobs.append(_Job(cell, chrom, s, rows, max(td, -(-reach // td) * td)))
        return jobs

    def _batches(self, jobs: list[_Job]):
        """Forward passes: windows of one shape together, as many as hold ``batch_size`` windows of the
        model's own shape in tiles (wider windows, fewer of them; attention memory stays bounded)."""
        budget = self.batch_size * self.cfg.window_rows * self.cfg.padded_diags
        by_shape: dict[tuple[int, int], list[_Job]] = {}
        for j in jobs:
            by_shape.setdefault((j.rows, j.diags), []).append(j)
        for (rows, diags), group in by_shape.items():
            size = max(1, budget // (rows * diags))
            for k in range(0, len(group), size):
                yield group[k: k + size]

    def _cells_per_group(self, jobs: list[_Job], shapes: dict, diagonals: dict) -> int:
        """Cells whose windows share forward passes (mean mode), given one cell's windows: as many as give a
        window shape ``batch_size`` windows. The band's windows have one shape; whole chromosomes' follow the
        triangle in some 25 shapes of a few windows each (1 Mb), and one cell alone makes small passes, slower
        per tile. Capped so that the group's sums and bands hold at most :data:`GROUP_ENTRIES` entries."""
        per_shape = len(jobs) / max(1, len({(j.rows, j.diags) for j in jobs}))
        entries = sum(n * (diagonals[c] + 1) for c, n in shapes.items())
        return max(1, min(int(self.batch_size // max(1.0, per_shape)), GROUP_ENTRIES // max(1, entries)))

    def diagonals(self, cells: CellSet, chroms, max_distance=None) -> dict[str, int]:
        """Diagonals ``D`` imputed per chromosome: pixels ``(i, i + d)``, ``0 < d <= D``.

        ``max_distance``: ``None`` or ``"band"``, the model's band (``max_diag``); ``"whole"``, every cis pixel
        (``N - 1`` diagonals for a chromosome of ``N`` bins); ``"auto"``, whole chromosomes when every one has
        at most :data:`WHOLE_MAX_BINS` bins and the network is portable, else the band; a number, the pixels
        up to that many bp apart. Only a portable network (distance in bp) reaches beyond its band.
        """
        n_bins = {c: cells.n_bins(c) for c in chroms}
        if isinstance(max_distance, str) and max_distance not in ("auto", "band", "whole"):
            raise HicdiffError(f"max distance {max_distance!r}: give a distance in bp, auto, band or whole")
        if max_distance == "auto":
            small = max(n_bins.values()) <= WHOLE_MAX_BINS
            max_distance = "whole" if small and self.cfg.portable else None
        if isinstance(max_distance, dict):     # diagonals per chromosome, as this method returned them
            d = {c: int(max_distance[c]) for c in chroms}
        elif max_distance in (None, "band"):
            d = {c: self.cfg.max_diag for c in chroms}
        elif max_distance == "whole":
            d = {c: n - 1 for c, n in n_bins.items()}
        else:
            d = {c: max_diagonal(int(max_distance), cells.resolution) for c in chroms}
        if not self.cfg.portable and max(d.values()) > self.cfg.max_diag:
            raise HicdiffError(f"this model counts distance in diagonal tiles and imputes only its own band "
                               f"({self.cfg.max_diag} diagonals); whole chromosomes need a portable model",
                               self.path)
        return d

    def chromosomes(self, cells: CellSet, chroms=None) -> list[str]:
        """The chromosomes to impute: those asked for, else the model's own (a model with a per-locus
        embedding), else every chromosome worth modelling in the cells (a portable model)."""
        if chroms:
            return list(chroms)
        return list(self.layout.chroms) if self.cfg.n_loci else default_chromosomes(cells)

    def check(self, cells: CellSet, chroms) -> None:
        """Refuse cells the model cannot impute (:meth:`hicdiff.windows.Layout.check`)."""
        per_locus = self.cfg.n_loci > 0 or not self.cfg.portable
        if per_locus and int(cells.resolution) != self.layout.resolution:
            self.layout.check(cells, chroms)    # another resolution is the first thing to say
        missing = [c for c in chroms if c not in cells.chrom_bins]
        if missing:
            have = cells.chromnames
            stripped = {c.removeprefix("chr") for c in have}
            hint = (" (the names differ by a 'chr' prefix: load the cells against a sizes file that names "
                    "chromosomes like the model, or map them with hicdiff load --chrom-map)"
                    if any(c.removeprefix("chr") in stripped for c in missing) else "")
            raise HicdiffError(
                f"chromosome(s) {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''} to impute are not in "
                f"the cells, whose chromosomes are {', '.join(have[:4])}{' ...' if len(have) > 4 else ''}{hint}",
                cells.source)
        self.layout.check(cells, chroms, per_locus=per_locus)
        trained = self.checkpoint.get("data", {}).get("resolutions") or [self.layout.resolution]
        res = int(cells.resolution)
        if res < min(trained) / 2 or res > 2 * max(trained):
            log.warning("%s: resolution %d bp is outside the %s bp this model was trained on; expect a poorer "
                        "imputation, or fine-tune it first (hicdiff train --init)", cells.source, res,
                        "-".join(str(r) for r in sorted({min(trained), max(trained)})))

    def prior_source(self, cells: CellSet, chroms, diagonals: int, prior=None, guide_label=None,
                     label_column: str = "cell_type", labels=None, guide_neighbours=None, neighbours_from=None):
        """The prior of a guided imputation (:func:`hicdiff.guidance.make_prior`; a ready one is passed through),
        or ``None``; a model without a prior channel refuses one. ``guide_neighbours``: guide each cell by its
        that many nearest cells of ``cells`` (:mod:`hicdiff.neighbours`), found in the embedding of
        ``neighbours_from`` (an ``.h5ad`` or a model; default: this model)."""
        if neighbours_from is not None and guide_neighbours is None:
            raise HicdiffError("--neighbours-from goes with --guide-neighbours")
        asked = any(x is not None for x in (prior, guide_label, guide_neighbours))
        if asked and not self.cfg.prior:
            raise HicdiffError("this model has no prior channel, so it cannot be guided; fine-tune it with one: "
                               "hicdiff train CELLS --init MODEL --prior-by COLUMN", self.path)
        neighbours = None
        if guide_neighbours is not None:
            from hicdiff.neighbours import cell_neighbours

            neighbours = cell_neighbours(cells, guide_neighbours, embedding=neighbours_from, imputer=self,
                                         chroms=chroms)
        return make_prior(cells, chroms, diagonals, self.cfg.max_diag, prior, guide_label, label_column, labels,
                          neighbours)

    def region_mask(self, regions, cells: CellSet) -> RegionMask | None:
        """``regions`` (a BED path, :class:`~hicdiff.regions.Region` objects or a ready
        :class:`~hicdiff.regions.RegionMask`) as a mask of ``cells``; warns when the model never learned to
        infill (trained without ``region_mask_fraction``), saying how to fine-tune it for that."""
        if regions is None or isinstance(regions, RegionMask):
            return regions      # a ready mask was checked (and warned about) when it was made here
        mask = RegionMask(regions, cells)
        if not self.checkpoint.get("training", {}).get("region_mask_fraction"):
            src = self.path or "this model"
            log.warning("%s was not trained to infill masked regions (region_mask_fraction 0): it has never seen "
                        "MASK among the observed contacts, and its imputation inside the regions may be poor. "
                        "Fine-tune it first: hicdiff train CELLS.scool --init %s --region-mask-fraction 0.5 "
                        "-o infill.ckpt (docs/imputation.md, 'Infilling masked regions')", src, src)
        return mask

    def _inputs(self, jobs, bands, depths, depth_ratio):
        d = self._diagonals
        counts, valid = zip(*(window(bands[j.cell][j.chrom][0][:, : min(d[j.chrom], j.diags)], j.start, j.rows,
                                     j.diags) for j in jobs))
        counts = torch.from_numpy(np.stack(counts)).to(self.device)
        valid = torch.from_numpy(np.stack(valid)).to(self.device)
        hidden = None
        if any(self._hidden):
            # masked regions reach the model as MASK in the observed channel, never as counts
            hidden = np.zeros(valid.shape, bool)    # the windows of a batch share one shape
            for k, j in enumerate(jobs):
                h = self._hidden[j.cell].get(j.chrom)
                if h is not None:
                    hidden[k] = window(h[:, : min(d[j.chrom], j.diags)], j.start, j.rows, j.diags)[0] > 0
            hidden = torch.from_numpy(hidden).to(self.device)
        observed = to_tokens(counts, valid, self.tokenizer, hidden)
        # a model without a per-locus embedding ignores the locus index
        locus = torch.tensor([self.locus_offset.get(j.chrom, 0) + j.start // self.cfg.tile_rows for j in jobs],
                             device=self.device)
        depth = depth_feature([depths[j.cell] for j in jobs], self._entries, self.cfg.portable).to(self.device)
        ratio = torch.full((len(jobs),), float(depth_ratio), device=self.device)
        return observed, valid, locus, depth, ratio

    def _prior(self, jobs, depths, depth_ratio, valid):
        """The prior channel of the windows (:mod:`hicdiff.guidance`), or ``None`` without a prior."""
        if not self._priors:
            return None
        d = self._diagonals
        counts = np.stack([window(self._priors[j.cell][0][j.chrom][:, : min(d[j.chrom], j.diags)], j.start, j.rows,
                                  j.diags)[0] for j in jobs])
        prior_depth = torch.tensor([self._priors[j.cell][1] for j in jobs], dtype=torch.float64)
        target_depth = torch.tensor([float(depth_ratio) * depths[j.cell] for j in jobs], dtype=torch.float64)
        return prior_features(torch.from_numpy(counts), prior_depth, target_depth, valid.cpu()).to(self.device)

    def _weights(self, width: int):
        """The guidance weight of a window's entries: :attr:`guidance`, or per diagonal, :attr:`guidance_far`
        beyond :attr:`far_diag` diagonals (a tensor broadcasting over ``(B, W, Dp, K)`` logits)."""
        if self.guidance_far is None or width <= self.far_diag:
            return self.guidance
        d = torch.arange(1, width + 1, device=self.device)
        far = torch.tensor(self.guidance_far, device=self.device)
        return torch.where(d > self.far_diag, far, torch.tensor(self.guidance, device=self.device)).view(1, 1, -1, 1)

    def _forward(self, observed, target, locus, depth, ratio, prior=None):
        """Logits of the windows; with a prior, guided: ``u + w (c - u)`` (``w`` = :meth:`_weights`)."""
        b = observed.shape[0]
        res = torch.full((b,), float(self._resolution), device=self.device)
        unit = torch.full((b,), float(self.split_unit), device=self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            if prior is None:
                return self.model(observed, target, locus, depth, ratio, res, unit).float()
            cond = self.model(observed, target, locus, depth, ratio, res, unit, prior).float()
            weight = self._weights(observed.shape[2])
            if not torch.is_tensor(weight) and weight == 1:
                return cond
            return guided(self.model(observed, target, locus, depth, ratio, res, unit).float(), cond, weight)

    # -- the two modes -----------------------------------------------------------------------------------
    @torch.inference_mode()
    def _mean_batch(self, jobs, bands, depths, depth_ratio):
        observed, valid, locus, depth, ratio = self._inputs(jobs, bands, depths, depth_ratio)
        prior = self._prior(jobs, depths, depth_ratio, valid)
        target = torch.where(valid, torch.full_like(observed, self.tokenizer.mask_id), observed)
        probs = torch.softmax(self._forward(observed, target, locus, depth, ratio, prior), dim=-1)
        return (probs @ self.values).masked_fill(~valid, 0.0).cpu().numpy()

    @torch.inference_mode()
    def _sample_batch(self, jobs, bands, depths, depth_ratio, steps, generator, remask_share=0.0):
        """One draw of the reverse process for each window: ``(drawn, expected)`` counts, each ``(B, W, Dp)``.

        ``drawn`` holds the committed classes' values; ``expected`` each entry's expected count under the
        distribution it was committed from (given the entries committed before it): a Rao-Blackwellised draw,
        whose mean over draws is the same in expectation but far less noisy. With one step it is mean mode.
        ``remask_share``: ReMDM's corrector, that share of committed entries put back to MASK at each later
        step and redrawn."""
        observed, valid, locus, depth, ratio = self._inputs(jobs, bands, depths, depth_ratio)
        prior = self._prior(jobs, depths, depth_ratio, valid)
        b = observed.shape[0]
        mask_id = self.tokenizer.mask_id
        target = torch.where(valid, torch.full_like(observed, mask_id), observed)
        masked = valid.clone()
        expected = torch.zeros(valid.shape, dtype=torch.float32, device=self.device)
        flat_valid = valid.view(b, -1)
        for s in range(steps):
            if s > 0 and remask_share > 0:
                masked = remask(masked.view(b, -1), flat_valid, remask_share, generator).view_as(masked)
                target = torch.where(masked, torch.full_like(target, mask_id), target)
            left = masked.view(b, -1).sum(1)
            n_reveal = torch.ceil(left / (steps - s)).long()
            logits = self._forward(observed, target, locus, depth, ratio, prior)
            tok, m, revealed, mean = unmask_step(logits.view(b, -1, logits.shape[-1]), target.view(b, -1),
                                                 masked.view(b, -1), n_reveal, generator=generator,
                                                 values=self.values)
            expected = torch.where(revealed.view_as(expected), mean.view_as(expected), expected)
            target, masked = tok.view_as(target), m.view_as(masked)
        target = torch.where(valid, target, torch.zeros_like(target))
        drawn = self.values[target].masked_fill(~valid, 0.0)
        return drawn.cpu().numpy(), expected.masked_fill(~valid, 0.0).cpu().numpy()

    def impute_many(self, cells: CellSet, names, chroms=None, mode="mean", depth_ratio=1.0, samples=4,
                    steps=4, seed=0, transform=None, max_distance="auto", sample_values="expected",
                    remask=0.0, mask_regions=None, prior=None, guide_label=None, label_column="cell_type",
                    labels=None, guidance=1.0, guide_neighbours=None, neighbours_from=None, guidance_far=None,
                    far_from=None, add_observed=False):
        """Impute ``names`` of ``cells``; yields one :class:`CellImputation` per cell, in order.

        Windows of consecutive cells share forward passes (``batch_size`` windows each). ``transform``, a
        function ``(name, bands) -> bands``, changes each cell's observed bands first (:mod:`hicdiff.embed`
        thins cells with it). ``max_distance``: which pixels (:meth:`diagonals`; by default, as
        :func:`impute_scool`, whole chromosomes where they are small enough, else the model's band).
        ``sample_values`` (sample mode): ``"expected"``, each draw's Rao-Blackwellised values (every entry's
        expected count given what was committed before it), or ``"drawn"``, the discrete draws; the standard
        deviation is always that of the discrete draws. ``remask``: ReMDM's corrector share (0: none).
        ``mask_regions``: regions whose observed pixels are treated as missing and imputed from the rest of the
        cell (a BED path, :class:`~hicdiff.regions.Region` objects or a :class:`~hicdiff.regions.RegionMask`).
        ``prior`` (a bulk cooler) or ``guide_label`` (the pool of ``cells`` with that value in ``label_column``
        of their metadata or of the TSV ``labels``, less the cell itself): guidance of a model trained with a
        prior channel, with weight ``guidance`` (:mod:`hicdiff.guidance`); or ``guide_neighbours`` K, each cell's
        K nearest cells of ``cells`` in the embedding of ``neighbours_from`` (default: this model).
        ``guidance_far``: the guidance weight of pixels farther apart than ``far_from`` bp (default: the model's
        band, beyond which it never saw a prior in training); ``guidance`` nearer. ``None``: ``guidance``
        everywhere. ``add_observed``: each cell's map is its observed contacts (as the model was shown them)
        plus the imputed ones, rather than the imputed ones alone (:data:`ADD_OBSERVED`).
        """
        check_options(mode, depth_ratio, samples, steps, sample_values, remask, guidance, guidance_far,
                      any(x is not None for x in (prior, guide_label, guide_neighbours)), far_from)
        chroms = self.chromosomes(cells, chroms)
        self.check(cells, chroms)
        regions = self.region_mask(mask_regions, cells)
        diagonals = self.diagonals(cells, chroms, max_distance)
        band = self.cfg.max_diag
        read = max(band, *diagonals.values())
        # the prior first: finding neighbours embeds the cells with this imputer, which sets the state below
        source = self.prior_source(cells, chroms, read, prior, guide_label, label_column, labels,
                                   guide_neighbours, neighbours_from)
        self._resolution = int(cells.resolution)
        self._diagonals = diagonals
        # the depth the model is told is counted over its own band, as in its training, whatever is imputed
        self._entries = band_entries([cells.n_bins(c) for c in chroms], band)
        self.guidance = float(guidance)
        self.guidance_far = None if guidance_far is None else float(guidance_far)
        self.far_diag = self.far_diagonals(far_from, self._resolution)
        if source is not None:
            far = ("" if self.guidance_far is None else
                   f", {self.guidance_far:g} beyond {self.far_diag * self._resolution} bp")
            log.info("guided by %s, weight %g%s", source.describe(), self.guidance, far)
        stride = self.stride if mode == "mean" else self.cfg.window_rows
        shapes = {c: cells.n_bins(c) for c in chroms}
        cell_jobs = self._jobs(0, shapes, stride, diagonals)
        # sample mode draws each cell with its own generator (seed and cell name), so a cell's draws do not
        # depend on which cells share its batches or where an interrupted run resumed
        chunk = 1 if mode == "sample" else self._cells_per_group(cell_jobs, shapes, diagonals)
        names = list(names)
        reps = samples if mode == "sample" else 1
        # every window of every cell covers the same rows: draws per row, counted once
        n_draws = {c: np.zeros((n, 1), np.float64) for c, n in shapes.items()}
        for j in cell_jobs:
            n_draws[j.chrom][j.start: j.start + j.rows] += reps
        # sums over windows (and draws) per cell slot, allocated once and cleared for each group of cells
        total = [{c: np.zeros((n, diagonals[c]), np.float64) for c, n in shapes.items()}
                 for _ in range(min(chunk, len(names)))]
        # sample mode: sum and sum of squares of the discrete draws (their spread is the uncertainty)
        dsum = [{c: np.zeros_like(a) for c, a in t.items()} for t in total] if mode == "sample" else None
        sq = [{c: np.zeros_like(a) for c, a in t.items()} for t in total] if mode == "sample" else None
        for lo in range(0, len(names), chunk):
            group = names[lo: lo + chunk]
            generator = None
            if mode == "sample":
                cell_seed = int(cell_rng(seed, group[0]).integers(2**63))
                generator = torch.Generator(device=self.device).manual_seed(cell_seed)
            bands = [cell_bands(cells, n, read, chroms, dtype=np.float32) for n in group]
            if transform is not None:
                bands = [transform(n, b) for n, b in zip(group, bands)]
            self._hidden = [{} for _ in group]
            self._priors = [source.for_cell(n) for n in group] if source is not None else []
            if regions is not None:
                # masked regions: their pixels and main diagonal are zeroed, shown as MASK (_inputs) and left
                # out of the depth the model is told (counted over the pixels it is shown)
                hidden_entries = [0] * len(group)
                for k, n in enumerate(group):
                    self._hidden[k], hidden_entries[k] = regions.hide(n, bands[k], band)
            depths = [sum(float(b[:, :band].sum(dtype=np.float64)) for b, _ in cell.values()) for cell in bands]
            if regions is not None:
                depths = [shown_depth(c, 0.0, self._entries, e) for c, e in zip(depths, hidden_entries)]
            jobs = [j for k in range(len(group)) for j in self._jobs(k, shapes, stride, diagonals)]
            for acc in (total[: len(group)] + (sq[: len(group)] + dsum[: len(group)] if sq else [])):
                for a in acc.values():
                    a.fill(0)
            for rep in range(reps):
                for batch in self._batches(jobs):
                    if mode == "mean":
                        out = _on_model_thread(self._mean_batch, batch, bands, depths, depth_ratio)
                        drawn = None
                    else:
                        drawn, expected = _on_model_thread(self._sample_batch, batch, bands, depths,
                                                           depth_ratio, steps, generator, remask)
                        out = expected if sample_values == "expected" else drawn
                    for k, (j, o) in enumerate(zip(batch, out)):
                        stop = min(j.start + j.rows, shapes[j.chrom])
                        width = min(diagonals[j.chrom], j.diags)
                        rows = slice(j.start, stop)
                        total[j.cell][j.chrom][rows, :width] += o[: stop - j.start, :width]
                        if drawn is not None:
                            d = drawn[k][: stop - j.start, :width]
                            dsum[j.cell][j.chrom][rows, :width] += d
                            sq[j.cell][j.chrom][rows, :width] += d * d
            for k, name in enumerate(group):
                res = CellImputation(name)
                for c in chroms:
                    res.bands[c] = np.divide(total[k][c], n_draws[c], dtype=np.float32)
                    res.diag0[c] = bands[k][c][1]
                    kept = bands[k][c][0][:, : diagonals[c]] if add_observed else None
                    if add_observed:
                        res.bands[c] += kept
                    if mode == "sample":
                        mean = dsum[k][c] / n_draws[c]
                        res.drawn[c] = (mean if kept is None else mean + kept).astype(np.float32)
                        var = np.maximum(sq[k][c] / n_draws[c] - mean * mean, 0.0)
                        res.std[c] = np.sqrt(var * reps / max(reps - 1, 1)).astype(np.float32)
                yield res

    def far_diagonals(self, far_from, resolution: int) -> int:
        """Diagonals within which :attr:`guidance` applies (:attr:`guidance_far` beyond): ``far_from`` bp at
        ``resolution``, by default (``None``) the model's band."""
        return self.cfg.max_diag if far_from is None else int(far_from) // int(resolution)

    def impute_cell(self, cells, name=None, chroms=None, **kwargs) -> CellImputation:
        """Impute one cell of a :class:`CellSet` (or a cooler URI / path to a single-cell cooler)."""
        if not isinstance(cells, CellSet):
            cells = open_cells(cells)
        name = name or cells.names[0]
        return next(self.impute_many(cells.subset([name]), [name], chroms=chroms, **kwargs))

    # -- the predictive distribution (hicdiff.calibration) ----------------------------------------------
    def _over_band(self, cells: CellSet, name, chroms, fn):
        """``fn(batch, bands, depths)`` over the windows of one cell's band (the model's own, no overlap
        averaging: a row is taken from the last window that holds it); chromosome -> stacked outputs."""
        chroms = self.chromosomes(cells, chroms)
        self.check(cells, chroms)
        self._resolution = int(cells.resolution)
        band = self.cfg.max_diag
        self._diagonals = {c: band for c in chroms}
        self._entries = band_entries([cells.n_bins(c) for c in chroms], band)
        self._hidden, self._priors = [], []
        bands = [cell_bands(cells, name, band, chroms, dtype=np.float32)]
        depths = [sum(float(b[:, :band].sum(dtype=np.float64)) for b, _ in bands[0].values())]
        shapes = {c: cells.n_bins(c) for c in chroms}
        out = {}
        for batch in self._batches(self._jobs(0, shapes, self.cfg.window_rows, self._diagonals)):
            for j, o in zip(batch, _on_model_thread(fn, batch, bands, depths)):
                n = shapes[j.chrom]
                if j.chrom not in out:
                    out[j.chrom] = np.zeros((n, band, *o.shape[2:]), o.dtype)
                stop = min(j.start + j.rows, n)
                out[j.chrom][j.start:stop] = o[: stop - j.start, :band]
        return out

    def forecast(self, cells: CellSet, name, chroms=None, depth_ratio=1.0) -> dict[str, np.ndarray]:
        """The model's predictive distribution for one cell at ``t = 1``: chromosome -> ``(N, D, K)`` class
        probabilities of each band entry (the model's band; what mean mode averages into expected counts)."""

        @torch.inference_mode()
        def probs(jobs, bands, depths):
            observed, valid, locus, depth, ratio = self._inputs(jobs, bands, depths, depth_ratio)
            target = torch.where(valid, torch.full_like(observed, self.tokenizer.mask_id), observed)
            p = torch.softmax(self._forward(observed, target, locus, depth, ratio), dim=-1)
            return p.masked_fill(~valid[..., None], 0.0).cpu().numpy()

        return self._over_band(cells, name, chroms, probs)

    def draw_classes(self, cells: CellSet, name, chroms=None, depth_ratio=1.0, steps=4, seed=0):
        """One draw of the reverse process for one cell: chromosome -> ``(N, D)`` class ids (int8) of the
        band entries. Seeded by ``seed`` and the cell's name, as sample mode."""
        generator = torch.Generator(device=self.device).manual_seed(int(cell_rng(seed, name).integers(2**63)))
        values = self.values.cpu().numpy()

        def draw(jobs, bands, depths):
            drawn, _ = self._sample_batch(jobs, bands, depths, depth_ratio, steps, generator)
            return np.abs(drawn[..., None] - values).argmin(-1).astype(np.int8)

        return self._over_band(cells, name, chroms, draw)


#: What ``--add-observed`` writes, in words (the file's ``parameters.add_observed``).
ADD_OBSERVED = ("each pixel is the cell's observed contacts plus the imputed ones: the expected map at (1 + "
                "depth_ratio) times the cell's depth that holds the contacts it has (the main diagonal, not "
                "imputed, is the observed one)")

#: What sample mode writes per draw (``--sample-values``).
SAMPLE_VALUES = ("expected", "drawn")


def check_options(mode, depth_ratio, samples=1, steps=1, sample_values="expected", remask=0.0,
                  guidance=1.0, guidance_far=None, guided=False, far_from=None) -> None:
    """Refuse imputation options out of range, before any cell is read (``guided``: a prior is given)."""
    if mode not in ("mean", "sample"):
        raise HicdiffError(f"unknown mode {mode!r} (mean or sample)")
    if not (np.isfinite(depth_ratio) and depth_ratio > 0):
        raise HicdiffError(f"--depth-ratio must be a positive finite number, got {depth_ratio}")
    if mode == "sample" and (int(samples) < 1 or int(steps) < 1):
        raise HicdiffError(f"--samples and --steps must be at least 1, got {samples} and {steps}")
    if sample_values not in SAMPLE_VALUES:
        raise HicdiffError(f"--sample-values {sample_values!r}: expected or drawn")
    if not 0 <= float(remask) < 1:
        raise HicdiffError(f"--remask must be at least 0 and below 1, got {remask}")
    for name, w in (("--guidance", guidance), ("--guidance-far", guidance_far)):
        if w is not None and not (np.isfinite(w) and w >= 0):
            raise HicdiffError(f"{name} must be a finite number of at least 0, got {w}")
    if guidance_far is not None and not guided:
        raise HicdiffError("--guidance-far needs a prior to guide by (--prior, --guide-label or --guide-neighbours)")
    if far_from is not None and int(far_from) < 0:
        raise HicdiffError(f"--far-from must be a distance of at least 0 bp, got {far_from}")


def impute_scool(inputs, model, output, mode="mean", depth_ratio=1.0, samples=4, steps=4, uncertainty=None,
                 cells=None, chroms=None, device="auto", threads=None, batch_size=64, stride=None, seed=0,
                 resume=False, imputer: Imputer | None = None, split_unit: float = 0.0,
                 max_distance="auto", sample_values="expected", remask=0.0, mask_regions=None, prior=None,
                 guide_label=None, label_column="cell_type", labels=None, guidance=1.0, guide_neighbours=None,
                 neighbours_from=None, guidance_far=None, far_from=None, neighbours_among="all",
                 add_observed=False) -> dict:
    """Impute every cell of ``inputs`` (a ``.scool``, per-cell ``.cool`` files or ``.mcool::resolutions/N``)
    into ``output`` (and the per-pixel standard deviation into ``uncertainty`` in ``sample`` mode).

    ``max_distance`` chooses the pixels (:meth:`Imputer.diagonals`): by default (``"auto"``) every cis pixel
    of each chromosome where chromosomes are small enough (:data:`WHOLE_MAX_BINS`; 1 Mb and 500 kb), else the
    model's band. The file's metadata says which (``parameters.pixels``, ``parameters.whole_chromosomes``).

    ``sample_values`` and ``remask``: as :meth:`Imputer.impute_many` (sample mode).

    ``mask_regions``: a BED file (or :class:`~hicdiff.regions.Region` objects) of regions whose observed pixels
    are treated as missing and imputed from the rest of each cell (:mod:`hicdiff.regions`); the metadata
    records them (``parameters.mask_regions``, and each cell's own in ``masked_regions``).

    ``prior`` (a bulk cooler at the cells' resolution) or ``guide_label`` (the pool of the input cells with
    that value in ``label_column``, each cell less itself), with weight ``guidance``: guidance of a model
    trained with a prior channel (:mod:`hicdiff.guidance`); the metadata records it (``parameters.prior``).
    ``guide_neighbours`` K: each cell is guided by the pool of its K nearest cells of ``inputs`` (all of them,
    also with ``cells``) in the embedding of ``neighbours_from`` (an ``.h5ad`` from ``hicdiff embed``, or a
    model; default: ``model``), recorded in each cell's metadata (``neighbours``); ``neighbours_among="cells"``
    finds them among ``cells`` only (a fold imputed alone borrows nothing from the other). ``guidance_far``: the weight
    beyond ``far_from`` bp (default: the model's band), as :meth:`Imputer.impute_many`. ``add_observed``: write
    each cell's observed contacts plus the imputed ones (recorded as ``parameters.add_observed``).

    Returns a summary: cells written, seconds, seconds per cell.
    """
    check_options(mode, depth_ratio, samples, steps, sample_values, remask, guidance, guidance_far,
                  any(x is not None for x in (prior, guide_label, guide_neighbours)), far_from)
    imp = imputer or Imputer.from_checkpoint(model, device=device, threads=threads, batch_size=batch_size,
                                             stride=stride, split_unit=split_unit)
    cs = open_cells(inputs, cells=cells)
    chroms = imp.chromosomes(cs, chroms)
    imp.check(cs, chroms)
    if uncertainty and mode != "sample":
        raise HicdiffError("--uncertainty needs --mode sample", uncertainty)
    diagonals = imp.diagonals(cs, chroms, max_distance)
    whole = all(d >= cs.n_bins(c) - 1 for c, d in diagonals.items())
    reach = max(diagonals.values()) * int(cs.resolution)
    params = {"mode": mode, "depth_ratio": depth_ratio, "chromosomes": chroms, "max_distance_bp": reach,
              "whole_chromosomes": whole,
              "pixels": ("every cis pixel (i, j), i <= j, of each chromosome" if whole else
                         f"cis pixels (i, j) with 0 <= j - i <= {reach // int(cs.resolution)} diagonals "
                         f"({reach} bp); the pixels beyond are not written (not zero: not imputed)"),
              "model_max_distance_bp": imp.cfg.max_diag * int(cs.resolution), "stride": imp.stride,
              "split_unit": imp.split_unit}
    if mode == "sample":
        params.update(samples=samples, steps=steps, seed=seed, sample_values=sample_values, remask=remask)
    regions = imp.region_mask(mask_regions, cs)
    if regions is not None:
        params["mask_regions"] = regions.to_dict()
    if neighbours_among not in ("all", "cells"):
        raise HicdiffError(f"--neighbours-among {neighbours_among!r}: all or cells")
    if neighbours_among == "cells" and (guide_neighbours is None or cells is None):
        raise HicdiffError("--neighbours-among cells goes with --guide-neighbours and --cells")
    everyone = (open_cells(inputs) if guide_neighbours is not None and cells is not None and neighbours_among == "all"
                else cs)
    source = imp.prior_source(everyone, chroms, max(imp.cfg.max_diag, *diagonals.values()), prior, guide_label,
                              label_column, labels, guide_neighbours, neighbours_from)
    if source is not None:
        params.update(prior=source.describe(), guidance=float(guidance))
        if guide_neighbours is not None:
            params["neighbours_among"] = ("the imputed cells (--cells)" if neighbours_among == "cells"
                                          else "every cell of the input")
        if guidance_far is not None:
            res = int(cs.resolution)
            params.update(guidance_far=float(guidance_far),
                          guidance_far_from_bp=imp.far_diagonals(far_from, res) * res)
    if add_observed:
        params["add_observed"] = ADD_OBSERVED
    meta = {"scale": SCALE_ADDED if add_observed else SCALE, "precision": PRECISION, "method": "hicdiff",
            "model": str(model), "model_step": imp.checkpoint.get("step"), "parameters": params}
    ins = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    ins = [*ins, imp.path or str(model), *([prior] if isinstance(prior, str) else []),
           *([neighbours_from] if isinstance(neighbours_from, str) and neighbours_from.endswith(".h5ad") else [])]
    writers = [ScoolWriter(output, cs.bins, meta, float_counts=np.float32, inputs=ins, resume=resume,
                           keep_partial=True)]
    if uncertainty:
        std_meta = {**meta, "scale": "standard deviation over samples of " + SCALE}
        writers.append(ScoolWriter(uncertainty, cs.bins, std_meta, float_counts=np.float32,
                                   inputs=[*ins, output], resume=resume, keep_partial=True))
    done = set(writers[0].written).intersection(*(w.written for w in writers))
    todo = [n for n in cs.names if n not in done]
    for w in writers:
        extra = set(w.written) - done
        if extra:
            raise HicdiffError(f"cannot resume: {len(extra)} cell(s) are in this partial file but not in the "
                               "other output's; delete both partial files", w.temp_path)
    if done:
        log.info("resuming: %d of %d cells already imputed", len(done), len(cs))
    layout = BandPixels(cs, chroms, diagonals)
    start = time.perf_counter()
    n = 0
    bar = Progress(len(todo), "imputed", unit="cells", logger=log)
    try:
        for res in imp.impute_many(cs, todo, chroms=chroms, mode=mode, depth_ratio=depth_ratio,
                                   samples=samples, steps=steps, seed=seed, max_distance=diagonals,
                                   sample_values=sample_values, remask=remask, mask_regions=regions,
                                   prior=source, guidance=guidance, guidance_far=guidance_far,
                                   far_from=far_from, add_observed=add_observed):
            meta_cell = cs.cell_metadata(res.name)
            if guide_neighbours is not None:
                meta_cell["neighbours"] = list(source.neighbours[res.name])
            if regions is not None:
                meta_cell["masked_regions"] = [r.to_list()[:3] for r in regions.of_cell(res.name)]
            writers[0].add(res.name, res.pixels(cs, layout=layout), meta_cell)
            if uncertainty:
                writers[1].add(res.name, res.pixels(cs, "std", layout), meta_cell)
            n += 1
            bar.update()
    except BaseException as e:
        bar.close()
        kept = n + len(done)
        for w in writers:
            # a partial without a finished cell, or one a full disk may have damaged, is not worth resuming
            w.keep_partial = kept > 0 and disk_full_file(e) is None
            w.abort()
        if writers[0].keep_partial:
            log.warning("%s: %d cells kept in %s; rerun with --resume to continue",
                        "interrupted" if isinstance(e, KeyboardInterrupt) else "stopped by an error", kept,
                        writers[0].temp_path)
        raise
    bar.close()
    for w in writers:
        w.close()
    seconds = time.perf_counter() - start
    return {"cells": n, "skipped": len(done), "seconds": seconds, "seconds_per_cell": seconds / max(n, 1),
            "output": str(output)}
