"""``hicdiff pool``: pseudo-bulk per group of cells, one balanced multi-resolution .mcool each (HiGlass)."""

import click

#: -o names a folder of <group>.mcool files
OUTPUTS = {"output": "folder"}


def _resolutions(ctx, param, value):
    if value is None:
        return None
    try:
        return [int(v) for v in value.split(",") if v]
    except ValueError:
        raise click.BadParameter("comma-separated resolutions in bp, e.g. 1000000,2000000,4000000") from None


@click.command("pool")
@click.argument("inputs", nargs=-1, required=True, metavar="CELLS.scool|CELL.cool...")
@click.option("--by", required=True, metavar="LABEL_COLUMN|GROUPS.tsv",
              help="A stored metadata column (e.g. cell_type) or a TSV of cell -> group "
                   "(e.g. hicdiff embed --clusters-tsv).")
@click.option("--column", default=None, help="The group column of a --by TSV (default: its second column).")
@click.option("--resolutions", callback=_resolutions, default=None, metavar="BP,BP,...",
              help="Resolutions to write (default: the cells' and its doublings up to one HiGlass tile for "
                   "the whole genome).")
@click.option("-o", "--output", required=True, type=click.Path(), metavar="FOLDER",
              help="Folder to write: <group>.mcool per group and groups.tsv.")
def command(inputs, by, column, resolutions, output):
    """Sum the cells of each group (raw or imputed) into OUTPUT/<group>.mcool for HiGlass.

    cooler's merge, zoomify and balance: every resolution at resolutions/N, balancing weights in the
    'weight' column. See docs/embedding.md.
    """
    from hicdiff.pool import pool_cells

    table = pool_cells(list(inputs) if len(inputs) > 1 else inputs[0], by, output, column=column,
                       resolutions=resolutions)
    click.echo(table.to_string(index=False))
