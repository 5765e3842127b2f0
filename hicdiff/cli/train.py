"""``hicdiff train``: train a denoiser on the cells of a ``.scool``."""

import logging

import click

from hicdiff.errors import HicdiffError


@click.command("train")
@click.argument("cells", metavar="CELLS.scool")
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
def command(cells, output, config, max_steps, max_time, device, seed, threads, chromosomes, max_distance,
            batch_size, val_fraction, lr):
    """Train the conditional masked-diffusion denoiser on the cells of CELLS.scool.

    A share of the cells is held out for validation; the final line compares their cross-entropy at t=1
    (target fully masked) with the distance-only predictor's.
    """
    from hicdiff.config import load_config
    from hicdiff.io import open_cells

    cs = open_cells(cells)  # a bad input fails here, before Lightning is imported
    overrides = {"seed": seed, "batch_size": batch_size, "val_fraction": val_fraction, "lr": lr}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if chromosomes:
        overrides["chromosomes"] = [c.strip() for c in chromosomes.split(",") if c.strip()]
    if max_distance:
        if max_distance < cs.resolution:
            raise HicdiffError(f"--max-distance {max_distance} bp is below the resolution ({cs.resolution} bp)")
        overrides["max_diag"] = int(max_distance // cs.resolution)
    if max_steps or max_time:
        overrides["max_steps"] = max_steps
        overrides["max_minutes"] = max_time
    cfg = load_config(config, **overrides)

    from hicdiff.training import train

    # Lightning's banners (GPU available, tips) are noise here
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)

    result = train(cells, output, cfg, device=device, threads=threads)
    click.echo(result.summary_line())
