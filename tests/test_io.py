"""Reading coolers of cells (hicdiff.io.open_cells) and the atomic .scool writer, on the real files."""

import os

import cooler
import h5py
import numpy as np
import pandas as pd
import pytest

from hicdiff.errors import HicdiffError
from hicdiff.io import (
    ScoolWriter, cell_name_from_path, make_bins, normalize_pixels, open_cells, read_cell_metadata, write_scool,
)


@pytest.fixture(scope="module")
def nagano(data_dir):
    return data_dir / "nagano2017_mesc_scool" / "test_matrix.scool"


@pytest.fixture(scope="module")
def nagano_mcool(nagano, tmp_path_factory):
    """One real Nagano cell as a .mcool at 1 Mb and 2 Mb."""
    cs = open_cells(nagano)
    name = cs.names[0]
    folder = tmp_path_factory.mktemp("mcool")
    cool = str(folder / "cell.cool")
    cooler.create_cooler(cool, cs.bins, cs.pixels(name), ordered=True)
    out = str(folder / "cell.mcool")
    cooler.zoomify_cooler(cool, out, [1_000_000, 2_000_000], chunksize=1_000_000)
    return out, cs.pixels(name)


def test_nagano_scool_reads(nagano):
    cs = open_cells(nagano)
    assert len(cs) == 20
    assert cs.resolution == 1_000_000
    assert len(cs.chromnames) == 35 and "chr1" in cs.chromnames and "chr13_random" in cs.chromnames
    totals = cs.contacts_per_cell()
    # README: median 107 k contacts per cell, 2.3 k to 486 k
    assert 100_000 < totals.median() < 115_000
    assert 2_000 < totals.min() < 2_500 and 480_000 < totals.max() < 490_000
    px = cs.pixels(cs.names[3])
    assert (px["bin1_id"] <= px["bin2_id"]).all()
    assert px.set_index(["bin1_id", "bin2_id"]).index.is_monotonic_increasing


def test_subset_keeps_order_and_rejects_unknown(nagano):
    cs = open_cells(nagano)
    picked = [cs.names[5], cs.names[1]]
    sub = cs.subset(picked)
    assert sub.names == picked
    assert open_cells(nagano, cells=picked).names == picked
    with pytest.raises(HicdiffError, match=r"1 cell name\(s\) not found: nope"):
        cs.subset([cs.names[0], "nope"])


def test_single_cell_uri(nagano):
    cs = open_cells(nagano)
    name = cs.names[2]
    one = open_cells(f"{nagano}::/cells/{name}")
    assert one.names == [name]
    pd.testing.assert_frame_equal(one.pixels(name), cs.pixels(name))
    chrom = "chr2"
    local = one.cis_pixels(name, chrom)
    assert local["bin2_id"].max() < one.n_bins(chrom)


def test_cis_pixels_are_the_chromosome_block(nagano):
    cs = open_cells(nagano)
    name = cs.names[0]
    lo, hi = cs.chrom_bins["chr3"]
    px = cs.pixels(name)
    block = px[(px.bin1_id >= lo) & (px.bin1_id < hi) & (px.bin2_id < hi)]
    local = cs.cis_pixels(name, "chr3")
    assert local["count"].sum() == block["count"].sum() > 0
    assert (local["bin1_id"].to_numpy() == block["bin1_id"].to_numpy() - lo).all()


def test_chromosomes_without_chr_prefix(data_dir):
    cs = open_cells(data_dir / "gse100569_mouse_scool" / "scool_test_file.scool")
    assert len(cs) == 5 and cs.resolution == 100_000
    assert cs.chromnames[0] == "1" and "X" in cs.chromnames
    totals = cs.contacts_per_cell()
    assert totals.min() > 170_000 and totals.max() < 400_000


def test_mcool_needs_a_resolution(nagano_mcool):
    path, pixels = nagano_mcool
    with pytest.raises(HicdiffError, match=r"multi-resolution cooler; name a resolution as .*resolutions/N "
                                           r"\(available: 1000000, 2000000\)"):
        open_cells(path)
    with pytest.raises(HicdiffError, match=r"cell.mcool: has no group resolutions/5000000 "
                                           r"\(available resolutions: 1000000, 2000000\)"):
        open_cells(f"{path}::resolutions/5000000")
    cs = open_cells(f"{path}::resolutions/1000000")
    assert cs.names == ["cell"]
    assert cs.pixels("cell")["count"].sum() == pixels["count"].sum()
    assert open_cells(f"{path}::resolutions/2000000").resolution == 2_000_000


def test_not_a_cooler(data_dir, tmp_path):
    with pytest.raises(HicdiffError, match="cells.tsv: not a cooler file"):
        open_cells(data_dir / "lee2019_pfc" / "cells.tsv")
    with pytest.raises(HicdiffError, match="no such file"):
        open_cells(tmp_path / "missing.scool")
    h5 = tmp_path / "empty.h5"
    with h5py.File(h5, "w") as f:
        f.create_group("something")
    with pytest.raises(HicdiffError, match="not a cooler file \\(HDF5 without"):
        open_cells(h5)


