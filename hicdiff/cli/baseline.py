"""``hicdiff baseline``: a baseline imputation written like ``hicdiff impute`` output."""

import click

from hicdiff.cli._options import FiniteFloat


@click.command("baseline")
@click.argument("cells")
@click.option("-m", "--method", required=True, type=click.Choice(["raw", "decay", "rwr", "pool", "pool-by-label"]),
              help="raw: the observed counts; decay: the cell's mean per diagonal; rwr: scHiCluster-style random "
                   "walk with restart; pool: all cells pooled; pool-by-label: the cells of the same label pooled.")
@click.option("-o", "--output", required=True, help="Output .scool of float counts (expected contacts at each "
                                                    "cell's own depth).")
@click.option("--max-distance", type=click.IntRange(min=1), default=10_000_000, show_default=True,
              help="Write every pixel up to this distance in bp (the main diagonal is copied from the input).")
@click.option("--labels", "labels_path", type=click.Path(), default=None,
              help="pool-by-label: TSV of cell labels (default: the labels stored in CELLS).")
@click.option("--label-column", default="cell_type", show_default=True, help="pool-by-label: the label column.")
@click.option("--rwr-sigma", type=FiniteFloat(min=0), default=1.0, show_default=True,
              help="rwr: Gaussian filter sigma in bins.")
@click.option("--rwr-restart", type=FiniteFloat(0, 1, min_open=True, max_open=True), default=0.5,
              show_default=True, help="rwr: restart probability.")
@click.option("--rwr-tol", type=FiniteFloat(min=0, min_open=True), default=0.01, show_default=True,
              help="rwr: stop when the walk matrix changes by less than this (Frobenius norm).")
@click.option("--rwr-walk-distance", type=click.IntRange(min=1), default=None,
              help="rwr: let the walk move only between bins at most this many bp apart (default: the whole "
                   "chromosome; long chromosomes at fine resolution use 3 x --max-distance).")
@click.option("--cells", "cell_names", default=None,
              help="Only these cells: comma-separated names or a file with one name per line.")
def command(cells, method, output, max_distance, labels_path, label_column, rwr_sigma, rwr_restart, rwr_tol,
            rwr_walk_distance, cell_names):
    """Impute the cells of CELLS (.scool, usually the input part of `hicdiff split`) with a baseline."""
    from hicdiff.baselines import RWRParams, run_baseline
    from hicdiff.io import read_cell_names

    rwr = RWRParams(sigma=rwr_sigma, restart=rwr_restart, tol=rwr_tol, walk_distance=rwr_walk_distance)
    table = run_baseline(cells, output, method, max_distance=max_distance, labels=labels_path,
                         label_column=label_column, rwr=rwr, names=read_cell_names(cell_names))
    click.echo(f"{method}: {len(table)} cells -> {output} ({table['seconds'].mean():.4f} s per cell)")
