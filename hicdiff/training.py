"""Training with Lightning: the conditional masked diffusion of DESIGN §3.

:class:`DiffusionModule` wraps the plain :class:`~hicdiff.model.Denoiser` and the functions of
:mod:`hicdiff.diffusion`; :class:`CellsDataModule` serves random training windows and fixed validation windows
from :mod:`hicdiff.data`. :func:`train` runs the whole thing from a ``.scool`` to a checkpoint file.

Each training step, on the training device: split every window's counts by binomial thinning at
``rho ~ U(rho_low, rho_high)`` into an observed part (the condition, all its tokens visible) and a held-out part
(x0); mask x0's tokens at ``t`` (a share ``t_one_fraction`` of windows fully masked); the loss is the MDLM
cross-entropy on masked entries weighted by ``1/t``. The model is told the observed depth
``log10((1 - rho) * band contacts of the cell)`` and ``r = rho / (1 - rho)``.

Validation: mean cross-entropy (nats per masked entry) on held-out cells at fixed ``t`` values, fixed
``rho``, fixed windows and masks; ``val/ce_t1`` (fully masked target, the setting of mean imputation) is the
headline, next to the distance-only predictor's ``val/ce_t1_distance_only``.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from datetime import timedelta

import lightning.pytorch as L
import numpy as np
import torch
from lightning.pytorch.strategies import StrategyRegistry
from lightning.pytorch.trainer.states import TrainerFn

from hicdiff.checkpoint import save_checkpoint
from hicdiff.config import TrainConfig
from hicdiff.data import BandStore, ValidationSet, WindowSampler, distance_only_ce, split_cells
from hicdiff.diffusion import (binomial_split, diffusion_loss, hide_bins, mask_tokens, masked_cross_entropy,
                               pixel_split, sample_rho, sample_t)
from hicdiff.errors import HicdiffError
from hicdiff.guidance import StorePools, drop_prior, prior_features
from hicdiff.io import open_cells
from hicdiff.model import Denoiser, ModelConfig
from hicdiff.tokens import Tokenizer
from hicdiff.windows import assembly_of, default_chromosomes, depth_feature, shown_depth, to_tokens

log = logging.getLogger(__name__)


def lr_factor(step: int, progress: float, cfg: TrainConfig) -> float:
    """Learning-rate multiplier: linear warm-up over ``warmup_steps``, then cosine decay to ``min_lr_ratio``
    as ``progress`` (share of the step or time budget used, whichever is larger) goes from 0 to 1."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    cos = 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cos


