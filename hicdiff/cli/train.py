"""``hicdiff train``: train a denoiser on the cells of one or more ``.scool`` files, or fine-tune one."""

import logging
import os

import click

from hicdiff.errors import HicdiffError

# fine-tuning's defaults: a short schedule that adapts a pretrained model to a small set of cells
FINETUNE = {"max_minutes": 5.0, "lr": 3e-4, "warmup_steps": 20}


def _global_rank() -> int:
    """This process's rank in a multi-device run, from the variables Lightning reads (0 outside one)."""
    for name in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if name in os.environ:
            return int(os.environ[name])
    return 0


# the other processes of a multi-device run write nothing, so they leave rank 0 its lock on the output
OUTPUTS = None if _global_rank() == 0 else {}


@click.command("train")
@click.argument("cells", metavar="CELLS.scool...", nargs=-1, required=True)
@click.option("-o", "--output", required=True, metavar="MODEL.ckpt", help="Checkpoint file to write.")
@click.option("--config", "config", metavar="FILE|PRESET",
              help="YAML configuration file, or a preset: tiny (tests), small (CPU default), base (GPU).")
@click.option("--max-steps", type=click.IntRange(min=1), help="Stop after N optimiser steps.")
@click.option("--max-time", type=click.FloatRange(min=0, min_open=True), metavar="MINUTES",
              help="Stop after this many minutes of training; alone, it replaces the configuration's step limit.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="cuda trains in bf16 mixed precision.")
@click.option("--seed", type=int, help="Random seed (same seed, same CPU threads: identical runs).")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads for torch.")
@click.option("--chromosomes", metavar="NAMES",
              help="Comma-separated chromosomes to model (default: all but Y, M, random and unplaced).")
@click.option("--max-distance", type=click.IntRange(min=1), metavar="BP",
              help="Largest genomic distance modelled, in bp (diagonals = BP // resolution).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Windows per step.")
@click.option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Share of cells held out for validation (at least 2 cells).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Peak learning rate.")
@click.option("--init", "init", metavar="MODEL",
              help="Fine-tune this checkpoint (a path, or `general` for the shipped model) instead of training "
                   f"from scratch; alone, it trains {FINETUNE['max_minutes']:g} minutes at lr {FINETUNE['lr']:g}.")
@click.option("--region-mask-fraction", type=click.FloatRange(0, 1), metavar="F",
              help="Share of training windows that hide a run of bins from the observed channel, so that the "
                   "model learns to infill masked regions (hicdiff impute --mask-regions; docs/imputation.md).")
@click.option("--prior-by", metavar="COLUMN|all|neighbours",
              help="Train a prior channel for guidance (hicdiff impute --prior / --guide-label / "
                   "--guide-neighbours): each training cell's prior is the pool of the other training cells with "
                   "its value in this column of the cells' metadata (all: every training cell; neighbours: its "
                   "--prior-neighbours nearest training cells in a model's embedding), dropped for 30%% of "
                   "windows (docs/imputation.md).")
@click.option("--prior-neighbours", type=click.IntRange(min=1), metavar="K",
              help="--prior-by neighbours: cells pooled into each cell's prior.  [default: 5]")
@click.option("--neighbours-from", metavar="MODEL|EMBED.h5ad",
              help="--prior-by neighbours: the embedding that finds them, a model's (a checkpoint or general) or "
                   "an .h5ad from hicdiff embed (default: the --init model, else general).")
@click.option("--devices", default="1", show_default=True, metavar="N|auto",
              help="Devices per node: GPUs with --device cuda, else CPU processes; `auto`: every GPU (1 on the "
                   "CPU).")
@click.option("--strategy", default="auto", show_default=True, metavar="NAME",
              help="Lightning's strategy for several devices: ddp (Lightning starts the other processes by "
                   "running this command again, or takes them from SLURM's srun), ddp_spawn, auto.")
@click.option("--num-nodes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Machines taking part, --devices processes each (under SLURM: srun, one task per device).")
def command(cells, output, config, max_steps, max_time, device, seed, threads, chromosomes, max_distance,
            batch_size, val_fraction, lr, init, region_mask_fraction, prior_by, prior_neighbours, neighbours_from,
            devices, strategy, num_nodes):
    """Train the conditional masked-diffusion denoiser on the cells of CELLS.scool.

    Several inputs (other datasets, assemblies, resolutions) train one model together; that needs a network
    without the per-locus embedding (`locus_embedding: false`, as in configs/general.yaml). With --init MODEL
    the training starts from MODEL's weights and class values (a short schedule by default).

    A share of each input's cells is held out for validation; the final line compares their cross-entropy at
    t=1 (target fully masked) with the distance-only predictor's.
    """
    from hicdiff.config import load_config
    from hicdiff.io import open_cells

    if devices != "auto":
        if not devices.isdigit() or int(devices) < 1:
            raise click.BadParameter(f"{devices!r} is neither a number of devices nor auto", param_hint="--devices")
        devices = int(devices)

    sets = [open_cells(c) for c in cells]  # a bad input fails here, before Lightning is imported
    if (prior_neighbours or neighbours_from) and prior_by != "neighbours":
        raise click.UsageError("--prior-neighbours and --neighbours-from go with --prior-by neighbours")
    if prior_by and prior_by not in ("all", "neighbours"):
        from hicdiff._cellmaps import cell_labels

        for s in sets:
            cell_labels(s, prior_by)   # every cell has a value in the column, or a clear error now
    cs = sets[0]
    if init is not None:
        from hicdiff.checkpoint import resolve_model

        init = resolve_model(init)
        if not os.path.isfile(init):
            raise HicdiffError("no such model checkpoint", init)
    overrides = {"seed": seed, "batch_size": batch_size, "val_fraction": val_fraction, "lr": lr,
                 "region_mask_fraction": region_mask_fraction, "prior_by": prior_by,
                 "prior_neighbours": prior_neighbours}
    if prior_by == "neighbours":
        overrides["neighbours_from"] = neighbours_from or init or "general"
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if chromosomes:
        overrides["chromosomes"] = [c.strip() for c in chromosomes.split(",") if c.strip()]
    if max_distance:
        if len({s.resolution for s in sets}) > 1:
            raise HicdiffError("--max-distance is in bp, but the inputs have several resolutions: set max_diag "
                               "(diagonals at every resolution) in the configuration instead")
        if max_distance < cs.resolution:
            raise HicdiffError(f"--max-distance {max_distance} bp is below the resolution ({cs.resolution} bp)")
        overrides["max_diag"] = int(max_distance // cs.resolution)
    if max_steps or max_time:
        overrides["max_steps"] = max_steps
        overrides["max_minutes"] = max_time
    elif init is not None:
        overrides.update(max_steps=None, max_minutes=FINETUNE["max_minutes"])
    if init is not None:
        overrides.setdefault("warmup_steps", FINETUNE["warmup_steps"])
        if lr is None:
            overrides["lr"] = FINETUNE["lr"]
    cfg = load_config(config, **overrides)

    from hicdiff.training import train

    from lightning.pytorch.utilities import rank_zero_only

    # Lightning's banners (GPU available, tips) are noise here
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    if rank_zero_only.rank:
        # the other processes of a multi-device run (started with their rank set) repeat rank 0's lines
        logging.getLogger("hicdiff").setLevel(logging.WARNING)

    result = train(list(cells), output, cfg, device=device, threads=threads, init=init, devices=devices,
                   strategy=strategy, num_nodes=num_nodes)
    if result.rank == 0:
        click.echo(result.summary_line())
