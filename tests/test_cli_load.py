"""``hicdiff load`` and ``hicdiff info`` from the command line, and every bad input's message."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import cooler
import pytest
from click.testing import CliRunner

from hicdiff.cli import cli
from hicdiff.io import open_cells

MB = 1_000_000
LEE_CELLS = [
    "181218_21yr_2_B11_AD001_Astro", "190305_21yr_2_B3_AD007_MG",
    "181218_21yr_2_A4_AD010_Sst", "190305_29yr_2_F10_AD010_ODC",
]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def hicdiff_script():
    return str(Path(sys.executable).with_name("hicdiff"))


@pytest.fixture(scope="module")
def lee(data_dir):
    return data_dir / "lee2019_pfc"


@pytest.fixture(scope="module")
def nagano_lines(data_dir):
    with gzip.open(data_dir / "nagano2017_mesc_contacts" / "cells" / "1CDX1.12" / "new_adj.gz", "rt") as fh:
        return [next(fh).rstrip("\n") for _ in range(300)]


@pytest.fixture
def mm9(data_dir):
    return data_dir / "chromsizes" / "mm9.chrom.sizes"


def _assert_error(result, *fragments):
    assert result.exit_code == 2, result.output
    line = [ln for ln in result.output.splitlines() if ln.startswith("hicdiff: error: ")]
    assert len(line) == 1, result.output
    for fragment in fragments:
        assert fragment in line[0], line[0]


def _nothing_written(folder):
    return not [p for p in os.listdir(folder) if p.endswith((".scool", ".partial"))]


# -- the main path: lee cells with labels ----------------------------------------------------------------

def test_load_lee_cells_with_labels(lee, tmp_path):
    files = []
    for name in LEE_CELLS:
        assert (lee / "cells" / f"{name}.txt.gz").exists(), name
        files.append(lee / "cells" / f"{name}.txt.gz")
    out = tmp_path / "lee.scool"
    result = run("load", *files, "--format", "contacts", "--resolution", MB, "--chromsizes",
                 lee / "hg19.chrom.sizes", "--labels", lee / "cells.tsv", "-o", out)
    assert result.exit_code == 0, result.output
    assert "4 cells" in result.output
    cs = open_cells(out)
    assert sorted(cs.names) == sorted(LEE_CELLS) and cs.resolution == MB and len(cs.chromnames) == 23
    totals = cs.contacts_per_cell()
    for name in LEE_CELLS:
        with gzip.open(lee / "cells" / f"{name}.txt.gz", "rt") as fh:
            source_total = sum(int(line.split("\t")[4]) for line in fh)
        assert totals[name] == source_total
        meta = cs.cell_metadata(name)
        assert meta["cell_type"] == name.rsplit("_", 1)[1] and meta["batch"] in name
        assert int(meta["depth"]) == source_total  # cells.tsv's own depth column agrees

    info = run("info", out)
    assert info.exit_code == 0, info.output
    assert "cells:       4" in info.output
    assert "resolution:  1000000 bp" in info.output
    n_bins = sum(-(-int(line.split()[1]) // MB) for line in open(lee / "hg19.chrom.sizes"))
    assert f"chromosomes: 23 ({n_bins} bins): chr1, chr2," in info.output
    assert f"min {totals.min():.0f}, max {totals.max():.0f}" in info.output
    assert "label cell_type: Astro (1), MG (1), ODC (1), Sst (1)" in info.output


def test_load_nagano_folders_and_info_json(data_dir, tmp_path):
    root = data_dir / "nagano2017_mesc_contacts"
    cells = tmp_path / "cells"
    cells.mkdir()
    for name in ("1CDX1.12", "1CDX1.13"):
        (cells / name).mkdir()
        (cells / name / "new_adj.gz").symlink_to(root / "cells" / name / "new_adj.gz")
    out = tmp_path / "n.scool"
    result = run("load", cells, "-r", 100_000, "-c", root / "mm9.chrom.sizes.scHiCTools", "-o", out)
    assert result.exit_code == 0, result.output
    info = run("info", "--json", out)
    assert '"cells": 2' in info.output and '"resolution": 100000' in info.output
    single = run("info", f"{out}::/cells/1CDX1.13")
    assert "cells:       1" in single.output


def test_info_on_the_nagano_scool(data_dir):
    result = run("info", data_dir / "nagano2017_mesc_scool" / "test_matrix.scool")
    assert result.exit_code == 0, result.output
    assert "cells:       20" in result.output and "labels:      none" in result.output
    assert "median 107" in result.output


def test_load_gageseq_with_prefixed_chromosomes(data_dir, tmp_path):
    root = data_dir / "gageseq_mouse_cortex_chr1"
    out = tmp_path / "g.scool"
    result = run("load", root / "chr1_data" / "A1_A4.pairs.gz", root / "chr1_data" / "A1_A6.pairs.gz",
                 "-f", "gageseq", "-r", MB, "-c", root / "mm10_chr_size.txt", "--strict", "-o", out)
    assert result.exit_code == 0, result.output
    assert open_cells(out).names == ["A1_A4", "A1_A6"]


def test_load_dipc_one_chromosome(data_dir, tmp_path):
    out = tmp_path / "d.scool"
    result = run("load", data_dir / "dipc_gm12878_cell11" / "gm12878_11.clean.con.txt.gz", "-r", MB,
                 "-c", data_dir / "lee2019_pfc" / "hg19.chrom.sizes", "--chromosomes", "chr21", "--trans",
                 "-o", out)
    assert result.exit_code == 0, result.output
    cs = open_cells(out)
    assert cs.chromnames == ["chr21"] and cs.contacts_per_cell().iloc[0] > 1000


# -- bad input: one message naming the file and the problem, exit status 2, nothing written --------------

def test_missing_input_file(mm9, tmp_path):
    result = run("load", tmp_path / "nope.txt.gz", "-r", MB, "-c", mm9, "-o", tmp_path / "o.scool")
    _assert_error(result, "nope.txt.gz: no such file")
    assert _nothing_written(tmp_path)


def test_missing_chromsizes(nagano_lines, tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("\n".join(nagano_lines) + "\n")
    result = run("load", f, "-r", MB, "-c", tmp_path / "hg00.sizes", "-o", tmp_path / "o.scool")
    _assert_error(result, "hg00.sizes: no such file (chromosome sizes)")


def test_missing_labels(lee, tmp_path):
    f = lee / "cells" / f"{LEE_CELLS[0]}.txt.gz"
    result = run("load", f, "-r", MB, "-c", lee / "hg19.chrom.sizes", "--labels", tmp_path / "labels.tsv",
                 "-o", tmp_path / "o.scool")
    _assert_error(result, "labels.tsv: no such file")


def test_info_missing_and_not_a_cooler(data_dir, tmp_path):
    _assert_error(run("info", tmp_path / "missing.scool"), "missing.scool: no such file")
    _assert_error(run("info", data_dir / "lee2019_pfc" / "cells.tsv"), "cells.tsv: not a cooler file")


def test_info_mcool_without_the_resolution(data_dir, tmp_path):
    cs = open_cells(data_dir / "nagano2017_mesc_scool" / "test_matrix.scool")
    cool = str(tmp_path / "one.cool")
    cooler.create_cooler(cool, cs.bins, cs.pixels(cs.names[0]), ordered=True)
    mcool = str(tmp_path / "one.mcool")
    cooler.zoomify_cooler(cool, mcool, [MB, 2 * MB], chunksize=1_000_000)
    _assert_error(run("info", f"{mcool}::resolutions/100000"),
                  "one.mcool: has no group resolutions/100000 (available resolutions: 1000000, 2000000)")
    _assert_error(run("info", mcool), "one.mcool: is a multi-resolution cooler; name a resolution")
    assert "resolution:  2000000 bp" in run("info", f"{mcool}::resolutions/2000000").output


@pytest.mark.parametrize("bad_line,expected", [
    ("chr1 12x34 chr1 5000 1", "line 12: position '12x34' is not a whole number"),
    ("chr1 1234 chr1 5000", "line 12: expected 5 fields 'chrA posA chrB posB count', found 4"),
    ("chr1 1234 chr1 5000 1 7", "line 12: expected 5 fields 'chrA posA chrB posB count', found 6"),
    ("chr1 1234 chr1 5000 many", "line 12: count 'many' is not a number"),
])
def test_unparsable_contact_line(nagano_lines, mm9, tmp_path, bad_line, expected):
    lines = list(nagano_lines)
    lines[11] = bad_line
    f = tmp_path / "bad.txt.gz"
    with gzip.open(f, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    result = run("load", f, "-f", "contacts", "-r", MB, "-c", mm9, "-o", tmp_path / "o.scool")
    _assert_error(result, "bad.txt.gz: ", expected)
    assert _nothing_written(tmp_path)


def test_unparsable_pairs_line_counts_header_lines(data_dir, tmp_path):
    f = tmp_path / "bad.pairs"
    f.write_text("## pairs format v1.0\n#columns: readID chrom1 pos1 chrom2 pos2 strand1 strand2\n"
                 "r1\tchr1\t100\tchr1\t5000\t+\t-\nr2\tchr1\t1x0\tchr1\t5000\t+\t-\n")
    result = run("load", f, "-r", MB, "-c", data_dir / "chromsizes" / "mm9.chrom.sizes", "-o", tmp_path / "o.scool")
    _assert_error(result, "bad.pairs: line 4: position '1x0' is not a whole number")


def test_chromosome_names_match_nothing(data_dir, tmp_path):
    # real Dip-C lines (chromosome "1") against a sizes file that names chromosomes by RefSeq accession
    f = tmp_path / "cell.con"
    with gzip.open(data_dir / "dipc_gm12878_cell11" / "gm12878_11.clean.con.txt.gz", "rt") as fh:
        f.write_text("".join(next(fh) for _ in range(50)))
    sizes = tmp_path / "refseq.sizes"
    sizes.write_text("NC_000001.10\t249250621\nNC_000002.11\t243199373\n")
    result = run("load", f, "-r", MB, "-c", sizes, "-o", tmp_path / "o.scool")
    _assert_error(result, "cell.con: no chromosome name matches the sizes file", "(names here: 1;",
                  "map them with --chrom-map")
    assert _nothing_written(tmp_path)
    cmap = tmp_path / "map.tsv"
    cmap.write_text("1\tNC_000001.10\n")
    fixed = run("load", f, "-r", MB, "-c", sizes, "--chrom-map", cmap, "-o", tmp_path / "o.scool")
    assert fixed.exit_code == 0, fixed.output
    assert open_cells(tmp_path / "o.scool").contacts_per_cell().tolist() == [50]
    cmap.write_text("1 NC_000001.10 extra\n")
    _assert_error(run("load", f, "-r", MB, "-c", sizes, "--chrom-map", cmap, "-o", tmp_path / "p.scool"),
                  "map.tsv: line 1: expected 'name in contact files<TAB>name in sizes file (or -)'")


def test_unmatched_names_are_counted_or_strict(data_dir, nagano_lines, mm9, tmp_path, caplog):
    lines = list(nagano_lines) + ["chrUnknown 100 chrUnknown 5000 3", "chr1_weird 1 chr1_weird 2 1"]
    f = tmp_path / "u.txt"
    f.write_text("\n".join(lines) + "\n")
    result = run("load", f, "-r", MB, "-c", mm9, "-o", tmp_path / "u.scool")
    assert result.exit_code == 0, result.output
    strict = run("load", f, "-r", MB, "-c", mm9, "--strict", "-o", tmp_path / "s.scool")
    _assert_error(strict, "u.txt: chromosome name(s) not in the sizes file: chrUnknown (3 contacts), "
                          "chr1_weird (1 contacts)")
    assert not (tmp_path / "s.scool").exists()


def test_position_beyond_chromosome_end(data_dir, tmp_path):
    # the Dip-C cell is hg19; against mm9 sizes its chr1 runs past mm9's chr1 end
    result = run("load", data_dir / "dipc_gm12878_cell11" / "gm12878_11.clean.con.txt.gz", "-r", MB,
                 "-c", data_dir / "chromsizes" / "mm9.chrom.sizes", "-o", tmp_path / "o.scool")
    _assert_error(result, "gm12878_11.clean.con.txt.gz: line 66066: position 197196081 is beyond the end of chr1 "
                          "(197195432 bp in")
    assert _nothing_written(tmp_path)


def test_output_equal_to_an_input(data_dir, tmp_path):
    src = data_dir / "gageseq_mouse_cortex_chr1" / "chr1_data" / "A1_A4.pairs.gz"
    f = tmp_path / "A1_A4.pairs.gz"
    f.write_bytes(src.read_bytes())
    before = f.read_bytes()
    result = run("load", f, "-r", MB, "-c", data_dir / "chromsizes" / "mm10.chrom.sizes", "-o", f)
    _assert_error(result, "A1_A4.pairs.gz: output path is also an input; refusing to overwrite it")
    assert f.read_bytes() == before
    sizes = data_dir / "chromsizes" / "mm10.chrom.sizes"
    result = run("load", f, "-r", MB, "-c", sizes, "-o", sizes)
    _assert_error(result, "mm10.chrom.sizes: output path is also an input")


def test_empty_cells_counted_skipped_or_strict(data_dir, nagano_lines, mm9, tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("\n".join(nagano_lines) + "\n")
    trans_only = tmp_path / "trans_only.txt"
    trans_only.write_text("\n".join(ln for ln in nagano_lines if ln.split()[0] != ln.split()[2]) + "\n")
    result = run("load", good, trans_only, "-r", MB, "-c", mm9, "-o", tmp_path / "e.scool")
    assert result.exit_code == 0 and "1 cells" in result.output
    assert open_cells(tmp_path / "e.scool").names == ["good"]
    strict = run("load", good, trans_only, "-r", MB, "-c", mm9, "--strict", "-o", tmp_path / "s.scool")
    _assert_error(strict, "trans_only.txt: cell trans_only has no contacts on the chosen chromosomes (--strict)")
    assert not (tmp_path / "s.scool").exists() and not (tmp_path / "s.scool.partial").exists()


def test_failure_after_some_cells_leaves_nothing(data_dir, nagano_lines, mm9, tmp_path):
    cells = data_dir / "nagano2017_mesc_contacts" / "cells"
    bad = tmp_path / "zz_bad.txt"
    bad.write_text("\n".join(nagano_lines[:5] + ["chr1 10 chr1"]) + "\n")
    out = tmp_path / "o.scool"
    result = run("load", cells / "1CDX1.12" / "new_adj.gz", cells / "1CDX1.13" / "new_adj.gz", bad,
                 "-r", MB, "-c", mm9, "-o", out)
    _assert_error(result, "zz_bad.txt: line 6: expected 5 fields")
    assert not out.exists() and not Path(str(out) + ".partial").exists()


# -- the installed script ----------------------------------------------------------------------------------

def test_script_reports_errors_with_status_2(data_dir, tmp_path):
    proc = subprocess.run([hicdiff_script(), "info", str(data_dir / "lee2019_pfc" / "cells.tsv")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    expected = f"hicdiff: error: {data_dir / 'lee2019_pfc' / 'cells.tsv'}: not a cooler file (not HDF5)"
    assert proc.stderr.strip() == expected
    proc = subprocess.run([hicdiff_script(), "load", str(tmp_path / "none.pairs"), "-r", "1000000", "-c",
                           str(data_dir / "chromsizes" / "mm9.chrom.sizes"), "-o", str(tmp_path / "o.scool")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "none.pairs: no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_script_loads_and_logs_progress(data_dir, tmp_path):
    root = data_dir / "gageseq_mouse_cortex_chr1"
    out = tmp_path / "g.scool"
    proc = subprocess.run([hicdiff_script(), "load", str(root / "chr1_data" / "A1_A8.pairs.gz"), "-r", "1000000",
                           "-c", str(root / "mm10_chr_size.txt"), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "loading 1 file(s) at 1000000 bp" in proc.stderr
    assert "1 cells, " in proc.stdout and out.exists()


def test_same_cell_twice(data_dir, tmp_path):
    src = data_dir / "gageseq_mouse_cortex_chr1" / "chr1_data" / "A1_A4.pairs.gz"
    copy = tmp_path / "copy.pairs.gz"
    copy.write_bytes(src.read_bytes())
    result = run("load", src, copy, "-r", MB, "-c", data_dir / "chromsizes" / "mm10.chrom.sizes",
                 "-o", tmp_path / "o.scool")
    _assert_error(result, "copy.pairs.gz: cell name 'A1_A4' also comes from", "A1_A4.pairs.gz")
    assert _nothing_written(tmp_path)
