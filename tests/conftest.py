"""Shared fixtures: tiny slices of the real data in ../shared/data."""

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"real test data not found at {DATA} (the project expects ../shared/data beside it)")
    return DATA


@pytest.fixture(scope="session", autouse=True)
def _few_threads():
    import torch

    torch.set_num_threads(1)


LEE_CHROMOSOMES = ["chr19", "chr20", "chr21", "chr22"]


@pytest.fixture(scope="session")
def lee_scool(data_dir, tmp_path_factory) -> Path:
    """A 1 Mb ``.scool`` of 12 lee2019_pfc cells (the first 3 of each type in cells.tsv), chr19-chr22, labelled."""
    import pandas as pd

    from hicdiff.importers import import_cells

    lee = data_dir / "lee2019_pfc"
    table = pd.read_csv(lee / "cells.tsv", sep="\t")
    names = table.groupby("cell_type", sort=True).head(3)["name"]
    files = [lee / "cells" / f"{n}.gz" for n in names]
    out = tmp_path_factory.mktemp("lee") / "lee12.scool"
    import_cells(files, out, 1_000_000, lee / "hg19.chrom.sizes", labels=lee / "cells.tsv",
                 chromosomes=LEE_CHROMOSOMES)
    return out