class DiffusionModule(L.LightningModule):
    """The training objective around a :class:`Denoiser`; the network itself stays a plain module."""

    def __init__(self, model: Denoiser, tokenizer: Tokenizer, cfg: TrainConfig):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.val_results: dict[str, float] = {}
        # steps, valid entries and seconds trained (over all devices): a buffer, so that they reach this
        # process from spawned ones (ddp_spawn) with the weights
        self.register_buffer("totals", torch.zeros(3, dtype=torch.float64))
        self._start = None

    # -- training -------------------------------------------------------------------------------------------
    def training_step(self, batch, batch_idx):
        cfg, tok = self.cfg, self.tokenizer
        counts, valid = batch["counts"], batch["valid"]
        n = counts.shape[0]
        rho = sample_rho(n, cfg.rho_low, cfg.rho_high, device=counts.device)
        observed, heldout = binomial_split(counts, rho)
        unit = torch.zeros(n, device=counts.device)
        if cfg.pixel_split_fraction > 0:
            # a share of windows hold out whole pixels: the model learns what is missing, not only what more
            # reads of the same library would add (the fine-scale split's question; DESIGN §7)
            whole = torch.rand(n, device=counts.device) < cfg.pixel_split_fraction
            obs_px, held_px = pixel_split(counts, rho)
            w = whole.view(-1, 1, 1)
            observed, heldout = torch.where(w, obs_px, observed), torch.where(w, held_px, heldout)
            unit = whole.float()
        x0 = to_tokens(heldout, valid, tok)
        t = sample_t(n, cfg.t_one_fraction, device=counts.device)
        noisy, masked = mask_tokens(x0, valid, t, tok.mask_id)
        depth = depth_feature((1 - rho) * batch["depth"], batch["entries"], self.model.cfg.portable)
        hidden = None
        if cfg.region_mask_fraction > 0:
            # infilling (impute --mask-regions): a share of windows hide a run of bins in the observed channel
            # (MASK tokens, left out of the depth); the target stays the held-out part, hidden pixels included
            hidden = hide_bins(valid, cfg.region_mask_fraction)
            depth = depth_feature(shown_depth((1 - rho) * batch["depth"], (observed * hidden).sum((1, 2)),
                                              batch["entries"], hidden.sum((1, 2))),
                                  batch["entries"], self.model.cfg.portable)
        prior = None
        if "prior" in batch:
            # guidance: the cell's label pool (less itself) at the held-out depth, dropped for a share of windows
            prior = prior_features(batch["prior"], batch["prior_depth"], rho * batch["depth"], valid)
            prior = drop_prior(prior, torch.rand(n, device=counts.device) >= cfg.prior_dropout)
        logits = self.model(to_tokens(observed, valid, tok, hidden), noisy, batch["locus_start"], depth,
                            rho / (1 - rho), batch["resolution"], unit, prior)
        return diffusion_loss(logits, x0, masked, valid, t)

    def configure_optimizers(self):
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.model.parameters() if p.dim() < 2]
        return torch.optim.AdamW([{"params": decay, "weight_decay": self.cfg.weight_decay},
                                  {"params": no_decay, "weight_decay": 0.0}], lr=self.cfg.lr, betas=(0.9, 0.99))

    def progress(self) -> float:
        """Share of the training budget used: steps or time, whichever runs out first."""
        cfg, p = self.cfg, 0.0
        if cfg.max_steps:
            p = self.global_step / cfg.max_steps
        if cfg.max_minutes and self._start is not None:
            p = max(p, (time.monotonic() - self._start) / (60 * cfg.max_minutes))
        return p

    def on_train_start(self):
        self._start = time.monotonic()

    def on_train_batch_start(self, batch, batch_idx):
        lr = self.cfg.lr * lr_factor(self.global_step, self.progress(), self.cfg)
        for group in self.optimizers().optimizer.param_groups:
            group["lr"] = lr

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.totals[0] = self.global_step

    # -- validation -----------------------------------------------------------------------------------------
    def on_validation_epoch_start(self):
        self._ce_sum = torch.zeros(len(self.cfg.val_t), dtype=torch.float64, device=self.device)
        self._ce_n = torch.zeros(len(self.cfg.val_t), dtype=torch.float64, device=self.device)

    def validation_step(self, batch, batch_idx):
        x0, masked = batch["target"].long(), batch["masked"]
        noisy = torch.where(masked, torch.full_like(x0, self.tokenizer.mask_id), x0)
        logits = self.model(batch["observed"].long(), noisy, batch["locus_start"], batch["log_depth"],
                            batch["depth_ratio"], batch["resolution"])
        n = masked.sum()
        k = batch["t_index"]
        self._ce_sum[k] += torch.nan_to_num(masked_cross_entropy(logits, x0, masked)).double() * n
        self._ce_n[k] += n

    def on_validation_epoch_end(self):
        # each device scored its share of the batches (CellsDataModule.val_dataloader): add them all up
        reduce = self.trainer.strategy.reduce
        ce_sum, ce_n = reduce(self._ce_sum, reduce_op="sum"), reduce(self._ce_n, reduce_op="sum")
        ce = (ce_sum / ce_n.clamp(min=1)).tolist()
        self.val_results = {f"val/ce_t{t:g}": c for t, c in zip(self.cfg.val_t, ce)}
        for name, value in self.val_results.items():
            self.log(name, value, sync_dist=True)   # the same on every device already
        if self.trainer.is_global_zero:
                log.info("validation at step %d: %s", int(self.totals[0]),
                     "  ".join(f"{k} {v:.4f}" for k, v in self.val_results.items()))


