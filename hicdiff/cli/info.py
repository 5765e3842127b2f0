"""``hicdiff info``: what a .scool (or .cool, .mcool::resolutions/N) holds."""

import json

import click


@click.command("info")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def command(path, as_json):
    """Cells, resolution, chromosomes, contacts per cell and label columns of PATH.

    PATH is a .scool, a .cool, FILE.mcool::resolutions/N or FILE.scool::/cells/NAME.
    """
    from hicdiff.importers import describe_cells

    d = describe_cells(path)
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    chroms = d["chromosomes"]
    shown = ", ".join(list(chroms)[:25]) + (f" ... ({len(chroms)} in all)" if len(chroms) > 25 else "")
    c = d["contacts"]
    click.echo(f"file:        {d['path']}")
    click.echo(f"cells:       {d['cells']}")
    click.echo(f"resolution:  {d['resolution']} bp")
    click.echo(f"chromosomes: {len(chroms)} ({d['bins']} bins): {shown}")
    click.echo(f"contacts per cell: median {c['median']:.0f}, min {c['min']:.0f}, max {c['max']:.0f}")
    if not d["labels"]:
        click.echo("labels:      none")
    for col, summary in d["labels"].items():
        if isinstance(summary, dict) and set(summary) == {"min", "median", "max"}:
            text = f"min {summary['min']:.10g}, median {summary['median']:.10g}, max {summary['max']:.10g}"
        elif isinstance(summary, dict):
            text = ", ".join(f"{k} ({v})" for k, v in summary.items())
        else:
            text = summary
        click.echo(f"label {col}: {text}")