def test_normalize_pixels_sums_duplicates_and_flips():
    px = normalize_pixels([5, 2, 2, 7, 3], [2, 5, 5, 1, 3], [1, 2, 4, 1, 0])
    assert px.to_dict("list") == {"bin1_id": [1, 2], "bin2_id": [7, 5], "count": [1, 7]}


def test_cell_names_and_metadata(data_dir):
    assert cell_name_from_path("/x/181218_21yr_2_A4_AD010_Sst.txt.gz") == "181218_21yr_2_A4_AD010_Sst"
    assert cell_name_from_path("A1_A4.pairs.gz") == "A1_A4"
    meta = read_cell_metadata(data_dir / "lee2019_pfc" / "cells.tsv")
    assert len(meta) == 300
    assert meta.loc["181218_21yr_2_B11_AD001_Astro", "cell_type"] == "Astro"
    assert meta["cell_type"].value_counts().to_dict() == {"Astro": 75, "MG": 75, "ODC": 75, "Sst": 75}


# -- the writer ---------------------------------------------------------------------------------------------

def _two_cells(nagano):
    cs = open_cells(nagano)
    return cs, [(n, cs.pixels(n)) for n in cs.names[:2]]


def test_writer_float_counts_round_trip(nagano, tmp_path):
    cs, cells = _two_cells(nagano)
    out = tmp_path / "imputed.scool"
    scaled = [(n, px.assign(count=px["count"] * 0.25 + 0.125)) for n, px in cells]
    write_scool(out, cs.bins, scaled, metadata={"scale": "test"}, float_counts=True)
    back = open_cells(out)
    assert back.names == [n for n, _ in cells]
    for n, px in scaled:
        got = back.pixels(n)
        assert got["count"].dtype == np.float64
        np.testing.assert_allclose(got["count"].to_numpy(), px["count"].to_numpy())
    assert not os.path.exists(str(out) + ".partial")


def test_writer_stores_cell_metadata_and_integer_counts(nagano, tmp_path):
    cs, cells = _two_cells(nagano)
    out = tmp_path / "raw.scool"
    with ScoolWriter(out, cs.bins) as w:
        for n, px in cells:
            w.add(n, px, {"cell_type": "mESC", "depth": np.int64(7)})
    back = open_cells(out)
    assert back.pixels(cells[0][0])["count"].dtype.kind == "i"
    assert back.cell_metadata(cells[1][0]) == {"cell_type": "mESC", "depth": 7}


def test_writer_output_sorted_from_unsorted_pixels(nagano, tmp_path):
    cs = open_cells(nagano)
    px = cs.pixels(cs.names[0])
    shuffled = px.sample(frac=1.0, random_state=0)
    # flip half to the lower triangle, split counts into duplicates: normalize_pixels must undo all of it
    lower = shuffled.index % 2 == 0
    b1 = np.where(lower, shuffled["bin2_id"], shuffled["bin1_id"])
    b2 = np.where(lower, shuffled["bin1_id"], shuffled["bin2_id"])
    dup_b1 = np.concatenate([b1, b1])
    dup_b2 = np.concatenate([b2, b2])
    counts = np.concatenate([shuffled["count"].to_numpy(), shuffled["count"].to_numpy()])
    out = tmp_path / "sorted.scool"
    write_scool(out, cs.bins, [("c", normalize_pixels(dup_b1, dup_b2, counts))])
    got = open_cells(out).pixels("c")
    assert got[["bin1_id", "bin2_id"]].to_numpy().tolist() == px[["bin1_id", "bin2_id"]].to_numpy().tolist()
    assert (got["count"].to_numpy() == 2 * px["count"].to_numpy()).all()


def test_writer_is_atomic_on_failure(nagano, tmp_path):
    cs, cells = _two_cells(nagano)
    out = tmp_path / "partial.scool"

    def cells_then_crash():
        yield cells[0]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_scool(out, cs.bins, cells_then_crash())
    assert not out.exists()
    assert not (tmp_path / "partial.scool.partial").exists()


def test_writer_never_overwrites_an_input(nagano, tmp_path):
    cs, cells = _two_cells(nagano)
    out = tmp_path / "in.scool"
    write_scool(out, cs.bins, cells)
    before = out.read_bytes()
    with pytest.raises(HicdiffError, match="in.scool: output path is also an input; refusing to overwrite it"):
        write_scool(out, cs.bins, cells, inputs=[f"{out}::/cells/{cells[0][0]}"])
    assert out.read_bytes() == before
    assert not (tmp_path / "in.scool.partial").exists()


def test_writer_refuses_missing_folder_and_no_cells(nagano, tmp_path):
    bins = make_bins(pd.Series({"chr1": 3_000_000}), 1_000_000)
    with pytest.raises(HicdiffError, match="output folder .* does not exist"):
        ScoolWriter(tmp_path / "nope" / "x.scool", bins)
    with pytest.raises(HicdiffError, match="no cells to write"):
        write_scool(tmp_path / "none.scool", bins, [])
    assert not (tmp_path / "none.scool").exists()
