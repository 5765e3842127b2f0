"""The ``hicdiff`` command line: one click group, one small module per subcommand.

Subcommands are imported only when invoked, so ``hicdiff info`` does not pay for torch or Lightning.
"""

import logging
import os
import sys
from importlib import import_module

import click

from hicdiff import __version__
from hicdiff.errors import HicdiffError
from hicdiff.safety import DiskFullError, guard_command

# subcommand name -> module under hicdiff.cli holding a click command called ``command``
COMMANDS = {
    "load": "load",
    "info": "info",
    "split": "split",
    "train": "train",
    "impute": "impute",
    "baseline": "baseline",
    "evaluate": "evaluate",
    "merge": "merge",
    "compartments": "compartments",
    "insulation": "insulation",
    "embed": "embed",
    "pool": "pool",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        try:
            module = import_module(f"hicdiff.cli.{COMMANDS[name]}")
        except ModuleNotFoundError as e:
            if e.name == f"hicdiff.cli.{COMMANDS[name]}":
                return None
            raise
        command = module.command
        if not getattr(command, "_guarded", False):
            # every command's inputs and outputs are checked (and outputs locked) before it starts
            command.callback = guard_command(command.callback, getattr(module, "OUTPUTS", None))
            command._guarded = True
        return command

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DiskFullError as e:
            click.echo(f"hicdiff: error: {e}", err=True)
            sys.stderr.flush()
            # HDF5 crashes when it closes files a failed write left open, so leave without cleaning up
            os._exit(2)
        except HicdiffError as e:
            click.echo(f"hicdiff: error: {e}", err=True)
            sys.exit(2)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hicdiff")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or progress lines; warnings and errors only.")
def cli(verbose, quiet):
    """Impute single-cell Hi-C contact maps with a masked discrete diffusion transformer."""
    from hicdiff.progress import set_quiet

    set_quiet(quiet)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    # cooler logs every step of every cell it writes at INFO
    logging.getLogger("cooler").setLevel(logging.WARNING)
