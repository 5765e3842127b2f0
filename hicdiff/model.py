"""The denoiser: a bidirectional transformer over tiles of a chromosome's band grid.

Input is a window of the band grid (``W`` rows x ``Dp`` diagonals, both multiples of the tile shape) as two
token grids: the observed tokens (the condition, every pixel's own count visible) and the target tokens (value
classes or MASK). Each ``tile_rows x tile_diags`` tile is one transformer position. A tile's embedding is the
sum, over its entries, of a per-entry-offset embedding of the observed token and of the target token (a
patch embedding), plus embeddings of its genomic distance, its row in the window, optionally its genomic
locus, and the cell context. Pre-norm blocks without a causal mask; a linear head gives, per entry, logits over
the ``K`` value classes (never MASK).

A ``portable`` network (the default) is tied to no assembly and no resolution: a tile's genomic distance
enters as a continuous quantity, ``log10`` of the distance of its central diagonal in base pairs, through
Fourier features and a small MLP; the context is the observed part's contact density (log10 contacts per band
pixel, which does not depend on how much genome the cells cover), ``r``, ``log10`` of the resolution and the
split unit (0: held-out contacts drawn one by one, 1: whole pixels held out). Older checkpoints
(``portable: false``) count distance in diagonal tiles and are told log10 band contacts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

N_FREQS = 6             # Fourier features of log10 distance
DISTANCE_CENTRE = 6.5   # log10 bp around which distances are centred (about 3 Mb)


@dataclass
class ModelConfig:
    n_classes: int = 8          # K value classes; token ids K (MASK) and K+1 (PAD) follow
    tile_rows: int = 4
    tile_diags: int = 8
    max_diag: int = 32          # D, diagonals modelled (band width in bins)
    window_rows: int = 128      # rows per window
    n_loci: int = 0             # genomic tiles with a learned embedding (0: none)
    width: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: int = 4
    dropout: float = 0.0
    portable: bool = True       # distance in bp, resolution in the context (False: checkpoints before 0.2)
    prior: bool = False         # a prior-map channel (guidance by a bulk or cell-type map; absent = unconditional)

    @property
    def vocab_size(self) -> int:
        return self.n_classes + 2

    @property
    def tile_entries(self) -> int:
        return self.tile_rows * self.tile_diags

    @property
    def padded_diags(self) -> int:
        return math.ceil(self.max_diag / self.tile_diags) * self.tile_diags

    @property
    def diag_tiles(self) -> int:
        return self.padded_diags // self.tile_diags

    @property
    def row_tiles(self) -> int:
        return math.ceil(self.window_rows / self.tile_rows)

    def to_dict(self) -> dict:
        return asdict(self)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.heads = cfg.heads
        self.dropout = cfg.dropout
        self.norm1 = nn.LayerNorm(cfg.width)
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.width)
        self.norm2 = nn.LayerNorm(cfg.width)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.width, cfg.mlp_ratio * cfg.width),
            nn.GELU(),
            nn.Linear(cfg.mlp_ratio * cfg.width, cfg.width),
            nn.Dropout(cfg.dropout),
        )

    def forward(self, x):
        b, n, w = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, w))
        return x + self.mlp(self.norm2(x))


class Denoiser(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        e, v = cfg.tile_entries, cfg.vocab_size
        # rows 0..e*v-1: observed token at each entry offset; e*v..2*e*v-1: target token
        self.entries = nn.Embedding(2 * e * v, cfg.width)
        if cfg.portable:
            self.register_buffer("freqs", torch.pi * 2.0 ** torch.arange(N_FREQS) / 4, persistent=False)
            self.distance = nn.Sequential(nn.Linear(2 * N_FREQS + 1, cfg.width), nn.GELU(),
                                          nn.Linear(cfg.width, cfg.width))
        else:
            self.diag_pos = nn.Embedding(cfg.diag_tiles, cfg.width)
        self.row_pos = nn.Embedding(cfg.row_tiles, cfg.width)
        self.locus = nn.Embedding(cfg.n_loci, cfg.width) if cfg.n_loci > 0 else None
        self.context = nn.Sequential(nn.Linear(4 if cfg.portable else 2, cfg.width), nn.GELU(),
                                     nn.Linear(cfg.width, cfg.width))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width, e * cfg.n_classes)
        self.register_buffer("entry_offset", torch.arange(e) * v, persistent=False)
        self.apply(self._init)
        # the prior channel: each tile's entries' prior features and a flag saying a prior is given; zero at
        # first, so that a network given the channel to fine-tune starts as the unconditional one it was
        self.prior = nn.Linear(e + 1, cfg.width) if cfg.prior else None
        if self.prior is not None:
            nn.init.zeros_(self.prior.weight)
            nn.init.zeros_(self.prior.bias)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def _tiles(self, tokens):
        """``(B, W, Dp)`` -> ``(B, R, C, entries)``."""
        c = self.cfg
        b, w, d = tokens.shape
        t = tokens.view(b, w // c.tile_rows, c.tile_rows, d // c.tile_diags, c.tile_diags)
        return t.permute(0, 1, 3, 2, 4).reshape(b, w // c.tile_rows, d // c.tile_diags, c.tile_entries)

    def distance_features(self, cols: int, resolution: torch.Tensor) -> torch.Tensor:
        """``(B, cols, width)``: embeddings of the diagonal tiles' distances (central diagonal, in bp)."""
        c = self.cfg
        centre = torch.arange(cols, device=resolution.device) * c.tile_diags + (c.tile_diags + 1) / 2
        x = torch.log10(centre[None] * resolution.float().view(-1, 1)) - DISTANCE_CENTRE   # (B, cols)
        ang = x[..., None] * self.freqs
        feats = torch.cat([x[..., None], torch.sin(ang), torch.cos(ang)], dim=-1)
        return self.distance(feats.to(self.distance[0].weight.dtype))

    def forward(self, observed, target, locus_start, log_depth, depth_ratio, resolution=None, split_unit=None,
                prior=None):
        """Per-entry logits ``(B, W, Dp, K)``.

        Parameters
        ----------
        observed, target : LongTensor ``(B, W, Dp)``
            Token grids (rows x diagonals) of the window; W a multiple of ``tile_rows`` (at most
            ``window_rows``), Dp = ``padded_diags``.
        locus_start : LongTensor ``(B,)``
            Genomic tile index of the window's first row tile (ignored when ``n_loci == 0``).
        log_depth : Tensor ``(B,)``
            The observed part's depth over the whole cell, not the window (:func:`hicdiff.windows.depth_feature`):
            ``log10`` contacts per band pixel (portable) or ``log10`` band contacts.
        depth_ratio : Tensor ``(B,)``
            ``r``: expected target depth relative to the observed depth.
        resolution : Tensor ``(B,)``
            Bin size in bp (portable networks only).
        split_unit : Tensor ``(B,)``, optional
            What the target is: 0 (default) contacts held out one by one, 1 whole pixels held out.
        prior : Tensor ``(B, W, Dp)``, optional
            Per-entry prior features (:func:`hicdiff.guidance.prior_features`; NaN in every entry of a window:
            no prior for it). ``None``: no prior for any window (the unconditional network).
        """
        c = self.cfg
        b, w, d = observed.shape
        obs = self._tiles(observed) + self.entry_offset
        tgt = self._tiles(target) + self.entry_offset + c.tile_entries * c.vocab_size
        rows, cols = obs.shape[1], obs.shape[2]
        # a tile's embedding sums its entries' embeddings; embedding_bag never materialises them one by one
        idx = torch.cat([obs, tgt], dim=-1).view(-1, 2 * c.tile_entries)
        x = F.embedding_bag(idx, self.entries.weight, mode="sum").view(b, rows, cols, c.width)
        x = x + self.row_pos.weight[None, :rows, None]
        if c.portable:
            if resolution is None:
                raise ValueError("a portable network needs the resolution of every window")
            resolution = torch.as_tensor(resolution, device=x.device).float().expand(b)
            x = x + self.distance_features(cols, resolution)[:, None]
        else:
            x = x + self.diag_pos.weight[None, None, :cols]
        if self.locus is not None:
            idx = (locus_start.view(-1, 1) + torch.arange(rows, device=x.device)).clamp(max=c.n_loci - 1)
            x = x + self.locus(idx)[:, :, None]
        if self.prior is not None and prior is not None:
            given = ~torch.isnan(prior[:, :1, :1]).view(b, 1, 1, 1)
            f = self._tiles(torch.nan_to_num(prior.float(), nan=0.0))
            f = torch.cat([f, given.expand(b, rows, cols, 1).float()], dim=-1)
            x = x + self.prior(f.to(x.dtype))
        ctx = [log_depth.float(), torch.log(depth_ratio.float())]
        if c.portable:
            unit = torch.zeros(b, device=x.device) if split_unit is None else split_unit
            ctx += [torch.log10(resolution) - 6.0, torch.as_tensor(unit, device=x.device).float().expand(b)]
        ctx = torch.stack(ctx, dim=-1)
        x = x + self.context(ctx.to(x.dtype))[:, None, None]
        x = x.view(b, rows * cols, c.width)
        for blk in self.blocks:
            x = blk(x)
        logits = self.head(self.norm(x)).view(b, rows, cols, c.tile_rows, c.tile_diags, c.n_classes)
        return logits.permute(0, 1, 3, 2, 4, 5).reshape(b, w, d, c.n_classes)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
