"""``hicdiff insulation`` on real cells at 100 kb (cooltools.insulation on hicdiff's output)."""

import cooler
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hicdiff.baselines import run_baseline
from hicdiff.cli import cli
from hicdiff.errors import HicdiffError
from hicdiff.insulation import COLUMNS, insulation
from hicdiff.io import ScoolWriter, open_cells

CHROMS = ["18", "19"]
WINDOW = 500_000


@pytest.fixture(scope="module")
def mouse(data_dir):
    return data_dir / "gse100569_mouse_scool" / "scool_test_file.scool"


@pytest.fixture(scope="module")
def raw(mouse, tmp_path_factory):
    """The 5 cells at 100 kb, chromosomes 18 and 19 only, rewritten by hicdiff (so with weights)."""
    cells = open_cells(mouse)
    keep = cells.bins["chrom"].isin(CHROMS).to_numpy()
    new = np.cumsum(keep) - 1
    out = tmp_path_factory.mktemp("ins") / "raw.scool"
    with ScoolWriter(out, cells.bins[keep].reset_index(drop=True)) as w:
        for name, uri in cells.uris.items():
            px = cooler.Cooler(uri).pixels()[:]
            px = px[keep[px["bin1_id"]] & keep[px["bin2_id"]]]
            w.add(name, px.assign(bin1_id=new[px["bin1_id"]], bin2_id=new[px["bin2_id"]]))
    return out


@pytest.fixture(scope="module")
def imputed(raw):
    """The cells imputed by RWR within 2 Mb: dense maps as hicdiff writes them."""
    out = raw.parent / "rwr.scool"
    run_baseline(raw, out, "rwr", max_distance=2_000_000)
    return out


def test_insulation_of_written_cells(imputed):
    table = insulation(imputed, WINDOW)
    assert list(table.columns) == ["cell", "chrom", "start", "end", *COLUMNS] and table.attrs["window"] == WINDOW
    assert table["cell"].nunique() == 5 and set(table["chrom"]) == set(CHROMS)
    per_cell = table.groupby("cell")
    assert (per_cell["log2_insulation_score"].apply(lambda s: s.notna().mean()) > 0.85).all()
    assert per_cell["is_boundary"].sum().between(30, 400).all()  # 152 Mb: measured 89-133
    # boundaries are shared between cells more than by chance (within one bin)
    a, b = (np.flatnonzero(g["is_boundary"]) for _, g in list(per_cell)[:2])
    near = np.mean([np.abs(b - x).min() <= 1 for x in a])
    assert near > 3 * len(b) / (len(table) / 5)  # measured 0.35 against 0.26 by chance


def test_raw_cells_balanced_or_not(raw):
    """Raw cells at 100 kb are too sparse for the balancing (most bins masked); raw counts still score."""
    balanced = insulation(raw, WINDOW, chroms=["19"])
    unbalanced = insulation(raw, WINDOW, chroms=["19"], balance=False)
    valid = [t["log2_insulation_score"].notna().mean() for t in (balanced, unbalanced)]
    assert valid[0] < 0.1 < valid[1]  # measured 0.22 of the bins for raw counts


def test_insulation_cli_and_refusals(imputed, tmp_path, data_dir):
    out = tmp_path / "ins.tsv"
    res = CliRunner().invoke(cli, ["insulation", str(imputed), "--window", str(WINDOW), "-o", str(out),
                                   "--chromosomes", "19", "--threshold", "0.1"])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(out, sep="\t")["is_boundary"].sum() > 0
    with pytest.raises(HicdiffError, match="multiple of the resolution"):
        insulation(imputed, 250_000, chroms=["19"])
    with pytest.raises(HicdiffError, match="200,000 bp bins or finer"):
        insulation(data_dir / "nagano2017_mesc_scool" / "test_matrix.scool", 3_000_000)
