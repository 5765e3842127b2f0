"""``hicdiff impute``: impute cells with a trained model."""

import json

import click

from hicdiff.cli import _options


class MaxDistance(click.ParamType):
    """``auto``, ``whole``, ``band`` or a distance in bp."""

    name = "auto|whole|band|BP"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value in ("auto", "whole", "band"):
            return value
        try:
            bp = int(value)
        except ValueError:
            self.fail(f"{value!r} is not auto, whole, band or a whole number of bp", param, ctx)
        if bp < 1:
            self.fail(f"{value!r}: a distance must be at least 1 bp", param, ctx)
        return bp


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="CELLS.scool|CELL.cool...|FILE.mcool::resolutions/N")
@click.option("--model", "model", required=True, type=click.Path(),
              help="Model checkpoint from hicdiff train, or `general` for the model shipped with hicdiff "
                   "(any assembly and resolution; docs/models.md).")
@click.option("-o", "--output", required=True, type=click.Path(), help="Imputed cells (.scool of float counts).")
@click.option("--mode", type=click.Choice(["mean", "sample"]), default="mean", show_default=True,
              help="mean: expected counts in one pass; sample: reverse diffusion, mean of --samples draws.")
@click.option("--depth-ratio", type=_options.FiniteFloat(min=0, min_open=True), default=1.0, show_default=True,
              help="r: impute what r times the cell's sequencing would show (1 = the cell's own depth).")
@click.option("--samples", type=click.IntRange(min=1), default=4, show_default=True, help="Draws per cell (sample).")
@click.option("--steps", type=click.IntRange(min=1), default=4, show_default=True,
              help="Reverse-diffusion steps per draw (sample).")
@click.option("--uncertainty", type=click.Path(), default=None,
              help="Also write the per-pixel standard deviation over draws here (sample mode).")
@click.option("--cells", default=None, metavar="NAMES|FILE",
              help="Only these cells: comma-separated names or a file with one name per line.")
@_options.chromosomes
@_options.device
@_options.threads
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Windows per forward pass (cells are batched together).")
@click.option("--stride", type=click.IntRange(min=1), default=None,
              help="Rows between windows in mean mode; overlaps are averaged (default: the window size).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sample mode.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its .partial output.")
@click.option("--max-distance", type=MaxDistance(), default="auto", show_default=True,
              help="Which pixels: whole (every cis pixel of each chromosome), band (the model's own band), or "
                   "those up to BP apart. auto: whole chromosomes where every chromosome has at most 512 bins "
                   "(1 Mb and 500 kb: what compartments need), else the band (finer resolutions).")
@click.option("--predict", type=click.Choice(["contacts", "pixels"]), default="contacts", show_default=True,
              help="contacts: what deeper sequencing of the cell would add; pixels: the contacts of pixels held "
                   "out whole at the cells' own resolution (hicdiff split --heldout-unit equal to the "
                   "resolution). For units finer than the pixels (40 kb units in 200 kb pixels), contacts "
                   "scores better (docs/models.md).")
@click.option("--sample-values", type=click.Choice(["expected", "drawn"]), default="expected", show_default=True,
              help="sample mode: expected writes the mean over draws of each entry's expected count given what "
                   "its draw had committed before it (Rao-Blackwellised, far less noisy); drawn the mean of the "
                   "discrete draws. --uncertainty is the spread of the discrete draws either way.")
@click.option("--remask", type=_options.FiniteFloat(min=0, max=1, max_open=True), default=0.0, show_default=True,
              help="sample mode: share of committed entries put back to MASK and redrawn at each step after the "
                   "first (ReMDM's corrector; 0: none).")
@click.option("--mask-regions", type=click.Path(), default=None, metavar="REGIONS.bed",
              help="Treat the observed contacts of these regions as missing and impute them from the rest of the "
                   "cell (infilling): BED chrom, start, end and an optional 4th column naming the one cell a "
                   "region applies to ('*' or none: every cell). Needs a model trained with "
                   "--region-mask-fraction (docs/imputation.md).")
@click.option("--prior", type=click.Path(), default=None, metavar="BULK.cool",
              help="Guide by this bulk map (a .cool, or an .mcool holding the cells' resolution): a model trained "
                   "with a prior channel (hicdiff train --prior-by) also sees it, scaled to each cell's depth.")