class CellsDataModule(L.LightningDataModule):
    """Random training windows and fixed validation windows from the cells of one or more ``.scool`` files.

    :meth:`setup` loads every cell's band grids once (one :class:`~hicdiff.data.BandStore` per input), chooses
    each input's validation cells, fits the tokenizer's class values on the training cells (or keeps those of
    the model being fine-tuned), draws the validation windows and scores the distance-only predictor.
    """

    def __init__(self, scools, cfg: TrainConfig, tokenizer: Tokenizer | None = None):
        super().__init__()
        self.scools = [str(s) for s in ([scools] if isinstance(scools, (str, os.PathLike)) else scools)]
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.fine_tuning = tokenizer is not None   # a pretrained model's class values are kept
        self.stores = None

    @property
    def store(self) -> BandStore:
        """The first input's store (its layout is the checkpoint's)."""
        return self.stores[0]

    def setup(self, stage=None):
        if self.stores is not None:
            return
        cfg = self.cfg
        t0 = time.monotonic()
        self.stores, self.train_cells, self.val_cells, self.inputs = [], [], [], []
        for scool in self.scools:
            cs = open_cells(scool)
            chroms = cfg.chromosomes or default_chromosomes(cs)
            if cfg.chromosomes and len(self.scools) > 1:
                chroms = [c for c in cfg.chromosomes if c in cs.chrom_bins]
            missing = [c for c in chroms if c not in cs.chrom_bins]
            if missing or not chroms:
                raise HicdiffError(f"chromosome(s) {', '.join(missing) or '(none left)'} not in the cells' bin "
                                   "table", scool)
            train_names, val_names = split_cells(cs.names, cfg.val_fraction, cfg.val_min_cells, cfg.val_seed,
                                                 small_ok=self.fine_tuning, max_cells=cfg.val_max_cells)
            store = BandStore.load(cs, chroms, cfg.max_diag, cfg.padded_diags, cfg.tile_rows)
            index = {n: k for k, n in enumerate(store.names)}
            self.stores.append(store)
            self.train_cells.append([index[n] for n in train_names])
            self.val_cells.append([index[n] for n in val_names])
            self.inputs.append({"scool": os.path.abspath(scool), "resolution": store.resolution,
                                "assembly": assembly_of(cs), "chromosomes": chroms, "n_cells": len(store.names),
                                "training_cells": train_names, "validation_cells": val_names})
            log.info("loaded %s: %d cells (%d training, %d validation), %d chromosomes, %d bins at %d bp",
                     scool, len(store.names), len(train_names), len(val_names), len(chroms),
                     sum(store.layout.n_bins), store.resolution)
        if self.tokenizer is None:
            counts = [s.nonzero_counts(c) for s, c in zip(self.stores, self.train_cells)]
            self.tokenizer = Tokenizer(cfg.n_classes).fit(np.concatenate(counts))
        portable = cfg.portable
        vals, ces, weights = [], [], []
        for store, train_cells, val_cells in zip(self.stores, self.train_cells, self.val_cells):
            val = ValidationSet.build(store, val_cells, self.tokenizer, cfg.window_rows, cfg.val_rho, cfg.val_t,
                                      cfg.val_seed, portable)
            vals.append(val)
            ces.append(distance_only_ce(store, train_cells, val, self.tokenizer))
            weights.append(float(val.valid.sum()))
        self.val = ValidationSet.concat(vals)
        self.pools = None
        if cfg.prior_by:
            self.pools = [self._pools(scool, store, cells)
                          for scool, store, cells in zip(self.scools, self.stores, self.train_cells)]
        self.distance_only_ce = float(np.average(ces, weights=weights))
        log.info("%d input(s) loaded in %.1f s; validation: %d windows x %d values of t; distance-only CE at "
                 "t=1: %.4f nats per entry", len(self.stores), time.monotonic() - t0, len(self.val),
                 len(cfg.val_t), self.distance_only_ce)

    def _pools(self, scool, store, train_cells) -> StorePools:
        """The training priors of one input: its training cells pooled by ``prior_by`` (a column of the cells'
        stored metadata, or ``all``)."""
        groups = None
        if self.cfg.prior_by == "neighbours":
            from hicdiff.neighbours import cell_neighbours

            cs = open_cells(scool)
            names = [store.names[k] for k in train_cells]
            near = cell_neighbours(cs, self.cfg.prior_neighbours, embedding=self.cfg.neighbours_from or "general",
                                   among=names, chroms=list(store.layout.chroms))
            index = {n: k for k, n in enumerate(store.names)}
            pools = StorePools(store, train_cells, None, neighbours={index[n]: [index[m] for m in near[n]]
                                                                      for n in names})
            log.info("priors of %s: each training cell's %d nearest training cells in the embedding of %s", scool,
                     self.cfg.prior_neighbours, self.cfg.neighbours_from or "general")
            return pools
        if self.cfg.prior_by != "all":
            from hicdiff._cellmaps import cell_labels

            labels = cell_labels(open_cells(scool), self.cfg.prior_by)
            groups = labels.reindex(store.names).astype(str).tolist()
        pools = StorePools(store, train_cells, groups)
        log.info("priors of %s: the training cells pooled by %s (%s), each cell less its own contacts", scool,
                 self.cfg.prior_by, ", ".join(pools.names))
        return pools

    def train_dataloader(self):
        cfg = self.cfg
        sampler = WindowSampler(self.stores, self.train_cells, cfg.window_rows, cfg.batch_size, cfg.seed,
                                rank=self.trainer.global_rank if self.trainer else 0, priors=self.pools)
        return torch.utils.data.DataLoader(sampler, batch_size=None, num_workers=0)

    def val_dataloader(self):
        # with several devices each scores every world_size-th batch; the sums are reduced at the epoch's end
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        return torch.utils.data.DataLoader(self.val.batches(self.cfg.val_batch_size)[rank::world],
                                           batch_size=None, num_workers=0)

    def summary(self) -> dict:
        """The data part of the checkpoint: the first input's fields (as before) and every input in ``inputs``."""
        first = self.inputs[0]
        return {
            "scool": first["scool"],
            "n_cells": sum(i["n_cells"] for i in self.inputs),
            "training_cells": first["training_cells"],
            "validation_cells": first["validation_cells"],
            "chromosomes": first["chromosomes"],
            "inputs": self.inputs,
            "resolutions": sorted({i["resolution"] for i in self.inputs}),
            "assemblies": sorted({i["assembly"] for i in self.inputs}),
            "max_diag": self.cfg.max_diag,
            "val_rho": self.val.rho,
            "val_seed": self.val.seed,
            "val_t": self.val.t,
            "val_windows": len(self.val),
            "val/ce_t1_distance_only": self.distance_only_ce,
        }


