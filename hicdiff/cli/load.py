"""``hicdiff load``: import contact files into one ``.scool`` of raw cells."""

import click

FORMAT_CHOICES = ["auto", "contacts", "pairs", "gageseq", "dipc"]


@click.command("load")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("-f", "--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="auto", show_default=True,
              help="Input format; auto decides per file from its first lines.")
@click.option("-r", "--resolution", type=click.IntRange(min=1), required=True, help="Bin size in bp.")
@click.option("-c", "--chromsizes", type=click.Path(), required=True,
              help="Chromosome sizes file (name<TAB>length); its chromosomes make the bin table.")
@click.option("--labels", type=click.Path(), default=None,
              help="TSV of per-cell labels (first column or column 'cell'/'name' names cells); "
                   "every column is stored with its cell.")
@click.option("--chrom-map", type=click.Path(), default=None,
              help="Two-column TSV: chromosome name in the inputs -> name in the sizes file ('-' drops it).")
@click.option("--chromosomes", default=None,
              help="Only these chromosomes of the sizes file, comma-separated (e.g. chr19,chr20).")
@click.option("--trans", is_flag=True, help="Keep inter-chromosomal contacts (default: cis only).")
@click.option("--strict", is_flag=True,
              help="Fail on empty cells, chromosome names not in the sizes file and cells without labels "
                   "(default: report and skip).")
@click.option("-o", "--output", type=click.Path(), required=True, help="The .scool to write.")
def command(inputs, fmt, resolution, chromsizes, labels, chrom_map, chromosomes, trans, strict, output):
    """Import contact files INPUTS (files or folders of them) into one .scool of raw cells.

    Formats: contacts ('chrA posA chrB posB count' text, one file or cell folder per cell), pairs (4DN
    .pairs with a '#columns:' line), gageseq ('chrom pos1 chrom pos2 barcode', cells named after their
    barcodes) and dipc (Dip-C .con). Chromosome names are matched to the sizes file as-is, with 'chr' added
    or removed, or without an assembly prefix such as 'mm10_'; see docs/io.md.
    """
    from hicdiff.importers import import_cells

    summary = import_cells(
        inputs, output, resolution, chromsizes, fmt=fmt, labels=labels, chrom_map=chrom_map, trans=trans,
        strict=strict, chromosomes=chromosomes.split(",") if chromosomes else None,
    )
    click.echo(f"{summary.cells} cells, {summary.contacts:.0f} contacts -> {summary.output}")
