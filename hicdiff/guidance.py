"""Guidance by a prior map: a bulk Hi-C map or a cell type's pooled cells, given to the denoiser as a channel.

A network trained with ``prior: true`` (``hicdiff train --prior-by COLUMN``) sees, beside a cell's observed
contacts, a prior map in the same band coordinates, scaled to the depth the model is asked for: each entry's
feature is ``log1p(x / PRIOR_UNIT)`` with ``x`` the prior's count times ``r x (the cell's band contacts) /
(the prior's band contacts)``, the count the prior alone expects there. Training drops the prior for a share
of windows (classifier-free guidance, Ho & Salimans 2022), so one network is both conditional and not;
imputation combines the two per entry as ``logits = u + w (c - u)`` (``--guidance W``; 1 is the conditional
network alone, 0 ignores the prior, above 1 follows it further).

Priors (each gives, per cell, chromosome -> band ``(N, D)`` of counts and its band contacts):

- :class:`BulkPrior`: one ``.cool`` / ``.mcool`` for every cell (``hicdiff impute --prior BULK.cool``);
- :class:`PoolPrior`: the sum of other cells (those of one label, ``--guide-label VALUE``), leaving out the
  cell being imputed; in training, each training cell's label pool without itself.
- :class:`NeighbourPrior`: each cell's own prior, the sum of its nearest cells in the model's embedding
  (``--guide-neighbours K``, :mod:`hicdiff.neighbours`); in training (``--prior-by neighbours``), each
  training cell's nearest training cells.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from hicdiff._cellmaps import cell_bands
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet

log = logging.getLogger(__name__)

#: A prior count of this size gets the feature log(2): the scale of one held-out contact's fraction.
PRIOR_UNIT = 0.01


def prior_features(prior: torch.Tensor, prior_depth: torch.Tensor, target_depth: torch.Tensor,
                   valid: torch.Tensor) -> torch.Tensor:
    """The prior channel ``(B, W, Dp)`` from prior counts ``(B, W, Dp)``: scaled by ``target_depth /
    prior_depth`` (per window: the contacts the model is asked for over the prior's, both over the band),
    ``log1p(x / PRIOR_UNIT)``, zero outside ``valid``."""
    scale = (target_depth.double() / prior_depth.double().clamp(min=1e-12)).float().view(-1, 1, 1)
    f = torch.log1p(prior.float().clamp(min=0) * scale / PRIOR_UNIT)
    return torch.where(valid, f, torch.zeros_like(f))


def drop_prior(features: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Windows where ``keep`` is false get no prior (NaN everywhere, what the network reads as absent)."""
    return torch.where(keep.view(-1, 1, 1), features, torch.full_like(features, float("nan")))


def guided(uncond: torch.Tensor, cond: torch.Tensor, weight) -> torch.Tensor:
    """Classifier-free guidance of logits: ``u + w (c - u)`` (``w`` a number, or a tensor that broadcasts)."""
    return uncond + (weight if torch.is_tensor(weight) else float(weight)) * (cond - uncond)


def _band_total(bands: dict, max_diag: int) -> float:
    return float(sum(b[:, :max_diag].sum(dtype=np.float64) for b in bands.values()))


class BulkPrior:
    """A bulk cooler as every cell's prior, at the cells' resolution (an ``.mcool`` gives that resolution;
    a cooler of another resolution is refused). Chromosome names are matched as for references."""

    def __init__(self, uri, cells: CellSet, chroms, diagonals: int, band: int):
        from hicdiff.references import CoolerReference, _View

        ref = CoolerReference(uri, cells)
        if ref.clr.binsize != cells.resolution:
            raise HicdiffError(f"the prior is at {ref.clr.binsize} bp, the cells at {cells.resolution} bp; give a "
                               "prior at the cells' resolution (an .mcool with it, or hicdiff load/coarsen it)",
                               str(uri))
        missing = [c for c in chroms if c not in ref.names]
        if missing:
            raise HicdiffError(f"the prior has no chromosome {', '.join(missing[:4])} of the cells", str(uri))
        bands = ref.bands(_View(cells.resolution, diagonals))
        self.bands = {c: bands[c][0].astype(np.float32) for c in chroms}
        self.depth = _band_total(self.bands, band)
        if self.depth <= 0:
            raise HicdiffError("the prior has no contacts within the model's band", str(uri))
        self.source = str(uri)

    def for_cell(self, name):
        return self.bands, self.depth

    def describe(self) -> str:
        return f"bulk map {self.source}"


def summed_bands(cells: CellSet, names, diagonals: int, chroms) -> dict:
    """Chromosome -> the float32 band grids ``(N, diagonals)`` of ``names`` summed."""
    out = None
    for name in names:
        b = cell_bands(cells, name, diagonals, chroms, dtype=np.float32)
        if out is None:
            out = {c: v[0] for c, v in b.items()}
        else:
            for c, v in b.items():
                out[c] += v[0]
    return out


class PoolPrior:
    """The pooled counts of ``pool`` cells of ``cells`` as the prior; a cell of the pool is imputed with the
    pool less its own counts as ``cells`` holds them (its own contacts never enter its prior)."""

    def __init__(self, cells: CellSet, pool, chroms, diagonals: int, band: int, label: str | None = None):
        self.pool = list(pool)
        if not self.pool:
            raise HicdiffError(f"no cell has the label {label!r} to pool as a prior", cells.source)
        self.cells, self.chroms, self.diagonals, self.band = cells, list(chroms), int(diagonals), int(band)
        self.bands = summed_bands(cells, self.pool, self.diagonals, self.chroms)
        self.depth = _band_total(self.bands, band)
        self.members = set(self.pool)
        self.label = label

    def _own(self, name) -> dict:
        return summed_bands(self.cells, [name], self.diagonals, self.chroms)

    def for_cell(self, name):
        """``(bands, depth)``: the prior of cell ``name``."""
        if name not in self.members:
            return self.bands, self.depth
        own = self._own(name)
        out = {c: np.maximum(b - own[c], 0) for c, b in self.bands.items()}
        return out, _band_total(out, self.band)

    def describe(self) -> str:
        return f"{len(self.pool)} pooled cells labelled {self.label!r}"


class NeighbourPrior:
    """Each cell's prior is the sum of its neighbours' counts (``neighbours``: name -> names, never the cell
    itself, :func:`hicdiff.neighbours.cell_neighbours`), read from ``cells`` when the cell is imputed."""

    def __init__(self, cells: CellSet, neighbours: dict, chroms, diagonals: int, band: int):
        missing = [n for n in cells.names if n not in neighbours]
        if missing:
            raise HicdiffError(f"no neighbours given for cell {missing[0]!r}", cells.source)
        unknown = sorted({m for v in neighbours.values() for m in v} - set(cells.names))
        if unknown:
            raise HicdiffError(f"neighbour {unknown[0]!r} is not a cell of the input", cells.source)
        own = [n for n, v in neighbours.items() if n in v or not v]
        if own:
            raise HicdiffError(f"cell {own[0]!r} is its own neighbour or has none", cells.source)
        self.cells, self.neighbours = cells, {n: list(v) for n, v in neighbours.items()}
        self.chroms, self.diagonals, self.band = list(chroms), int(diagonals), int(band)
        self.k = max(len(v) for v in self.neighbours.values())

    def for_cell(self, name):
        """``(bands, depth)``: the summed bands of ``name``'s neighbours."""
        out = summed_bands(self.cells, self.neighbours[name], self.diagonals, self.chroms)
        return out, _band_total(out, self.band)

    def describe(self) -> str:
        return f"the pooled {self.k} nearest cells of each cell in the model's embedding"


def make_prior(cells: CellSet, chroms, diagonals: int, band: int, prior=None, guide_label=None,
               label_column: str = "cell_type", labels_path=None, neighbours=None):
    """The prior of an imputation: ``prior``, a bulk cooler (:class:`BulkPrior`), ``guide_label``, the
    pool of ``cells`` labelled so in ``label_column`` (:class:`PoolPrior`), or ``neighbours`` (name -> names,
    :class:`NeighbourPrior`); ``None`` without any."""
    if sum(x is not None for x in (prior, guide_label, neighbours)) > 1:
        raise HicdiffError("guide by one prior: a bulk map (--prior), a label (--guide-label) or the cells' "
                           "neighbours (--guide-neighbours), not several")
    if neighbours is not None:
        return NeighbourPrior(cells, neighbours, chroms, diagonals, band)
    if prior is not None:
        return prior if hasattr(prior, "for_cell") else BulkPrior(prior, cells, chroms, diagonals, band)
    if guide_label is None:
        return None
    from hicdiff._cellmaps import cell_labels

    labels = cell_labels(cells, label_column, labels_path)
    return PoolPrior(cells, label_pool(labels, guide_label, labels_path or cells.source), chroms, diagonals, band,
                     label=str(guide_label))


def label_pool(labels: pd.Series, value: str, source=None) -> list[str]:
    """Cells whose label is ``value``; an unknown value is an error listing the labels there are."""
    pool = labels.index[labels.astype(str) == str(value)].tolist()
    if not pool:
        have = ", ".join(sorted(map(str, labels.unique()))[:8])
        raise HicdiffError(f"no cell is labelled {value!r} (labels: {have})", source)
    return pool


#: Training priors by neighbours hold one dense band per training cell; above this many bytes, refuse.
NEIGHBOUR_POOL_BYTES = 4 * 2 ** 30


class StorePools:
    """Training priors of one :class:`~hicdiff.data.BandStore`: dense band sums of the training cells per
    group (a label, or all of them), from which a window's prior is its group's sum less the cell's own;
    or, with ``neighbours`` (store index -> store indices of other training cells), one sum per training
    cell, of its neighbours (the cell itself is not in it, so nothing is taken off)."""

    def __init__(self, store, train_cells, groups: list[str] | None, neighbours: dict | None = None):
        cells = np.asarray(train_cells, dtype=np.int64)
        n_rows, dp = store.valid.shape
        span = n_rows * dp
        self.group = torch.full((len(store.names),), -1, dtype=torch.int64)
        self.subtract_own = neighbours is None
        if neighbours is not None:
            need = 4 * span * len(cells)
            if need > NEIGHBOUR_POOL_BYTES:
                raise HicdiffError(f"training priors by neighbours would hold {need / 2 ** 30:.1f} GiB (one band "
                                   "per training cell); train at a coarser resolution or --prior-by a label column")
            self.names = [store.names[k] for k in cells]
            self.group[torch.as_tensor(cells)] = torch.arange(len(cells))
            self.sums = torch.zeros((len(cells), n_rows, dp), dtype=torch.float32)
            self.depth = torch.zeros(len(cells), dtype=torch.float64)
            for g, k in enumerate(cells):
                others = np.asarray(neighbours[int(k)], dtype=np.int64)
                key, count = store.cell_entries(others)
                self.sums[g].view(-1).index_put_((key % span,), count.float(), accumulate=True)
                self.depth[g] = store.depth[torch.as_tensor(others)].sum()
            return
        keys = ["all"] * len(cells) if groups is None else [groups[k] for k in cells]
        self.names = sorted(set(keys))
        index = {g: k for k, g in enumerate(self.names)}
        self.group[torch.as_tensor(cells)] = torch.tensor([index[g] for g in keys])
        self.sums = torch.zeros((len(self.names), n_rows, dp), dtype=torch.float32)
        self.depth = torch.zeros(len(self.names), dtype=torch.float64)
        key, count = store.cell_entries(cells)
        g = self.group[torch.as_tensor(cells)][key // span]
        self.sums.view(len(self.names), -1).index_put_((g, key % span), count.float(), accumulate=True)
        self.depth.index_add_(0, self.group[torch.as_tensor(cells)], store.depth[torch.as_tensor(cells)])

    def windows(self, cells: torch.Tensor, first_rows: torch.Tensor, ends: torch.Tensor, window_rows: int,
                own: torch.Tensor, own_depth: torch.Tensor):
        """Prior counts ``(B, W, Dp)`` of windows of ``cells`` (training cells: their group's sum less
        ``own``, the cells' own window counts) and the priors' band contacts ``(B,)`` (the group's less
        ``own_depth``, the cells' own)."""
        n_rows = self.sums.shape[1]
        g = self.group[cells]
        if bool((g < 0).any()):
            raise ValueError("training priors are defined for training cells only")
        at = first_rows[:, None] + torch.arange(window_rows)
        sums = self.sums[g[:, None], at.clamp(max=n_rows - 1)] * (at < ends[:, None])[..., None]
        if not self.subtract_own:
            return sums, self.depth[g].clamp(min=1.0).float()
        return (sums - own).clamp(min=0), (self.depth[g] - own_depth.double()).clamp(min=1.0).float()