@click.option("--guide-label", default=None, metavar="VALUE",
              help="Guide by a cell type: the prior is the pool of the input cells labelled VALUE in "
                   "--label-column (each cell less its own contacts).")
@click.option("--label-column", default="cell_type", show_default=True, help="--guide-label: the label column.")
@click.option("--labels", "labels_path", type=click.Path(), default=None,
              help="--guide-label: TSV of cell labels (default: the labels stored with the cells).")
@click.option("--guide-neighbours", type=click.IntRange(min=1), default=None, metavar="K",
              help="Guide each cell by its K nearest cells of the input: the prior is the pool of their contacts "
                   "(the cell's own never enter), neighbours found in the model's embedding as hicdiff embed "
                   "makes it. Needs a model trained with --prior-by (neighbours: as it will be used).")
@click.option("--neighbours-from", type=click.Path(), default=None, metavar="MODEL|EMBED.h5ad",
              help="--guide-neighbours: find them in this embedding (an .h5ad from hicdiff embed, or another "
                   "model's; default: the imputing model's).")
@click.option("--neighbours-among", type=click.Choice(["all", "cells"]), default="all", show_default=True,
              help="--guide-neighbours: find them among every cell of the input, or only the --cells imputed "
                   "(a fold imputed alone borrows nothing from the cells it is evaluated against).")
@click.option("--guidance", type=_options.FiniteFloat(min=0), default=1.0, show_default=True,
              help="Guidance weight w: logits u + w (c - u) of the model without (u) and with (c) the prior; "
                   "1 the conditional model, 0 the prior ignored, above 1 the prior followed further.")
@click.option("--guidance-far", type=_options.FiniteFloat(min=0), default=None, metavar="W",
              help="Guidance weight of pixels farther apart than --far-from (default: --guidance everywhere). "
                   "A model trained with its prior on its band never learned to read it beyond; compartments "
                   "live there (docs/whole_chromosomes.md).")
@click.option("--far-from", type=click.IntRange(min=0), default=None, metavar="BP",
              help="--guidance-far: from this distance (default: the model's band, max_diag diagonals: 32 Mb at 1 Mb for the shipped models).")
@click.option("--add-observed", is_flag=True, default=False,
              help="Write each cell's observed contacts plus the imputed ones (a map at 1 + --depth-ratio times "
                   "the cell's depth that keeps what the cell shows), not the imputed ones alone. The model "
                   "gives a cell's own pixels too little weight at long range; compartments of pooled guided "
                   "cells gain from it (docs/whole_chromosomes.md).")
def command(inputs, model, output, mode, depth_ratio, samples, steps, uncertainty, cells, chromosomes, device,
            threads, batch_size, stride, seed, resume, max_distance, predict, sample_values, remask, mask_regions,
            prior, guide_label, label_column, labels_path, guide_neighbours, neighbours_from, neighbours_among,
            guidance, guidance_far, far_from, add_observed):
    """Impute single-cell Hi-C maps with a trained hicdiff model.

    Values are expected contact counts at each cell's own sequencing depth (times --depth-ratio) for every
    pixel that --max-distance chooses (by default every cis pixel at 1 Mb and 500 kb, the model's band at finer
    resolutions; the file's metadata says which); the main diagonal is copied from the observed map.
    """
    from hicdiff.impute import impute_scool
    from hicdiff.io import read_cell_names

    summary = impute_scool(
        list(inputs) if len(inputs) > 1 else inputs[0], model, output, mode=mode, depth_ratio=depth_ratio,
        samples=samples, steps=steps, uncertainty=uncertainty, cells=read_cell_names(cells),
        chroms=_options.split_names(chromosomes), device=device, threads=threads, batch_size=batch_size,
        stride=stride, seed=seed, resume=resume, split_unit=1.0 if predict == "pixels" else 0.0,
        max_distance=max_distance, sample_values=sample_values, remask=remask, mask_regions=mask_regions,
        prior=prior, guide_label=guide_label, label_column=label_column, labels=labels_path, guidance=guidance,
        guide_neighbours=guide_neighbours, neighbours_from=neighbours_from,
        guidance_far=guidance_far, far_from=far_from, neighbours_among=neighbours_among, add_observed=add_observed)
    click.echo(json.dumps(summary))