class Progress(L.Callback):
    """Progress lines (loss, learning rate, entries per second) and checkpoints at intervals.

    ``history`` collects ``(step, mean training loss over the interval)``; entries are valid window entries.
    With several devices the loss is their mean and the entries their sum; only global rank 0 writes lines
    and checkpoints.
    """

    def __init__(self, save):
        self.save = save
        self.history: list[tuple[int, float]] = []

    def on_train_start(self, trainer, module):
        self._loss = torch.zeros((), device=module.device)
        self._entries = torch.zeros((), device=module.device)
        self._n = 0
        self._t = time.monotonic()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self._loss += outputs["loss"].detach()
        self._entries += batch["valid"].sum()
        self._n += 1
        step, cfg = trainer.global_step, module.cfg
        if step % cfg.log_every == 0 or step == cfg.max_steps:
            self._report(step, module)
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and trainer.is_global_zero:
            self.save(module, step)

    def on_validation_start(self, trainer, module):
        self._val_start = time.monotonic()

    def on_validation_end(self, trainer, module):
        if trainer.state.fn == TrainerFn.FITTING:   # not the final validation
            self._t += time.monotonic() - self._val_start   # entries/s count training time only

    def on_train_end(self, trainer, module):
        if self._n:
            self._report(trainer.global_step, module)

    def _report(self, step, module):
        # every rank reaches the same steps, so these reductions meet
        strategy = module.trainer.strategy
        loss = float(strategy.reduce(self._loss / self._n, reduce_op="mean"))
        entries = float(strategy.reduce(self._entries, reduce_op="sum"))
        now = time.monotonic()
        seconds = now - self._t
        self.history.append((step, loss))
        module.totals[1] += entries
        module.totals[2] += seconds
        lr = module.optimizers().optimizer.param_groups[0]["lr"]
        if module.trainer.is_global_zero:
            log.info("step %d  loss %.4f  lr %.2e  %.0f entries/s  %.1f min", step, loss, lr,
                     entries / max(seconds, 1e-9), (now - module._start) / 60)
        self._loss.zero_()
        self._entries.zero_()
        self._n = 0
        self._t = now


@dataclass
class TrainResult:
    """What :func:`train` did: the trained model (eval mode, on the CPU), steps, minutes of training, validation
    numbers (nats per masked entry), throughput (valid entries per second over all devices), ``(step, loss)``
    history and the global rank of the process (with several devices every process returns one; rank 0 wrote
    the checkpoint)."""

    model: Denoiser
    checkpoint: str
    steps: int
    minutes: float
    val: dict
    distance_only_ce: float
    entries_per_s: float
    history: list = field(default_factory=list)
    rank: int = 0

    @property
    def val_ce_t1(self) -> float:
        return self.val["val/ce_t1"]

    def summary_line(self) -> str:
        gain = 100 * (1 - self.val_ce_t1 / self.distance_only_ce)
        return (f"trained {self.steps} steps in {self.minutes:.1f} min: validation CE at t=1 "
                f"{self.val_ce_t1:.4f} nats vs distance-only {self.distance_only_ce:.4f} "
                f"({abs(gain):.1f}% {'lower' if gain >= 0 else 'higher'}); "
                f"{self.entries_per_s:,.0f} entries/s; saved {self.checkpoint}")


