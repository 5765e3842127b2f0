"""Options shared by several subcommands, defined once."""

import click


def split_names(values) -> list[str] | None:
    """``--chromosomes chr1,chr2 --chromosomes chr3`` -> ``['chr1', 'chr2', 'chr3']`` (None when not given)."""
    names = [n for v in values or () for n in v.split(",") if n]
    return names or None


chromosomes = click.option(
    "--chromosomes", multiple=True, metavar="NAMES",
    help="Chromosomes to use, comma-separated or repeated (default: the model's / all autosomes and X).")
device = click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
    help="Where the model runs; auto takes a GPU when there is one.")
threads = click.option(
    "--threads", type=click.IntRange(min=1), default=None,
    help="CPU threads for torch (default: torch's choice); match the cores you were given.")


class FiniteFloat(click.FloatRange):
    """A float range that also refuses nan and inf (click's FloatRange lets nan through every bound)."""

    name = "finite float"

    def convert(self, value, param, ctx):
        rv = click.FLOAT.convert(value, param, ctx)
        if rv != rv or rv in (float("inf"), float("-inf")):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(rv, param, ctx)
