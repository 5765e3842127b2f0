"""``hicdiff compartments``: per-cell compartment eigenvector E1 (cooltools.eigs_cis)."""

import click

from hicdiff.cli import _options


@click.command("compartments")
@click.argument("cells")
@click.option("-o", "--output", required=True, help="Output TSV: cell, chrom, start, end, E1.")
@click.option("--phasing", default=None, metavar="TRACK|REFERENCE.cool",
              help="Orient E1 so that A is positive: a per-bin track (TSV chrom start end value, e.g. GC content "
                   "or gene density, any resolution) or a bulk .cool/.mcool whose own E1 serves as the track. "
                   "Without it the sign of each chromosome's E1 is arbitrary.")
@click.option("--reference-phasing", default=None, metavar="TRACK",
              help="With --phasing REFERENCE.cool: a track orienting the bulk's E1 (default: its coverage).")
@_options.chromosomes
@click.option("--cells", "cell_names", default=None,
              help="Only these cells: comma-separated names or a file with one name per line.")
def command(cells, output, phasing, reference_phasing, chromosomes, cell_names):
    """Compartment eigenvector E1 of every cell of CELLS (.scool with a weight column, as hicdiff writes)."""
    from hicdiff.compartments import compartments
    from hicdiff.io import read_cell_names

    table = compartments(cells, phasing=phasing, names=read_cell_names(cell_names),
                         chroms=_options.split_names(chromosomes), reference_phasing=reference_phasing)
    table.to_csv(output, sep="\t", index=False, float_format="%.6g")
    click.echo(f"E1 of {table['cell'].nunique()} cells on {table['chrom'].nunique()} chromosomes -> {output} "
               f"(phasing: {table.attrs['phasing']})")
