"""Importers (hicdiff.importers) and chromosome-name matching (hicdiff.chroms), on slices of the real data.

Each import is checked against a plain-Python reference that reads the same lines and bins them, so the
vectorised path (read_csv, categorical chromosome codes, normalize_pixels) is compared with the obvious one.
"""

import gzip
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from hicdiff.chroms import ChromMatcher, read_chrom_map, read_chromsizes
from hicdiff.errors import HicdiffError
from hicdiff.importers import detect_format, expand_inputs, import_cells
from hicdiff.io import open_cells

MB = 1_000_000


def _lines(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        return [line.rstrip("\n") for line in fh if line.strip() and not line.startswith("#")]


def _reference(records, cs, resolution, one_based, trans=False):
    """Pixel counts {(bin1, bin2): count} from (chrom1, pos1, chrom2, pos2, count) in the cooler's names."""
    px = Counter()
    for c1, p1, c2, p2, n in records:
        if c1 not in cs.chrom_bins or c2 not in cs.chrom_bins or (c1 != c2 and not trans):
            continue
        b1 = cs.chrom_bins[c1][0] + (p1 - one_based) // resolution
        b2 = cs.chrom_bins[c2][0] + (p2 - one_based) // resolution
        px[(min(b1, b2), max(b1, b2))] += n
    return px


def _stored(cs, name):
    px = cs.pixels(name)
    return Counter(dict(zip(zip(px["bin1_id"].tolist(), px["bin2_id"].tolist()), px["count"].tolist())))


# -- chromosome sizes and names ------------------------------------------------------------------------------

def test_chromsizes_natural_order_and_restriction(data_dir, tmp_path):
    sizes = read_chromsizes(data_dir / "lee2019_pfc" / "hg19.chrom.sizes")
    # the file lists chrX after chr7 and chr20 before chr19
    assert list(sizes.index) == [f"chr{i}" for i in range(1, 23)] + ["chrX"]
    assert sizes["chr1"] == 249_250_621
    sub = read_chromsizes(data_dir / "lee2019_pfc" / "hg19.chrom.sizes", ["chr22", "chr19"])
    assert list(sub.index) == ["chr19", "chr22"]
    with pytest.raises(HicdiffError, match=r"chromosome\(s\) chr23 not in the sizes file"):
        read_chromsizes(data_dir / "lee2019_pfc" / "hg19.chrom.sizes", ["chr23"])
    bad = tmp_path / "bad.sizes"
    bad.write_text("chr1\t1000\nchr2 lots\n")
    with pytest.raises(HicdiffError, match=r"bad.sizes: line 2: expected 'name<TAB>length in bp'"):
        read_chromsizes(bad)


def test_matcher_rules(data_dir, tmp_path):
    hg19 = list(read_chromsizes(data_dir / "chromsizes" / "hg19.chrom.sizes").index)
    m = ChromMatcher(hg19)
    assert m.match("chr1") == "chr1"
    assert m.match("1") == "chr1" and m.match("X") == "chrX"
    assert m.match("mm10_chr1") == "chr1" and m.match("hg19_7") == "chr7"
    assert m.match("chrUn_gl000220") is None and m.match("2L") is None
    bare = ChromMatcher(["1", "2", "X", "MT"])
    assert bare.match("chr2") == "2" and bare.match("chrM") == "MT" and bare.match("chrX") == "X"
    cmap = tmp_path / "map.tsv"
    cmap.write_text("# contact name -> sizes name\nchrom_one\tchr1\n1\tchr2\njunk\t-\n")
    mapping = read_chrom_map(cmap)
    mm = ChromMatcher(hg19[:3], hg19, mapping, cmap)
    assert mm.match("chrom_one") == "chr1" and mm.match("1") == "chr2"  # the map wins over chr-prefix rules
    codes, unmatched, excluded = mm.codes(["chrom_one", "junk", "chr3", "chr21", "weird"])
    assert codes == [0, -1, 2, -1, -1] and unmatched == ["weird"] and excluded == ["junk", "chr21"]
    cmap.write_text("chrom_one\tchr99\n")
    with pytest.raises(HicdiffError, match=r"map.tsv: maps to chromosome\(s\) not in the sizes file: chr99"):
        ChromMatcher(hg19, chrom_map=read_chrom_map(cmap), chrom_map_path=cmap)


def test_detect_format(data_dir, tmp_path):
    assert detect_format(next((data_dir / "lee2019_pfc" / "cells").iterdir())) == "contacts"
    assert detect_format(data_dir / "nagano2017_mesc_contacts" / "cells" / "1CDX1.12" / "new_adj.gz") == "contacts"
    assert detect_format(data_dir / "gageseq_mouse_cortex_chr1" / "chr1_data" / "A1_A4.pairs.gz") == "gageseq"
    assert detect_format(data_dir / "dipc_gm12878_cell11" / "gm12878_11.clean.con.txt.gz") == "dipc"
    odd = tmp_path / "odd.txt"
    odd.write_text("a b c\n")
    with pytest.raises(HicdiffError, match=r"odd.txt: cannot tell the format from its first line 'a b c'"):
        detect_format(odd)


def test_expand_cell_folders(data_dir):
    cells = data_dir / "nagano2017_mesc_contacts" / "cells"
    found = expand_inputs(cells)
    assert len(found) == 37
    assert found[0] == (str(cells / "1CDX1.12" / "new_adj.gz"), "1CDX1.12")
    # the same files given one by one share a file name: the folder names the cell
    direct = expand_inputs([cells / "1CDX1.12" / "new_adj.gz", cells / "1CDX1.13" / "new_adj.gz"])
    assert [n for _, n in direct] == ["1CDX1.12", "1CDX1.13"]


# -- lee2019_pfc: 1 Mb bin tables ---------------------------------------------------------------------------

def test_lee_cells_match_their_files_exactly(data_dir, tmp_path):
    lee = data_dir / "lee2019_pfc"
    names = ["181218_21yr_2_B11_AD001_Astro", "181218_21yr_2_A4_AD010_Sst"]
    files = [lee / "cells" / f"{n}.txt.gz" for n in names]
    out = tmp_path / "lee.scool"
    summary = import_cells(files, out, MB, lee / "hg19.chrom.sizes", labels=lee / "cells.tsv")
    assert summary.cells == 2 and not summary.unmatched and not summary.empty_cells
    cs = open_cells(out)
    assert sorted(cs.names) == sorted(names) and cs.resolution == MB and cs.chromnames[-1] == "chrX"
    for name, path in zip(names, files):
        records = [(a, int(b), c, int(d), int(n)) for a, b, c, d, n in (line.split("\t") for line in _lines(path))]
        assert _stored(cs, name) == _reference(records, cs, MB, one_based=False)
        meta = cs.cell_metadata(name)
        assert meta["cell_type"] == name.rsplit("_", 1)[1]
        assert meta["batch"] == "181218_21yr" and meta["source"] == str(path)
        assert int(meta["depth"]) == sum(r[4] for r in records)


def test_lee_fixture(lee_scool):
    cs = open_cells(lee_scool)
    assert len(cs) == 12 and cs.chromnames == ["chr19", "chr20", "chr21", "chr22"]
    assert cs.metadata()["cell_type"].value_counts().to_dict() == {"Astro": 3, "MG": 3, "ODC": 3, "Sst": 3}


# -- Nagano contact files: base pairs, cis and trans --------------------------------------------------------

@pytest.mark.parametrize("resolution", [100_000, MB])
def test_nagano_contacts(data_dir, tmp_path, resolution):
    root = data_dir / "nagano2017_mesc_contacts"
    folders = ["1CDX1.12", "1CDX1.13", "1CDX1.14"]
    out = tmp_path / "nagano.scool"
    summary = import_cells([root / "cells" / f for f in folders], out, resolution,
                           root / "mm9.chrom.sizes.scHiCTools")
    cs = open_cells(out)
    assert cs.names == folders and cs.resolution == resolution
    trans_total = 0
    for name in folders:
        records = [(a, int(b), c, int(d), int(float(n)))
                   for a, b, c, d, n in (line.split() for line in _lines(root / "cells" / name / "new_adj.gz"))]
        assert _stored(cs, name) == _reference(records, cs, resolution, one_based=False)
        trans_total += sum(r[4] for r in records if r[0] != r[2])
    assert summary.trans_dropped == trans_total > 0


def test_nagano_trans_on_request(data_dir, tmp_path):
    root = data_dir / "nagano2017_mesc_contacts"
    path = root / "cells" / "1CDX1.12" / "new_adj.gz"
    import_cells(path, tmp_path / "t.scool", MB, data_dir / "chromsizes" / "mm9.chrom.sizes", trans=True)
    cs = open_cells(tmp_path / "t.scool")
    records = [(a, int(b), c, int(d), int(float(n))) for a, b, c, d, n in (line.split() for line in _lines(path))]
    assert _stored(cs, "new_adj") == _reference(records, cs, MB, one_based=False, trans=True)
    assert cs.pixels("new_adj")["count"].sum() == sum(r[4] for r in records)


# -- GAGE-seq pairs with barcodes, assembly-prefixed chromosome names ---------------------------------------

def test_gageseq_pairs(data_dir, tmp_path):
    root = data_dir / "gageseq_mouse_cortex_chr1"
    files = [root / "chr1_data" / f for f in ("A1_A4.pairs.gz", "A1_A6.pairs.gz", "A1_A8.pairs.gz")]
    out = tmp_path / "gage.scool"
    labels = tmp_path / "barcodes.tsv"
    labels.write_text("cell\tplate\nA1,A4\tp1\nA1_A6\tp2\n")  # raw barcode or cell name both join
    summary = import_cells(files, out, 100_000, root / "mm10_chr_size.txt", fmt="gageseq", labels=labels)
    assert not summary.unmatched  # mm10_chr1 -> chr1 by the prefix rule
    assert summary.unlabelled == ["A1_A8"]
    cs = open_cells(out)
    assert cs.names == ["A1_A4", "A1_A6", "A1_A8"]  # barcode "A1,A4" -> cell A1_A4
    assert [cs.cell_metadata(n).get("plate") for n in cs.names] == ["p1", "p2", None]
    for name, path in zip(cs.names, files):
        fields = [line.split("\t") for line in _lines(path)]
        assert {f[4] for f in fields} == {name.replace("_", ",")}
        records = [(a[5:], int(b), c[5:], int(d), 1) for a, b, c, d, _ in fields]
        assert _stored(cs, name) == _reference(records, cs, 100_000, one_based=True)
        assert cs.pixels(name)["count"].sum() == len(fields)


def test_gageseq_file_with_two_barcodes(data_dir, tmp_path):
    root = data_dir / "gageseq_mouse_cortex_chr1" / "chr1_data"
    both = tmp_path / "A10_A11.pairs"
    both.write_text("\n".join(_lines(root / "A1_A4.pairs.gz")[:500] + _lines(root / "A1_A6.pairs.gz")[:300]) + "\n")
    import_cells(both, tmp_path / "two.scool", MB, data_dir / "chromsizes" / "mm10.chrom.sizes")
    cs = open_cells(tmp_path / "two.scool")
    assert cs.names == ["A1_A4", "A1_A6"]
    assert cs.contacts_per_cell().tolist() == [500, 300]


# -- Dip-C .con, chromosome names 1..22, X -----------------------------------------------------------------

def test_dipc_cell(data_dir, tmp_path):
    path = data_dir / "dipc_gm12878_cell11" / "gm12878_11.clean.con.txt.gz"
    out = tmp_path / "dipc.scool"
    summary = import_cells(path, out, MB, data_dir / "chromsizes" / "hg19.chrom.sizes",
                           chromosomes=["chr21", "chr22"])
    cs = open_cells(out)
    assert cs.names == ["gm12878_11.clean"] and cs.chromnames == ["chr21", "chr22"]
    records = []
    for line in _lines(path):
        if line.startswith(("21,", "22,")):
            left, right = line.split("\t")
            a, b, _ = left.split(",")
            c, d, _ = right.split(",")
            records.append(("chr" + a, int(b), "chr" + c, int(d), 1))
    assert _stored(cs, cs.names[0]) == _reference(records, cs, MB, one_based=True)
    assert "1" in summary.excluded and not summary.unmatched  # reported under the file's own names


# -- 4DN .pairs, written from a real cell -------------------------------------------------------------------

def _write_pairs(records, path, columns="readID chrom1 pos1 chrom2 pos2 strand1 strand2"):
    """A 4DN .pairs file with one line per contact (counts expanded), 1-based positions."""
    names = columns.split()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt") as fh:
        fh.write("## pairs format v1.0\n#sorted: none\n#shape: whole matrix\n#genome_assembly: mm9\n")
        fh.write("#chromsize: chr1 197195432\n")
        fh.write(f"#columns: {columns}\n")
        k = 0
        for c1, p1, c2, p2, n in records:
            for _ in range(n):
                k += 1
                row = {"readID": f"r{k}", "chrom1": c1, "pos1": str(p1 + 1), "chrom2": c2, "pos2": str(p2 + 1),
                       "strand1": "+", "strand2": "-", "mapq1": "60", "mapq2": "60"}
                fh.write("\t".join(row[c] for c in names) + "\n")
    return k


@pytest.mark.parametrize("name,columns", [
    ("cell.pairs.gz", "readID chrom1 pos1 chrom2 pos2 strand1 strand2"),
    ("cell.pairs", "readID chrom2 pos2 chrom1 pos1 mapq1 mapq2 strand1 strand2"),
])
def test_4dn_pairs_from_a_real_cell(data_dir, tmp_path, name, columns):
    root = data_dir / "nagano2017_mesc_contacts"
    src = root / "cells" / "1CDX1.13" / "new_adj.gz"
    records = [(a, int(b), c, int(d), int(float(n))) for a, b, c, d, n in (line.split() for line in _lines(src))]
    pairs = tmp_path / name
    n_lines = _write_pairs(records, pairs, columns)
    assert detect_format(pairs) == "pairs"
    sizes = data_dir / "chromsizes" / "mm9.chrom.sizes"
    import_cells(pairs, tmp_path / "p.scool", 100_000, sizes, fmt="auto", trans=True)
    import_cells(src, tmp_path / "c.scool", 100_000, sizes, fmt="contacts", trans=True)
    from_pairs = open_cells(tmp_path / "p.scool")
    from_contacts = open_cells(tmp_path / "c.scool")
    assert from_pairs.names == ["cell"]
    assert _stored(from_pairs, "cell") == _stored(from_contacts, "new_adj")
    assert from_pairs.pixels("cell")["count"].sum() == n_lines


# -- duplicates, lower triangle, empty cells ----------------------------------------------------------------

def test_duplicates_summed_and_lower_triangle_flipped(data_dir, tmp_path):
    src = data_dir / "nagano2017_mesc_contacts" / "cells" / "1CDX1.14" / "new_adj.gz"
    lines = _lines(src)[:2000]
    swapped = [" ".join([f[2], f[3], f[0], f[1], f[4]]) for f in (line.split() for line in lines)]
    once, twice = tmp_path / "once.txt", tmp_path / "twice.txt"
    once.write_text("\n".join(lines) + "\n")
    twice.write_text("\n".join(lines + swapped) + "\n")
    sizes = data_dir / "chromsizes" / "mm9.chrom.sizes"
    import_cells([once, twice], tmp_path / "d.scool", MB, sizes, trans=True)
    cs = open_cells(tmp_path / "d.scool")
    a, b = cs.pixels("once"), cs.pixels("twice")
    assert (b["bin1_id"] <= b["bin2_id"]).all()
    assert b[["bin1_id", "bin2_id"]].equals(a[["bin1_id", "bin2_id"]])
    assert (b["count"] == 2 * a["count"]).all()
    assert len(a) < len(lines)  # at 1 Mb some of the 2000 contacts share pixels: summed, not repeated


def test_empty_cells_skipped_or_strict(data_dir, tmp_path):
    src = data_dir / "nagano2017_mesc_contacts" / "cells" / "1CDX1.12" / "new_adj.gz"
    lines = _lines(src)
    only_trans = tmp_path / "only_trans.txt"
    only_trans.write_text("\n".join(ln for ln in lines if ln.split()[0] != ln.split()[2]) + "\n")
    empty = tmp_path / "empty.txt.gz"
    with gzip.open(empty, "wt"):
        pass
    sizes = data_dir / "chromsizes" / "mm9.chrom.sizes"
    summary = import_cells([src, only_trans, empty], tmp_path / "e.scool", MB, sizes, fmt="contacts")
    assert summary.cells == 1 and summary.empty_cells == ["only_trans", "empty"]
    assert open_cells(tmp_path / "e.scool").names == ["new_adj"]
    with pytest.raises(HicdiffError, match="cell only_trans has no contacts on the chosen chromosomes"):
        import_cells([src, only_trans], tmp_path / "s.scool", MB, sizes, fmt="contacts", strict=True)
    assert not (tmp_path / "s.scool").exists() and not (tmp_path / "s.scool.partial").exists()


def test_unlabelled_cells_are_reported(data_dir, tmp_path):
    lee = data_dir / "lee2019_pfc"
    names = ["181218_21yr_2_B11_AD001_Astro", "181218_21yr_2_A4_AD010_Sst"]
    table = pd.read_csv(lee / "cells.tsv", sep="\t")
    labels = tmp_path / "labels.tsv"
    table[table["name"] == names[0] + ".txt"].to_csv(labels, sep="\t", index=False)
    files = [lee / "cells" / f"{n}.txt.gz" for n in names]
    sizes = lee / "hg19.chrom.sizes"
    summary = import_cells(files, tmp_path / "l.scool", MB, sizes, labels=labels, chromosomes=["chr22"])
    assert summary.unlabelled == [names[1]]
    cs = open_cells(tmp_path / "l.scool")
    assert cs.cell_metadata(names[0])["cell_type"] == "Astro"
    assert "cell_type" not in cs.cell_metadata(names[1])
    with pytest.raises(HicdiffError, match=f"cell {names[1]} has no row in the labels table"):
        import_cells(files, tmp_path / "l2.scool", MB, sizes, labels=labels, chromosomes=["chr22"], strict=True)
    assert not (tmp_path / "l2.scool").exists()


def test_counts_are_whole_numbers(data_dir, tmp_path):
    src = data_dir / "nagano2017_mesc_contacts" / "cells" / "1CDX1.12" / "new_adj.gz"
    lines = _lines(src)[:50]
    f = lines[7].split()
    lines[7] = " ".join(f[:4] + ["0.5"])
    bad = tmp_path / "half.txt"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(HicdiffError, match=r"half.txt: line 8: count 0.5 is not a non-negative whole number"):
        import_cells(bad, tmp_path / "h.scool", MB, data_dir / "chromsizes" / "mm9.chrom.sizes")


def test_positions_are_binned_like_cooler(data_dir, tmp_path):
    """The last base of a chromosome (1-based pos == length) falls in its last bin, not past it."""
    sizes = read_chromsizes(data_dir / "chromsizes" / "mm9.chrom.sizes")
    length = int(sizes["chr19"])
    pairs = tmp_path / "edge.pairs"
    pairs.write_text("## pairs format v1.0\n#columns: readID chrom1 pos1 chrom2 pos2 strand1 strand2\n"
                     f"r1\tchr19\t1\tchr19\t{length}\t+\t-\n")
    import_cells(pairs, tmp_path / "edge.scool", MB, data_dir / "chromsizes" / "mm9.chrom.sizes",
                 chromosomes=["chr19"])
    px = open_cells(tmp_path / "edge.scool").pixels("edge")
    assert px.to_dict("list") == {"bin1_id": [0], "bin2_id": [int(np.ceil(length / MB)) - 1], "count": [1]}


def test_a_whole_file_with_four_columns(data_dir, tmp_path):
    src = data_dir / "nagano2017_mesc_contacts" / "cells" / "1CDX1.12" / "new_adj.gz"
    four = tmp_path / "four.txt"
    four.write_text("\n".join(" ".join(line.split()[:4]) for line in _lines(src)[:30]) + "\n")
    with pytest.raises(HicdiffError, match=r"four.txt: line 1: expected 5 fields 'chrA posA chrB posB count', found 4"):
        import_cells(four, tmp_path / "f.scool", MB, data_dir / "chromsizes" / "mm9.chrom.sizes", fmt="contacts")
