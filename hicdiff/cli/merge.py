"""``hicdiff merge``: join .scool files of the same bins (imputation shards) into one."""

import json

import click


@click.command("merge")
@click.argument("inputs", nargs=-1, required=True, metavar="CELLS.scool...")
@click.option("-o", "--output", required=True, type=click.Path(), help="Merged .scool.")
def command(inputs, output):
    """Merge the cells of several .scool files that share one bin table into one .scool.

    Use it to join the shards of an imputation run on parts of the cells (hicdiff impute --cells). Cells keep
    their pixels, count type and metadata, in the order of the inputs; a cell name may occur only once, and
    files whose metadata give their values different meanings (another model, scale or options) are refused.
    """
    from hicdiff.merge import merge_scools

    click.echo(json.dumps(merge_scools(list(inputs), output)))
