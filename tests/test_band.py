import numpy as np
import pytest

from hicdiff.band import (band_from_pixels, from_tiles, main_diagonal, pixels_from_band, to_tiles, valid_mask,
                          window_starts)
from hicdiff.io import open_cells


@pytest.fixture(scope="module")
def chr19(data_dir):
    cs = open_cells(data_dir / "nagano2017_mesc_scool" / "test_matrix.scool")
    name = cs.names[0]
    return cs.cis_pixels(name, "chr19"), cs.n_bins("chr19")


def test_pixels_band_pixels_round_trip(chr19):
    px, n = chr19
    max_diag = int((px.bin2_id - px.bin1_id).max())
    band = band_from_pixels(px.bin1_id, px.bin2_id, px["count"], n, max_diag)
    diag0 = main_diagonal(px.bin1_id, px.bin2_id, px["count"], n)
    b1, b2, v = pixels_from_band(band, diag0)
    assert np.array_equal(b1, px.bin1_id.to_numpy())
    assert np.array_equal(b2, px.bin2_id.to_numpy())
    assert np.array_equal(v, px["count"].to_numpy())


def test_band_drops_only_beyond_max_diag(chr19):
    px, n = chr19
    band = band_from_pixels(px.bin1_id, px.bin2_id, px["count"], n, 5)
    d = px.bin2_id - px.bin1_id
    assert band.sum() == px["count"][(d >= 1) & (d <= 5)].sum()
    assert not band[~valid_mask(n, 5)].any()


def test_lower_triangle_and_duplicates_are_folded():
    band = band_from_pixels([3, 1, 1], [1, 3, 3], [2, 1, 1], 5, 3)
    assert band[1, 1] == 4  # pixel (1, 3): diagonal 2 -> column 1


def test_tiles_round_trip_and_padding(chr19):
    px, n = chr19
    band = band_from_pixels(px.bin1_id, px.bin2_id, px["count"], n, 10)
    tiles = to_tiles(band, 4, 8)
    assert tiles.shape == (-(-n // 4), 2, 4, 8)
    assert np.array_equal(from_tiles(tiles, n, 10), band)
    valid = to_tiles(valid_mask(n, 10), 4, 8, fill=False)
    assert valid.sum() == valid_mask(n, 10).sum()
    assert not valid[-1, -1, -1].any()  # padding beyond the chromosome end is invalid


def test_window_starts_cover_chromosome_on_tile_boundaries():
    starts = window_starts(301, 128, 64, align=4)
    covered = np.zeros(301, bool)
    for s in starts:
        covered[s: s + 128] = True
    assert covered.all() and all(s % 4 == 0 for s in starts)
    assert 301 <= starts[-1] + 128 < 301 + 4
    assert window_starts(100, 128, 64) == [0]


def test_cell_bands_hold_cis_pixels_only(data_dir, tmp_path):
    """A trans pixel from the last bins of one chromosome to the first of the next has ``bin2 - bin1 <= D``;
    it must not land in the first chromosome's band (nor count in the cell's depth)."""
    from hicdiff._cellmaps import cell_bands
    from hicdiff.importers import import_cells

    path = data_dir / "nagano2017_mesc_contacts" / "cells" / "1CDX1.12" / "new_adj.gz"
    out = tmp_path / "trans.scool"
    import_cells(path, out, 1_000_000, data_dir / "chromsizes" / "mm9.chrom.sizes", trans=True)
    cs = open_cells(out)
    name, D = cs.names[0], 32
    px = cs.pixels(name)
    b1, b2, count = (px[k].to_numpy() for k in ("bin1_id", "bin2_id", "count"))
    chrom_of = np.searchsorted([hi for _, hi in cs.chrom_bins.values()], b1, side="right")
    ends = np.array([hi for _, hi in cs.chrom_bins.values()])
    across = (b2 >= ends[chrom_of]) & (b2 - b1 <= D)
    assert count[across].sum() > 0  # the case exists in this cell
    bands = cell_bands(cs, name, D)
    for chrom, (lo, hi) in cs.chrom_bins.items():
        cis = (b1 >= lo) & (b2 < hi) & (b2 - b1 >= 1) & (b2 - b1 <= D)
        band, _ = bands[chrom]
        assert band.sum() == count[cis].sum()
        assert band[~valid_mask(*band.shape)].sum() == 0
