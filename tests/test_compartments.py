"""Balancing weights in every written cell, cooltools on hicdiff's output, and ``hicdiff compartments``."""

import json

import cooler
import cooltools
import h5py
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hicdiff.balance import balance_weights
from hicdiff.cli import cli
from hicdiff.compartments import compartments, read_track, reference_e1, track_on_bins
from hicdiff.errors import HicdiffError
from hicdiff.io import ScoolWriter, open_cells

CHROMS = ["chr11", "chr19"]


@pytest.fixture(scope="module")
def nagano(data_dir):
    return data_dir / "nagano2017_mesc_scool" / "test_matrix.scool"


@pytest.fixture(scope="module")
def bulk(data_dir):
    return data_dir / "bulk_cortical_neurons_mm9" / "CN.mm9.1000kb.cool"


@pytest.fixture(scope="module")
def deep(nagano):
    """The 4 deepest Nagano cells."""
    cells = open_cells(nagano)
    return list(cells.contacts_per_cell().sort_values().index[-4:])


@pytest.fixture(scope="module")
def written(nagano, deep, tmp_path_factory):
    """The deep cells rewritten by hicdiff (float counts, as imputation writes them), plus their pool."""
    cells = open_cells(nagano)
    path = tmp_path_factory.mktemp("written") / "imputed.scool"
    pool = None
    with ScoolWriter(path, cells.bins, {"scale": "test"}, float_counts=True) as w:
        for name in deep:
            px = cooler.Cooler(cells.uris[name]).pixels()[:]
            w.add(name, px.assign(count=px["count"].astype(float)))
            pool = px if pool is None else pd.concat([pool, px])
        pool = pool.groupby(["bin1_id", "bin2_id"], as_index=False)["count"].sum()
        w.add("pool", pool)
    return path


def test_weights_match_cooler_balance(nagano, deep):
    """hicdiff.balance computes what cooler.balance_cooler does, from the pixels in memory."""
    clr = cooler.Cooler(open_cells(nagano).uris[deep[-1]])
    px = clr.pixels()[:]
    ours, stats = balance_weights(px["bin1_id"], px["bin2_id"], px["count"], clr._load_dset("indexes/chrom_offset"))
    theirs, _ = cooler.balance_cooler(clr)
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, equal_nan=True)
    assert stats["converged"] and 0 < stats["masked_bins"] < len(ours)
    # what every written cell carries: each chromosome balanced on its own, as cooler's cis_only
    ours, stats = balance_weights(px["bin1_id"], px["bin2_id"], px["count"], clr._load_dset("indexes/chrom_offset"),
                                  cis_only=True)
    theirs, _ = cooler.balance_cooler(clr, cis_only=True)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, equal_nan=True)
    assert stats["converged"]


def test_written_cells_carry_weight_and_metadata(written, deep):
    with h5py.File(written, "r") as f:
        assert "weight" not in f["bins"]  # the shared bin table has none: weights are per cell
        root = json.loads(f.attrs["metadata"])
        cell = json.loads(f[f"cells/{deep[0]}"].attrs["metadata"])
        attrs = dict(f[f"cells/{deep[0]}/bins/weight"].attrs)
    assert "iterative correction" in root["weight"]["what"] and "NaN" in root["weight"]["masked"]
    assert cell["weight"]["masked_bins"] > 0 and attrs["ignore_diags"] == 2 and not attrs["divisive_weights"]
    w = [cooler.Cooler(f"{written}::/cells/{n}").bins()["weight"][:].to_numpy() for n in deep[:2]]
    assert not np.array_equal(w[0], w[1], equal_nan=True)
    assert int(np.isnan(w[0]).sum()) == cell["weight"]["masked_bins"]


def test_cooltools_reads_written_cells(written, deep):
    clr = cooler.Cooler(f"{written}::/cells/{deep[-1]}")
    view = pd.DataFrame({"chrom": CHROMS, "start": 0, "end": [clr.chromsizes[c] for c in CHROMS], "name": CHROMS})
    _, vecs = cooltools.eigs_cis(clr, view_df=view, n_eigs=1)
    assert vecs["E1"].notna().sum() > 100
    ins = cooltools.insulation(clr, [3_000_000], view_df=view)
    assert ins["log2_insulation_score_3000000"].notna().sum() > 100
    # rows of each chromosome's balanced cis map sum to 1 (the first 2 diagonals left out; trans ignored)
    m = np.triu(clr.matrix(balance=True)[:], 2)
    m = m + m.T
    offsets = clr._load_dset("indexes/chrom_offset")
    rows = np.concatenate([np.nansum(m[lo:hi, lo:hi], axis=1) for lo, hi in zip(offsets[:-1], offsets[1:])])
    good = np.isfinite(clr.bins()["weight"][:].to_numpy())
    np.testing.assert_allclose(rows[good], 1, rtol=1e-2)


