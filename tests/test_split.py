"""``hicdiff split``: binomial thinning into input and held-out parts."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hicdiff.cli import cli
from hicdiff.errors import HicdiffError
from hicdiff.io import open_cells
from hicdiff.split import split_cells, thin_pixels


@pytest.fixture(scope="module")
def nagano(data_dir):
    return data_dir / "nagano2017_mesc_scool" / "test_matrix.scool"


def _merged(cells, name):
    px = cells.pixels(name).astype("int64")
    return px.set_index(["bin1_id", "bin2_id"])["count"]


def test_parts_add_up_and_diagonal_stays(nagano, tmp_path):
    src = open_cells(nagano)
    names = src.names[:3]
    table = split_cells(src, tmp_path / "in.scool", tmp_path / "out.scool", 0.2, seed=0, names=names)
    inp, held = open_cells(tmp_path / "in.scool"), open_cells(tmp_path / "out.scool")
    assert inp.names == names and held.names == names
    for n in names:
        orig = _merged(src, n)
        total = _merged(inp, n).add(_merged(held, n), fill_value=0)
        pd.testing.assert_series_equal(total.sort_index(), orig.sort_index(), check_dtype=False, check_names=False)
        h = held.pixels(n)
        assert (h["bin1_id"] != h["bin2_id"]).all()
        assert inp.pixels(n)["count"].dtype.kind == "i"
    frac = table["heldout"].sum() / (table["heldout"] / table["heldout_offdiag_fraction"]).sum()
    assert 0.19 < frac < 0.21


def test_split_depends_on_seed_and_name_only():
    px = pd.DataFrame({"bin1_id": [0, 0, 1, 2], "bin2_id": [0, 1, 3, 2], "count": [50, 40, 1000, 7]})
    from hicdiff.split import cell_rng

    a = thin_pixels(px, 0.2, cell_rng(0, "cellA"))[1]
    b = thin_pixels(px, 0.2, cell_rng(0, "cellA"))[1]
    c = thin_pixels(px, 0.2, cell_rng(1, "cellA"))[1]
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    # the main diagonal (bin 0 and bin 2) is never held out
    assert set(zip(a["bin1_id"], a["bin2_id"])) <= {(0, 1), (1, 3)}


def test_float_counts_are_refused():
    px = pd.DataFrame({"bin1_id": [0], "bin2_id": [1], "count": [1.5]})
    with pytest.raises(HicdiffError, match="not integers"):
        thin_pixels(px, 0.2, np.random.default_rng(0))


def test_cli_keeps_labels(lee_scool, tmp_path):
    out = CliRunner().invoke(cli, ["split", str(lee_scool), "--heldout-fraction", "0.25", "--seed", "3",
                                   "-o", str(tmp_path / "i.scool"), str(tmp_path / "h.scool")])
    assert out.exit_code == 0, out.output
    held = open_cells(tmp_path / "h.scool")
    assert held.metadata()["cell_type"].nunique() == 4
    assert len(held) == 12


@pytest.mark.parametrize("args, message", [
    (["--heldout-fraction", "1.5"], "1.5 is not in the range 0<x<1"),
    (["--heldout-fraction", "0.2", "--cells", "nope"], "not found"),
])
def test_cli_errors(nagano, tmp_path, args, message):
    out = CliRunner().invoke(cli, ["split", str(nagano), *args, "-o", str(tmp_path / "i.scool"),
                                   str(tmp_path / "h.scool")])
    assert out.exit_code == 2
    assert message in out.output
    assert not list(tmp_path.iterdir())


def test_same_output_twice_is_refused(nagano, tmp_path):
    with pytest.raises(HicdiffError, match="same file"):
        split_cells(nagano, tmp_path / "x.scool", tmp_path / "x.scool")


@pytest.fixture(scope="module")
def dipc_40kb(data_dir, tmp_path_factory):
    """The Dip-C cell (duplicated contacts) at 40 kb, chr21-chr22."""
    from hicdiff.importers import import_cells

    out = tmp_path_factory.mktemp("dipc") / "dipc40k.scool"
    import_cells([data_dir / "dipc_gm12878_cell11" / "gm12878_11.clean.con.txt.gz"], out, 40_000,
                 data_dir / "chromsizes" / "hg19.chrom.sizes", chromosomes=["chr21", "chr22"])
    return out


def test_fine_scale_split_never_puts_one_fine_pixel_on_both_sides(dipc_40kb, tmp_path):
    split_cells(dipc_40kb, tmp_path / "in.scool", tmp_path / "out.scool", 0.2, seed=1, heldout_unit=40_000)
    src, inp, held = (open_cells(p) for p in (dipc_40kb, tmp_path / "in.scool", tmp_path / "out.scool"))
    name = src.names[0]
    a, b = _merged(inp, name), _merged(held, name)
    assert len(b) > 100 and not set(a.index) & set(b.index)      # no fine pixel on both sides
    total = a.add(b, fill_value=0).sort_index()
    pd.testing.assert_series_equal(total, _merged(src, name).sort_index(), check_dtype=False, check_names=False)
    # Dip-C's duplicates: a contact-level split would put both copies of many pixels' contacts on both sides
    thin_in, thin_out = thin_pixels(src.pixels(name), 0.2, np.random.default_rng(0))
    both = set(map(tuple, thin_in[["bin1_id", "bin2_id"]].to_numpy())) & set(
        map(tuple, thin_out[["bin1_id", "bin2_id"]].to_numpy()))
    assert len(both) > 0


def test_fine_scale_split_written_at_a_coarser_resolution(dipc_40kb, tmp_path):
    r = CliRunner().invoke(cli, ["split", str(dipc_40kb), "--heldout-unit", "40000", "--resolution", "200000",
                                 "-o", str(tmp_path / "in.scool"), str(tmp_path / "out.scool")])
    assert r.exit_code == 0, r.output
    inp, held, src = open_cells(tmp_path / "in.scool"), open_cells(tmp_path / "out.scool"), open_cells(dipc_40kb)
    assert inp.resolution == held.resolution == 200_000
    name = src.names[0]
    assert inp.pixels(name)["count"].sum() + held.pixels(name)["count"].sum() == src.pixels(name)["count"].sum()
    h = held.pixels(name)
    assert (h["bin1_id"] != h["bin2_id"]).all()                     # the 200 kb diagonal stays in the input
    bad = CliRunner().invoke(cli, ["split", str(dipc_40kb), "--heldout-unit", "50000",
                                   "-o", str(tmp_path / "a.scool"), str(tmp_path / "b.scool")])
    assert bad.exit_code != 0 and "multiple of the cells' resolution" in bad.output
