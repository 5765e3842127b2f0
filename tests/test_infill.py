"""Infilling masked regions (impute --mask-regions): masked pixels never reach the model, BED errors, training
with region masking, the masked copy the baselines get."""

import logging

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hicdiff._cellmaps import cell_bands
from hicdiff.checkpoint import load_checkpoint
from hicdiff.cli import cli
from hicdiff.config import load_config
from hicdiff.diffusion import hide_bins
from hicdiff.errors import HicdiffError
from hicdiff.impute import Imputer, impute_scool
from hicdiff.io import open_cells, write_scool
from hicdiff.regions import Region, RegionMask, hidden_band, read_regions, write_without_regions

REGION = ("chr20", 20_000_000, 30_000_000)     # bins 20..29 at 1 Mb


@pytest.fixture(scope="module")
def infill_model(lee_scool, tmp_path_factory):
    """A tiny model trained with region masking (the training path runs)."""
    from hicdiff.training import train

    cfg = load_config("tiny", region_mask_fraction=0.5, max_steps=30)
    path = str(tmp_path_factory.mktemp("infill") / "infill.ckpt")
    result = train(str(lee_scool), path, cfg, device="cpu", threads=1)
    assert np.isfinite(result.val_ce_t1)
    return path


@pytest.fixture(scope="module")
def changed_scool(lee_scool, tmp_path_factory):
    """The 12 cells with every pixel touching REGION changed (counts tripled, and new contacts there)."""
    cs = open_cells(lee_scool)
    lo = cs.chrom_bins["chr20"][0]
    a, b = lo + 20, lo + 30
    cells = []
    for name in cs.names:
        px = cs.pixels(name)
        touch = ((px.bin1_id >= a) & (px.bin1_id < b)) | ((px.bin2_id >= a) & (px.bin2_id < b))
        px.loc[touch, "count"] *= 3
        extra = px.iloc[:0].copy()
        extra["bin1_id"], extra["bin2_id"] = [a + 1, a + 2], [a + 5, lo + 40]
        extra["count"] = [7, 5]
        px = (px.set_index(["bin1_id", "bin2_id"]).add(extra.set_index(["bin1_id", "bin2_id"]), fill_value=0)
              .reset_index().astype({"count": np.int64}).sort_values(["bin1_id", "bin2_id"]))
        cells.append((name, px.reset_index(drop=True), cs.cell_metadata(name)))
    out = tmp_path_factory.mktemp("changed") / "changed.scool"
    write_scool(out, cs.bins, cells)
    return out


