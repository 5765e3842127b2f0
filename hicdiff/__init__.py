"""hicdiff: single-cell Hi-C imputation with a masked discrete diffusion transformer.

The public API is re-exported here. Heavy modules (torch models, Lightning training) are imported
lazily so that ``import hicdiff`` stays fast and imputation never imports Lightning.
"""

from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "CellSet": "hicdiff.io",
    "open_cells": "hicdiff.io",
    "write_scool": "hicdiff.io",
    "read_cell_metadata": "hicdiff.io",
    "HicdiffError": "hicdiff.errors",
    "import_cells": "hicdiff.importers",
    "describe_cells": "hicdiff.importers",
    "merge_scools": "hicdiff.merge",
    "split_cells": "hicdiff.split",
    "run_baseline": "hicdiff.baselines",
    "run_evaluation": "hicdiff.evaluate",
    "load_config": "hicdiff.config",
    "train": "hicdiff.training",
    "Tokenizer": "hicdiff.tokens",
    "Imputer": "hicdiff.impute",
    "impute_scool": "hicdiff.impute",
    "embed_cells": "hicdiff.embed",
    "pool_cells": "hicdiff.pool",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hicdiff' has no attribute {name!r}")