def test_compartments_phased_by_bulk_agree_with_bulk(written, deep, bulk):
    table = compartments(written, phasing=bulk, chroms=CHROMS)
    assert list(table.columns) == ["cell", "chrom", "start", "end", "E1"]
    assert set(table["cell"]) == {*deep, "pool"} and set(table["chrom"]) == set(CHROMS)
    ref = reference_e1(bulk, open_cells(written).bins).rename(columns={"value": "bulk"})
    both = table.merge(ref, on=["chrom", "start", "end"]).dropna()
    r = {(c, k): np.corrcoef(g["E1"], g["bulk"])[0, 1] for (c, k), g in both.groupby(["cell", "chrom"])}
    singles = [v for (c, _), v in r.items() if c != "pool"]
    pooled = [v for (c, _), v in r.items() if c == "pool"]
    # raw single cells at 1 Mb are noisy (measured mean 0.11) but phased the bulk's way; the pool of 4 agrees
    # better (0.57, 0.43; another cell type than the bulk's)
    assert np.mean(singles) > 0.05
    assert min(pooled) > 0.3 and np.mean(pooled) > np.mean(singles) + 0.2


def test_bulk_e1_coverage_orientation_and_unbalanced_bulk(bulk, data_dir, written, tmp_path):
    bins = open_cells(written).bins
    e1 = reference_e1(bulk, bins)
    # the same orientation from a track: the bulk's own coverage as a bedGraph
    clr = cooler.Cooler(str(bulk))
    px = clr.pixels()[:]
    cov = np.bincount(px["bin1_id"], px["count"], len(clr.bins())) + np.bincount(px["bin2_id"], px["count"],
                                                                                len(clr.bins()))
    track = clr.bins()[["chrom", "start", "end"]][:].assign(value=cov)
    track["chrom"] = track["chrom"].astype(str).str.removeprefix("chr")  # other names: matched
    path = tmp_path / "coverage.bedgraph"
    track.to_csv(path, sep="\t", header=False, index=False)
    by_track = reference_e1(bulk, bins, read_track(path))
    both = e1["value"].notna() & by_track["value"].notna()
    np.testing.assert_allclose(e1["value"][both], by_track["value"][both])
    # a bulk without weights is balanced in a temporary copy, the input left as it was
    rao = data_dir / "bulk_gm12878_rao2014" / "gm12878_1_2_3.cool"
    before = rao.stat().st_mtime
    human = cooler.Cooler(str(rao)).bins()[["chrom", "start", "end"]][:]
    e1_rao = reference_e1(rao, human[human["chrom"] == "1"])
    assert e1_rao["value"].notna().sum() > 150 and rao.stat().st_mtime == before
    assert "weight" not in cooler.Cooler(str(rao)).bins().columns


def test_track_on_bins_averages_by_overlap():
    bins = pd.DataFrame({"chrom": "chr1", "start": [0, 100, 200], "end": [100, 200, 300]})
    track = pd.DataFrame({"chrom": "1", "start": [0, 50, 150, 250], "end": [50, 150, 250, 300],
                          "value": [1.0, 3.0, 5.0, np.nan]})
    out = track_on_bins(track, bins)
    np.testing.assert_allclose(out["value"], [2.0, 4.0, 5.0])


def test_compartments_cli(written, bulk, tmp_path):
    out = tmp_path / "comp.tsv"
    res = CliRunner().invoke(cli, ["compartments", str(written), "-o", str(out), "--phasing", str(bulk),
                                   "--chromosomes", "chr19", "--cells", "pool"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, sep="\t")
    assert set(table["cell"]) == {"pool"} and set(table["chrom"]) == {"chr19"} and table["E1"].notna().sum() > 40
    res = CliRunner().invoke(cli, ["compartments", str(written), "-o", str(tmp_path / "x.tsv"),
                                   "--chromosomes", "chrZ"])
    assert res.exit_code == 2 and "chrZ" in res.output


def test_compartments_refuses_cells_without_weights(nagano):
    with pytest.raises(HicdiffError, match="weight"):
        compartments(nagano, chroms=["chr19"], names=open_cells(nagano).names[:1])
