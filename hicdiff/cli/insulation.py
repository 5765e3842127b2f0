"""``hicdiff insulation``: per-cell insulation score and boundaries (cooltools.insulation)."""

import click

from hicdiff.cli import _options


@click.command("insulation")
@click.argument("cells")
@click.option("--window", required=True, type=int, metavar="BP",
              help="Diamond size in bp, a multiple of the resolution (cells at 200 kb or finer).")
@click.option("-o", "--output", required=True,
              help="Output TSV: cell, chrom, start, end, is_bad_bin, log2_insulation_score, n_valid_pixels, "
                   "boundary_strength, is_boundary.")
@click.option("--no-balance", is_flag=True,
              help="Score raw counts instead of the balanced map (the weight column).")
@click.option("--threshold", default="Li", show_default=True,
              help="Boundary strength threshold per cell: Li, Otsu or a number.")
@_options.chromosomes
@click.option("--cells", "cell_names", default=None,
              help="Only these cells: comma-separated names or a file with one name per line.")
def command(cells, window, output, no_balance, threshold, chromosomes, cell_names):
    """Insulation score and boundaries of every cell of CELLS (.scool, as hicdiff writes)."""
    from hicdiff.insulation import insulation
    from hicdiff.io import read_cell_names

    try:
        threshold = float(threshold)
    except ValueError:
        pass
    table = insulation(cells, window, names=read_cell_names(cell_names), chroms=_options.split_names(chromosomes),
                       balance=not no_balance, threshold=threshold)
    table.to_csv(output, sep="\t", index=False, float_format="%.6g")
    boundaries = int(table["is_boundary"].sum())
    click.echo(f"insulation ({window:,} bp window) of {table['cell'].nunique()} cells -> {output} "
               f"({boundaries / table['cell'].nunique():.1f} boundaries per cell)")