def _accelerator(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        raise HicdiffError(f"unknown device {device!r} (auto, cpu or cuda)")
    if device == "cuda" and not torch.cuda.is_available():
        raise HicdiffError("--device cuda was asked for, but torch sees no CUDA device")
    if device == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    return "gpu" if device == "cuda" else "cpu"


def _init_model(init, model: Denoiser, init_layout, cfg: TrainConfig, data: "CellsDataModule") -> Denoiser:
    """The model to fine-tune: the weights of checkpoint ``init`` with the band of ``cfg`` (a portable
    network's weights do not depend on it); a per-locus embedding is kept only where the new cells have the
    same layout (else dropped, with a message). ``model``, ``init_layout``: as loaded from ``init``."""
    layout = data.store.layout
    state = model.state_dict()
    kw = {**model.cfg.to_dict(), "max_diag": cfg.max_diag, "prior": cfg.prior}
    if model.cfg.n_loci and (len(data.stores) > 1 or layout.n_loci != model.cfg.n_loci
                             or layout.resolution != init_layout.resolution):
        log.warning("%s has a per-locus embedding for another layout; fine-tuning without it", init)
        state = {k: v for k, v in state.items() if not k.startswith("locus.")}
        kw["n_loci"] = 0
    if kw != model.cfg.to_dict():
        model = Denoiser(ModelConfig(**kw))
        missing, unexpected = model.load_state_dict(state, strict=False)
        # a prior channel added to a network without one starts at zero (hicdiff.guidance)
        if unexpected or any(not k.startswith("prior.") for k in missing):
            raise HicdiffError(f"cannot fine-tune {init}: its weights do not fit ({missing + unexpected})")
    return model.train()


class Saver:
    """Writes the checkpoint of a module with its data's summary and validation numbers; a plain object rather
    than a closure, so that spawned processes (``ddp_spawn``) can receive it."""

    def __init__(self, output, cfg: TrainConfig, data: CellsDataModule, init=None):
        self.output, self.cfg, self.data, self.init = str(output), cfg, data, init

    def __call__(self, module: DiffusionModule, step: int) -> None:
        data = self.data
        summary = {**data.summary(), **module.val_results}
        training = {**self.cfg.to_dict(), "init": str(self.init) if self.init else None}
        save_checkpoint(self.output, module.model, data.tokenizer, data.store.layout, training, summary, step)


def train(scool, output, cfg: TrainConfig, device: str = "auto", threads: int | None = None,
          init=None, devices: int | str = 1, strategy: str = "auto", num_nodes: int = 1) -> TrainResult:
    """Train a denoiser on the cells of ``scool`` and write the checkpoint to ``output``.

    Parameters
    ----------
    scool : str or list of str
        One or more ``.scool`` files of raw cells (``hicdiff load``), of any resolutions and assemblies;
        several inputs need a network without the per-locus embedding (``locus_embedding: false``).
    output : str
        Checkpoint file (:func:`hicdiff.checkpoint.save_checkpoint`), written atomically at the end and every
        ``cfg.checkpoint_every`` steps.
    cfg : TrainConfig
        Model and training settings (:func:`hicdiff.config.load_config`). With ``init``, the network's fields
        (width, depth, tiles, window) come from the checkpoint and only the training fields and ``max_diag``
        from ``cfg``.
    device : {"auto", "cpu", "cuda"}
        On CUDA, training runs in bf16 mixed precision.
    threads : int, optional
        CPU threads for torch.
    init : str, optional
        Fine-tune from this checkpoint (a path or ``general``) instead of starting from random weights; its
        tokenizer (class values) is kept.
    devices : int or "auto"
        Devices (GPUs, or CPU processes) per node. With more than one, each process loads the cells, draws its
        own training windows (the sampler is seeded by rank) and scores its share of the validation windows.
    strategy : str
        Lightning's strategy (``"auto"``, ``"ddp"``, ``"ddp_spawn"``, ...). With ``"ddp"`` Lightning starts the
        other processes by running the same command again (or takes them from SLURM's ``srun``).
    num_nodes : int
        Machines taking part (``devices`` processes each).
    """
    scools = [scool] if isinstance(scool, (str, os.PathLike)) else list(scool)
    tokenizer = None
    init_model = init_layout = None
    if init is not None:
        from dataclasses import fields as dc_fields

        from hicdiff.checkpoint import load_checkpoint
        init_model, tokenizer, init_layout, _ = load_checkpoint(init)
        keep = {f.name for f in dc_fields(ModelConfig)} - {"max_diag", "n_loci", "dropout", "prior"}
        for name in keep:
            setattr(cfg, name, getattr(init_model.cfg, name))
        if not init_model.cfg.portable and cfg.max_diag != init_model.cfg.max_diag:
            raise HicdiffError(f"{init} counts distance in diagonal tiles: fine-tune it with its own band "
                               f"({init_model.cfg.max_diag} diagonals), not {cfg.max_diag}")
        if init_model.cfg.n_loci == 0:
            cfg.locus_embedding = False
    # a prior channel when training with priors, or kept (with its weights) from the model fine-tuned
    cfg.prior = bool(cfg.prior_by) or bool(init_model is not None and init_model.cfg.prior)
    if len(scools) > 1 and cfg.locus_embedding:
        raise HicdiffError("several inputs need a network without a per-locus embedding: set "
                           "locus_embedding: false in the configuration")
    cfg.check()
    accelerator = _accelerator(device)
    if isinstance(strategy, str) and strategy != "auto" and strategy not in StrategyRegistry:
        names = [n for n in sorted(StrategyRegistry.available_strategies()) if "find_unused" not in n]
        raise HicdiffError(f"unknown strategy {strategy!r}; Lightning's: auto, {', '.join(names)}")
    out_dir = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(out_dir):
        raise HicdiffError(f"output folder {out_dir} does not exist", output)
    if threads:
        torch.set_num_threads(threads)
    L.seed_everything(cfg.seed, verbose=False)

    data = CellsDataModule(scools, cfg, tokenizer=tokenizer)
    data.setup("fit")
    if init is not None:
        model = _init_model(init, init_model, init_layout, cfg, data)
    else:
        model = Denoiser(cfg.model_config(data.store.layout.n_loci))
    module = DiffusionModule(model, data.tokenizer, cfg)
    log.info("model: %s parameters, width %d, %d layers%s; %s", f"{model.n_params():,}", cfg.width, cfg.depth,
             f", fine-tuned from {init}" if init else "",
             "bf16 on CUDA" if accelerator == "gpu" else f"CPU, {torch.get_num_threads()} threads")

    save = Saver(output, cfg, data, init)
    progress = Progress(save)
    precision = "bf16-mixed" if accelerator == "gpu" else "32-true"
    if accelerator == "gpu":
        torch.set_float32_matmul_precision("high")
    val_kw = ({"val_check_interval": cfg.val_every, "check_val_every_n_epoch": None} if cfg.val_every
              else {"limit_val_batches": 0})
    # the validation windows are shared out by CellsDataModule.val_dataloader, not by a DistributedSampler
    trainer = L.Trainer(accelerator=accelerator, devices=devices, strategy=strategy, num_nodes=num_nodes,
                        precision=precision, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, use_distributed_sampler=False, max_steps=cfg.max_steps or -1,
                        max_time=timedelta(minutes=cfg.max_minutes) if cfg.max_minutes else None,
                        gradient_clip_val=cfg.grad_clip, num_sanity_val_steps=0, callbacks=[progress], **val_kw)
    with warnings.catch_warnings():
        # Lightning 2.6 on torch 2.13 warns about a deprecated torch pytree API on every fit
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        fit_start = time.monotonic()
        trainer.fit(module, datamodule=data)
        # from the first step, or (the steps ran in spawned processes) from the start of fit
        minutes = (time.monotonic() - (module._start or fit_start)) / 60
        trainer.limit_val_batches = 1.0      # the final validation scores every window, whatever val_every
        trainer.validate(module, datamodule=data, verbose=False)
    if not module.val_results:
        # spawned processes (ddp_spawn) validated; this process has their logged numbers only
        module.val_results = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # Lightning leaves the process group (and gloo's threads) up; a process exiting under them can abort
        torch.distributed.destroy_process_group()
    if trainer.is_global_zero:
        save(module, int(module.totals[0]))
    steps, entries, seconds = module.totals.tolist()
    return TrainResult(model.cpu().eval(), str(output), int(steps), minutes, dict(module.val_results),
                       data.distance_only_ce, entries / max(seconds, 1e-9), progress.history, trainer.global_rank)