def _bed(tmp_path, text, name="regions.bed"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_hide_bins_hides_rows_and_columns_of_one_run():
    valid = torch.ones(64, 32, 16, dtype=torch.bool)
    valid[:, :, -4:] = False
    hidden = hide_bins(valid, 0.5, generator=torch.Generator().manual_seed(0))
    some = hidden.flatten(1).any(1)
    assert 10 < int(some.sum()) < 54 and not (hidden & ~valid).any()
    row = torch.arange(32)[:, None]
    col = row + torch.arange(1, 17)[None]
    lengths = []
    for h, v in zip(hidden[some], valid[some]):
        # exactly the entries whose row bin or column bin lies in one run [a, b) of bins
        runs = [(a, b) for a in range(0, 32) for b in range(a + 1, a + 17)
                if torch.equal(h, ((row >= a) & (row < b) | (col >= a) & (col < b)) & v)]
        assert runs     # (several where the run reaches past what the window shows)
        lengths.append(runs[0][1] - runs[0][0])
    assert max(lengths) > 4 and min(lengths) <= 4      # lengths spread from a few bins up


def test_masked_pixels_never_reach_the_model(infill_model, lee_scool, changed_scool, tmp_path):
    bed = _bed(tmp_path, "\t".join(map(str, REGION)) + "\n")
    out1, out2 = tmp_path / "a.scool", tmp_path / "b.scool"
    impute_scool(str(lee_scool), infill_model, str(out1), device="cpu", threads=1, mask_regions=str(bed))
    impute_scool(str(changed_scool), infill_model, str(out2), device="cpu", threads=1, mask_regions=str(bed))
    a, b = open_cells(out1), open_cells(out2)
    for name in a.names:
        pa, pb = a.pixels(name), b.pixels(name)
        assert pa.equals(pb)       # bitwise: nothing of the changed counts got through
    # without the mask the change shows, so the check above could fail
    plain1, plain2 = tmp_path / "c.scool", tmp_path / "d.scool"
    impute_scool(str(lee_scool), infill_model, str(plain1), device="cpu", threads=1, cells=a.names[:1])
    impute_scool(str(changed_scool), infill_model, str(plain2), device="cpu", threads=1, cells=a.names[:1])
    name = a.names[0]
    assert not open_cells(plain1).pixels(name).equals(open_cells(plain2).pixels(name))
    meta = a.info(name)["metadata"]
    assert meta["parameters"]["mask_regions"]["regions"] == [[*REGION, "*"]]
    assert meta["cell"]["masked_regions"] == [list(REGION)]


def test_observed_tokens_are_mask_exactly_on_hidden_pixels(infill_model, lee_scool):
    imp = Imputer.from_checkpoint(infill_model, device="cpu", threads=1)
    cs = open_cells(lee_scool)
    name = cs.names[0]
    seen = []
    real = imp._forward
    imp._forward = lambda observed, *rest: seen.append(observed.clone()) or real(observed, *rest)
    res = imp.impute_cell(cs, name, chroms=["chr20"], mask_regions=[Region(*REGION, cell=name)],
                          max_distance="band")
    tokens = seen[0]
    n, d = cs.n_bins("chr20"), imp.cfg.max_diag
    # chr20 (63 bins) is two windows of the tiny model's 32 rows, rows 0-31 and 32-63: one grid again
    assert tokens.shape[0] == 2 and tokens.shape[1] == 32
    tokens = tokens.reshape(1, 64, -1)
    bins = np.zeros(n, bool)
    bins[20:30] = True
    hidden = hidden_band(bins, d)
    grid = tokens[0, :n, :d].numpy()
    mask_id = imp.tokenizer.mask_id
    assert ((grid == mask_id) == hidden).all()
    observed = cell_bands(cs, name, d, ["chr20"])["chr20"][0]
    assert observed[hidden].sum() > 0          # the region had contacts to hide
    assert res.diag0["chr20"][20:30].sum() == 0 and res.diag0["chr20"][:20].sum() > 0
    # a region of another cell hides nothing here
    seen.clear()
    imp.impute_cell(cs, name, chroms=["chr20"], mask_regions=[Region(*REGION, cell=cs.names[1])],
                    max_distance="band")
    assert not (seen[0] == mask_id).any()


def test_depth_context_counts_only_shown_pixels(infill_model, lee_scool):
    imp = Imputer.from_checkpoint(infill_model, device="cpu", threads=1)
    cs = open_cells(lee_scool)
    name = cs.names[0]
    depths = []
    real = imp._forward
    imp._forward = lambda o, t, locus, depth, *rest: depths.append(float(depth[0])) or real(o, t, locus, depth, *rest)
    imp.impute_cell(cs, name, chroms=["chr20"], max_distance="band")
    imp.impute_cell(cs, name, chroms=["chr20"], mask_regions=[Region(*REGION)], max_distance="band")
    d = imp.cfg.max_diag
    band = cell_bands(cs, name, d, ["chr20"])["chr20"][0]
    bins = np.zeros(cs.n_bins("chr20"), bool)
    bins[20:30] = True
    hidden = hidden_band(bins, d)
    valid = np.arange(len(bins))[:, None] + np.arange(1, d + 1)[None] < len(bins)
    shown = np.log10(band[~hidden & valid].sum() / (~hidden & valid).sum())
    assert depths[1] == pytest.approx(shown, abs=1e-5) and depths[0] != pytest.approx(depths[1], abs=1e-3)


def test_bed_errors_name_the_file_and_line(lee_scool, tmp_path, caplog):
    cs = open_cells(lee_scool)
    cases = {"chr20\t5\n": "line 1: a region needs chrom, start and end",
             "# header\nchr20\tten\t20\n": "line 2: start and end must be whole numbers",
             "chr20\t30\t20\n": "line 1: need 0 <= start < end",
             "chr20\t-5\t20\n": "line 1: need 0 <= start < end",
             "track name=x\n\nchr7\t0\t100\n": "line 3: chromosome chr7 is not in the cells",
             "chr20\t90000000\t95000000\n": "line 1: starts at 90000000, past the end of chr20",
             "# only a comment\n": "no regions"}
    for k, (text, message) in enumerate(cases.items()):
        bed = _bed(tmp_path, text, f"bad{k}.bed")
        with pytest.raises(HicdiffError, match=message) as e:
            RegionMask(str(bed), cs)
        assert str(bed) in str(e.value)
    with caplog.at_level(logging.WARNING, logger="hicdiff"):
        mask = RegionMask(str(_bed(tmp_path, "chr20\t0\t100\tnot_a_cell\n", "typo.bed")), cs)
    assert "not_a_cell (line 1)" in caplog.text and mask.bins("not_a_cell", "chr20") is None
    with pytest.raises(HicdiffError, match="no such BED file"):
        read_regions(tmp_path / "missing.bed")
    # the CLI says it without a traceback
    bed = _bed(tmp_path, "chr20\t30\t20\n", "cli.bed")
    r = CliRunner().invoke(cli, ["impute", str(lee_scool), "--model", "general", "-o", str(tmp_path / "o.scool"),
                                 "--mask-regions", str(bed)])
    assert r.exit_code != 0 and "line 1: need 0 <= start < end" in r.output


def test_bed_ties_regions_to_cells_and_bins(lee_scool, tmp_path):
    cs = open_cells(lee_scool)
    a, b = cs.names[:2]
    bed = _bed(tmp_path, f"chr20\t20500000\t21000001\t{a}\textra\ncolumns\nchr21\t0\t1\t*\n".replace("columns\n", ""))
    mask = RegionMask(str(bed), cs)
    assert np.flatnonzero(mask.bins(a, "chr20")).tolist() == [20, 21]     # every bin the interval overlaps
    assert mask.bins(b, "chr20") is None
    assert np.flatnonzero(mask.bins(b, "chr21")).tolist() == [0]
    assert [str(r) for r in mask.of_cell(b)] == ["chr21:0-1"]


def test_untrained_model_warns_how_to_fine_tune(lee_scool, tmp_path, caplog):
    bed = _bed(tmp_path, "\t".join(map(str, REGION)) + "\n")
    _, _, _, ckpt = load_checkpoint("general")
    assert not ckpt["training"].get("region_mask_fraction")
    with caplog.at_level(logging.WARNING, logger="hicdiff"):
        impute_scool(str(lee_scool), "general", str(tmp_path / "g.scool"), device="cpu", threads=1,
                     cells=open_cells(lee_scool).names[:1], chroms=["chr20"], mask_regions=str(bed))
    assert "not trained to infill" in caplog.text and "--region-mask-fraction" in caplog.text


def test_checkpoint_records_region_mask_fraction(infill_model):
    assert load_checkpoint(infill_model)[3]["training"]["region_mask_fraction"] == 0.5


def test_copy_without_regions_removes_exactly_the_hidden_pixels(lee_scool, tmp_path):
    cs = open_cells(lee_scool)
    name = cs.names[0]
    bed = _bed(tmp_path, f"chr20\t20000000\t30000000\t{name}\n")
    out = tmp_path / "masked.scool"
    removed = write_without_regions(str(lee_scool), str(bed), str(out))
    masked = open_cells(out)
    lo = cs.chrom_bins["chr20"][0]
    for n in cs.names:
        before, after = cs.pixels(n), masked.pixels(n)
        if n != name:
            assert before.equals(after) and removed[n] == 0
            continue
        cis = (after.bin1_id >= lo) & (after.bin2_id < lo + cs.n_bins("chr20"))
        touch = (after.bin1_id.between(lo + 20, lo + 29)) | (after.bin2_id.between(lo + 20, lo + 29))
        assert not (cis & touch).any() and removed[n] > 0
        assert before["count"].sum() - after["count"].sum() == removed[n]
