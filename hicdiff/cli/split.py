"""``hicdiff split``: binomial thinning of each cell into an input and a held-out part."""

import click

from hicdiff.cli._options import FiniteFloat


@click.command("split")
@click.argument("cells")
@click.option("--heldout-fraction", type=FiniteFloat(0, 1, min_open=True, max_open=True), default=0.2,
              show_default=True,
              help="Probability that each off-diagonal contact goes to the held-out part.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed; with the cell name it fixes each cell's split.")
@click.option("-o", "--output", nargs=2, required=True, metavar="INPUT.scool HELDOUT.scool",
              help="The two output .scool files: the input part (with the main diagonal) and the held-out part.")
@click.option("--cells", "cell_names", default=None,
              help="Only these cells: comma-separated names or a file with one name per line.")
@click.option("--heldout-unit", type=click.IntRange(min=1), metavar="BP",
              help="Hold out whole pixels of BP (a multiple of the cells' resolution) instead of single contacts: "
                   "every contact of a held-out fine pixel is held out (for protocols with duplicated contacts, "
                   "e.g. Dip-C).")
@click.option("--resolution", type=click.IntRange(min=1), metavar="BP",
              help="Write both parts at this resolution (a multiple of the cells' and of --heldout-unit).")
def command(cells, heldout_fraction, seed, output, cell_names, heldout_unit, resolution):
    """Split the raw cells of CELLS (.scool) into an input part and a held-out part.

    Every off-diagonal pixel count n is split as Binomial(n, heldout fraction) into the held-out part and
    the rest into the input part; the main diagonal stays in the input. Impute from the input, then score
    the held-out part with `hicdiff evaluate --heldout`.

    With --heldout-unit, whole fine pixels are held out instead (load the cells at that resolution, e.g.
    `--heldout-unit 40000 --resolution 200000` on cells loaded at 40 kb).
    """
    from hicdiff.io import read_cell_names
    from hicdiff.split import split_cells

    table = split_cells(cells, output[0], output[1], heldout_fraction=heldout_fraction, seed=seed,
                        names=read_cell_names(cell_names), heldout_unit=heldout_unit, resolution=resolution)
    click.echo(f"{len(table)} cells: {table['input'].sum():.0f} contacts in {output[0]}, "
               f"{table['heldout'].sum():.0f} held out in {output[1]}")
