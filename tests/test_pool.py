"""hicdiff pool: pseudo-bulk .mcool per group, every resolution readable by cooler, totals kept."""

import cooler
import numpy as np
import pandas as pd
from click.testing import CliRunner

from hicdiff.cli import cli
from hicdiff.io import open_cells
from hicdiff.pool import pool_cells, zoom_resolutions

RESOLUTIONS = [1_000_000, 2_000_000, 4_000_000]


def _total(uri) -> float:
    return float(cooler.Cooler(uri).pixels()["count"][:].sum())


def test_pool_by_label(lee_scool, tmp_path):
    cells = open_cells(lee_scool)
    labels = cells.metadata()["cell_type"]
    table = pool_cells(lee_scool, "cell_type", tmp_path / "pooled", resolutions=RESOLUTIONS)
    assert sorted(table["group"]) == sorted(labels.unique())
    assert (tmp_path / "pooled" / "groups.tsv").exists()
    for _, row in table.iterrows():
        path = tmp_path / "pooled" / row["file"]
        assert sorted(int(r.rsplit("/", 1)[1]) for r in cooler.fileops.list_coolers(str(path))) == RESOLUTIONS
        expected = sum(_total(cells.uris[n]) for n in labels.index[labels == row["group"]])
        assert row["contacts"] == expected
        for r in RESOLUTIONS:
            clr = cooler.Cooler(f"{path}::resolutions/{r}")
            assert clr.binsize == r
            assert _total(clr.uri) == expected
            assert "weight" in clr.bins().columns
        # cooler's filters (at least 10 partners per bin) leave the sparsest bins of 3 cells unbalanced
        base = cooler.Cooler(f"{path}::resolutions/{RESOLUTIONS[0]}")
        assert np.isfinite(base.matrix(balance=True)[:]).any()


def test_pool_by_clusters_tsv_cli(lee_scool, tmp_path):
    cells = open_cells(lee_scool)
    tsv = tmp_path / "clusters.tsv"
    pd.DataFrame({"cell": cells.names, "cluster": ["a b"] * 6 + ["c"] * 6}).to_csv(tsv, sep="\t", index=False)
    out = tmp_path / "clusters"
    res = CliRunner().invoke(cli, ["pool", str(lee_scool), "--by", str(tsv), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["a_b.mcool", "c.mcool", "groups.tsv"]
    # chr19-22 at 1 Mb fit one HiGlass tile: the base resolution alone
    assert cooler.fileops.list_coolers(str(out / "c.mcool")) == ["/resolutions/1000000"]
    assert _total(f"{out / 'a_b.mcool'}::resolutions/1000000") == sum(_total(cells.uris[n]) for n in cells.names[:6])
    bad = CliRunner().invoke(cli, ["pool", str(lee_scool), "--by", "no_such_column", "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "cell_type" in bad.output


def test_zoom_resolutions_reach_one_higlass_tile():
    hg19 = 3_095_677_412
    res = zoom_resolutions(1_000_000, hg19)
    assert res[0] == 1_000_000 and all(b == 2 * a for a, b in zip(res, res[1:]))
    assert res[-1] * 256 >= hg19 > res[-2] * 256
