"""hicdiff merge: shards of one run joined back into one .scool."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hicdiff.errors import HicdiffError
from hicdiff.io import open_cells, write_scool
from hicdiff.merge import merge_scools


@pytest.fixture(scope="module")
def cells(data_dir):
    cs = open_cells(data_dir / "nagano2017_mesc_scool" / "test_matrix.scool")
    return cs.subset(cs.names[:4])


def _shard(cells, names, path, meta=None, scale=1.0):
    items = []
    for n in names:
        px = cells.pixels(n)
        items.append((n, px.assign(count=px["count"] * scale), {"cell_type": "mESC"}))
    write_scool(path, cells.bins, items, metadata=meta or {"scale": "test"}, float_counts=scale != 1.0)


def test_merge_keeps_cells_pixels_and_metadata(cells, tmp_path):
    _shard(cells, cells.names[:3], tmp_path / "a.scool", scale=0.5)
    _shard(cells, cells.names[3:], tmp_path / "b.scool", scale=0.5)
    summary = merge_scools([tmp_path / "a.scool", tmp_path / "b.scool"], tmp_path / "m.scool")
    assert summary["cells"] == 4
    merged = open_cells(tmp_path / "m.scool")
    assert merged.names == cells.names
    for n in cells.names:
        got, want = merged.pixels(n), cells.pixels(n)
        np.testing.assert_array_equal(got["bin1_id"], want["bin1_id"])
        np.testing.assert_allclose(got["count"], want["count"] * 0.5)
        assert merged.cell_metadata(n) == {"cell_type": "mESC"}
    assert merged.cooler(cells.names[0]).pixels()[:]["count"].dtype == np.float64
    pd.testing.assert_frame_equal(merged.bins, cells.bins)


def test_merge_refuses_repeated_cells_and_different_meanings(cells, tmp_path):
    _shard(cells, cells.names[:2], tmp_path / "a.scool")
    _shard(cells, cells.names[1:3], tmp_path / "b.scool")
    with pytest.raises(HicdiffError, match="occurs twice"):
        merge_scools([tmp_path / "a.scool", tmp_path / "b.scool"], tmp_path / "m.scool")
    _shard(cells, cells.names[2:3], tmp_path / "c.scool", meta={"scale": "other"})
    with pytest.raises(HicdiffError, match="'scale'"):
        merge_scools([tmp_path / "a.scool", tmp_path / "c.scool"], tmp_path / "m.scool")
    assert not (tmp_path / "m.scool").exists()


def test_merge_cli(cells, tmp_path):
    from hicdiff.cli.merge import command

    _shard(cells, cells.names[:2], tmp_path / "a.scool")
    _shard(cells, cells.names[2:], tmp_path / "b.scool")
    res = CliRunner().invoke(command, [str(tmp_path / "a.scool"), str(tmp_path / "b.scool"),
                                       "-o", str(tmp_path / "m.scool")])
    assert res.exit_code == 0, res.output
    assert open_cells(tmp_path / "m.scool").names == cells.names
