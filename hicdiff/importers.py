"""Import contact files into one ``.scool`` of raw cells.

Supported inputs (``fmt``):

``contacts``
    Text with one pixel or contact per line, ``chrA posA chrB posB count``, tab- or space-separated, gzipped
    or not (lee2019_pfc cells; Nagano ``cells/<cell>/new_adj.gz``). Positions are 0-based (a bin start or a
    base-pair position).
``pairs``
    4DN ``.pairs`` (gzipped or not): ``#`` header lines, a ``#columns:`` line naming the columns (default
    ``readID chrom1 pos1 chrom2 pos2 strand1 strand2``), one contact per line, 1-based positions.
``gageseq``
    Header-less pairs with a cell barcode column, ``chrom pos1 chrom pos2 barcode``; one file may hold
    several cells, named after their barcodes (characters other than letters, digits, ``.``, ``-`` and
    ``_`` become ``_``, so barcode ``A1,A4`` is cell ``A1_A4``). 1-based positions.
``dipc``
    Dip-C ``.con``: ``chr,pos,hap<TAB>chr,pos,hap``, one contact per line, 1-based positions.
``auto``
    Decided per file from its first lines.

Each file is read with one ``pandas.read_csv`` call with fixed columns and dtypes, binned in one vectorised
step (``pos // resolution`` plus the chromosome's first bin) and reduced with
:func:`hicdiff.io.normalize_pixels` (duplicates summed, lower-triangle pixels flipped, sorted). Chromosome
names are matched to the sizes file by :class:`hicdiff.chroms.ChromMatcher`. Only when a file fails to parse
is it read again line by line, to say which line is wrong.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hicdiff.chroms import ChromMatcher, natural_key, read_chrom_map, read_chromsizes
from hicdiff.errors import HicdiffError
from hicdiff.io import (
    ScoolWriter, cell_name_from_path, make_bins, normalize_pixels, open_cells, read_cell_metadata,
)
from hicdiff.progress import Progress

log = logging.getLogger(__name__)

FORMATS = ("contacts", "pairs", "gageseq", "dipc")

#: Formats whose positions are 1-based (pairs convention); ``contacts`` positions are 0-based.
ONE_BASED = {"pairs": True, "gageseq": True, "dipc": True, "contacts": False}

_PAIRS_DEFAULT_COLUMNS = ["readID", "chrom1", "pos1", "chrom2", "pos2", "strand1", "strand2"]
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


# -- inputs ---------------------------------------------------------------------------------------------

def expand_inputs(inputs) -> list[tuple[str, str]]:
    """Contact files and their cell names from files and folders given by the user.

    A folder is expanded to its files (one cell each, named after the file) and to its sub-folders holding
    exactly one file (a cell folder such as Nagano's ``cells/<cell>/new_adj.gz``, named after the folder).
    When several files given directly share a name (``*/new_adj.gz``), each cell is named after its folder.
    Hidden files are ignored.

    Returns
    -------
    list of (path, cell name)
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found: list[tuple[str, str | None]] = []
    for item in map(str, inputs):
        if not os.path.exists(item):
            raise HicdiffError("no such file or folder", item)
        if os.path.isfile(item):
            found.append((item, None))
            continue
        entries = sorted((e for e in os.scandir(item) if not e.name.startswith(".")),
                         key=lambda e: _natural_name_key(e.name))
        n_before = len(found)
        for e in entries:
            if e.is_file():
                found.append((e.path, None))
            elif e.is_dir():
                files = [f.path for f in os.scandir(e.path) if f.is_file() and not f.name.startswith(".")]
                if len(files) != 1:
                    raise HicdiffError(
                        f"sub-folder {e.name} holds {len(files)} files; a cell folder must hold exactly one "
                        f"contact file (to load each file of {e.name} as a cell, give {e.path} itself)", item)
                found.append((files[0], e.name))
        if len(found) == n_before:
            raise HicdiffError("folder holds no contact files", item)
    base_counts = Counter(cell_name_from_path(p) for p, name in found if name is None)
    named = []
    for p, name in found:
        if name is None:
            base = cell_name_from_path(p)
            name = Path(p).resolve().parent.name if base_counts[base] > 1 else base
        named.append((p, name))
    return named


def _natural_name_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _compression(path: str) -> str | None:
    with open(path, "rb") as fh:
        return "gzip" if fh.read(2) == b"\x1f\x8b" else None


def _open_text(path: str, compression: str | None):
    if compression == "gzip":
        return gzip.open(path, "rt", errors="replace")
    return open(path, errors="replace")


def _header(path: str, compression: str | None, max_lines: int = 10000) -> tuple[list[str], str | None]:
    """Leading ``#`` lines and the first data line (``None`` for a file without data)."""
    header = []
    try:
        with _open_text(path, compression) as fh:
            for line in fh:
                if line.startswith("#"):
                    header.append(line.rstrip("\n"))
                    if len(header) > max_lines:
                        break
                    continue
                if line.strip():
                    return header, line.rstrip("\n")
    except (OSError, EOFError) as e:
        raise HicdiffError(f"cannot be read ({e})", path) from None
    return header, None


def detect_format(path) -> str:
    """The format of a contact file from its name and first lines (see the module docstring)."""
    path = str(path)
    header, line = _header(path, _compression(path))
    if any(h.startswith("## pairs format") or h.startswith("#columns:") for h in header):
        return "pairs"
    if line is None:
        return "pairs" if ".pairs" in Path(path).name else "contacts"
    tab_fields = line.split("\t")
    if len(tab_fields) == 2 and tab_fields[0].count(",") == 2:
        return "dipc"
    fields = line.split()
    if len(fields) == 5:
        return "contacts" if _is_number(fields[4]) else "gageseq"
    if len(fields) >= 7 and fields[5] in "+-" and fields[6] in "+-":
        return "pairs"
    raise HicdiffError(
        f"cannot tell the format from its first line {line[:80]!r}; give --format "
        f"({'|'.join(FORMATS)})", path)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


# -- reading one file -----------------------------------------------------------------------------------

@dataclass
class _Table:
    """Contacts of one file as read: chromosome columns categorical, positions int64, counts float64."""

    path: str
    fmt: str
    compression: str | None
    n_header: int
    chrom1: pd.Categorical
    pos1: np.ndarray
    chrom2: pd.Categorical
    pos2: np.ndarray
    count: np.ndarray
    cell: pd.Categorical | None = None


def read_contact_table(path, fmt: str) -> _Table:
    """Read a contact file of format ``fmt`` (one of :data:`FORMATS`) without binning it."""
    path = str(path)
    if not os.path.exists(path):
        raise HicdiffError("no such file", path)
    if fmt not in FORMATS:
        raise HicdiffError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})", path)
    compression = _compression(path)
    header, first = _header(path, compression)
    n_header = len(header)
    columns = _pairs_columns(header, path) if fmt == "pairs" else None
    try:
        df = _read_csv(path, fmt, compression, n_header, columns) if first is not None else None
    except (ValueError, pd.errors.ParserError) as e:
        _raise_first_bad_line(path, fmt, compression, n_header, columns, str(e))
    except (EOFError, OSError, zlib.error) as e:
        what = "gzip file" if compression == "gzip" else "file"
        raise HicdiffError(f"cannot be read to the end: a truncated or damaged {what} ({e})", path) from None
    if df is None or len(df) == 0:
        empty = pd.Categorical([])
        z = np.zeros(0, dtype=np.int64)
        return _Table(path, fmt, compression, n_header, empty, z, empty, z, z.astype(float),
                      empty if fmt == "gageseq" else None)
    if df.isna().to_numpy().any():
        _raise_first_bad_line(path, fmt, compression, n_header, columns, "missing fields")
    if fmt == "dipc":
        # column 2 holds "hap1<TAB>chrom2": few distinct values, so split the categories, not the rows
        cats = df[2].cat.categories
        if not all("\t" in c for c in cats):
            _raise_first_bad_line(path, fmt, compression, n_header, columns, "no tab")
        names = [c.split("\t", 1)[1] for c in cats]
        unique = sorted(set(names))
        recode = np.array([unique.index(n) for n in names] + [-1])
        df[2] = pd.Categorical.from_codes(recode[df[2].cat.codes.to_numpy()], unique)
    if fmt == "pairs":
        c1, p1, c2, p2 = (columns.index(c) for c in ("chrom1", "pos1", "chrom2", "pos2"))
        df = df[[c1, p1, c2, p2]]
        df.columns = range(4)
    count = df[4].to_numpy(dtype=np.float64) if fmt == "contacts" else np.ones(len(df))
    return _Table(
        path, fmt, compression, n_header,
        chrom1=df[0].array, pos1=df[1].to_numpy(np.int64), chrom2=df[2].array, pos2=df[3].to_numpy(np.int64),
        count=count, cell=df[4].array if fmt == "gageseq" else None,
    )


def _pairs_columns(header: list[str], path: str) -> list[str]:
    for h in header:
        if h.startswith("#columns:"):
            cols = h[len("#columns:"):].split()
            missing = [c for c in ("chrom1", "pos1", "chrom2", "pos2") if c not in cols]
            if missing:
                raise HicdiffError(f"the #columns: line lacks {', '.join(missing)}", path)
            return cols
    return _PAIRS_DEFAULT_COLUMNS


def _read_csv(path, fmt, compression, n_header, columns) -> pd.DataFrame:
    common = dict(header=None, skiprows=n_header, compression=compression, engine="c", comment=None)
    cat = "category"
    if fmt in ("contacts", "gageseq", "dipc"):
        last = np.float64 if fmt == "contacts" else cat
        df = pd.read_csv(path, sep="," if fmt == "dipc" else r"\s+",
                         dtype={0: cat, 1: np.int64, 2: cat, 3: np.int64, 4: last}, **common)
        if df.shape[1] != 5:
            raise ValueError(f"{df.shape[1]} columns")
        return df
    idx = {c: columns.index(c) for c in ("chrom1", "pos1", "chrom2", "pos2")}
    dtype = {idx["chrom1"]: cat, idx["chrom2"]: cat, idx["pos1"]: np.int64, idx["pos2"]: np.int64}
    df = pd.read_csv(path, sep="\t", dtype=dtype, usecols=sorted(idx.values()), **common)
    if len(df.columns) != 4:
        raise ValueError("wrong number of columns")
    return df


_EXPECTED = {
    "contacts": "'chrA posA chrB posB count'",
    "gageseq": "'chrom pos1 chrom pos2 barcode'",
    "dipc": "'chr,pos,hap<TAB>chr,pos,hap'",
}


def _line_problem(fmt: str, line: str, columns) -> str | None:
    """What is wrong with one data line (``None`` if it parses)."""
    if fmt == "dipc":
        parts = line.split("\t")
        fields = [f for p in parts for f in p.split(",")]
        if len(parts) != 2 or len(fields) != 6:
            return f"expected {_EXPECTED[fmt]}"
        positions, counts = (fields[1], fields[4]), ()
    elif fmt == "pairs":
        fields = line.split("\t")
        if len(fields) < len(columns) and len(fields) <= max(columns.index(c) for c in ("pos1", "pos2")):
            return f"expected {len(columns)} tab-separated fields ({' '.join(columns)}), found {len(fields)}"
        positions, counts = (fields[columns.index("pos1")], fields[columns.index("pos2")]), ()
    else:
        fields = line.split()
        if len(fields) != 5:
            return f"expected 5 fields {_EXPECTED[fmt]}, found {len(fields)}"
        positions = (fields[1], fields[3])
        counts = (fields[4],) if fmt == "contacts" else ()
    for p in positions:
        if not p.strip().lstrip("-").isdigit():
            return f"position {p!r} is not a whole number"
    for c in counts:
        if not _is_number(c) or c.strip().lower() in ("nan", "inf", "-inf", "infinity"):
            return f"count {c!r} is not a number"
    return None


def _data_lines(path, compression, n_header):
    """(line number, line) of the data lines, skipping the header and blank lines like read_csv does."""
    with _open_text(path, compression) as fh:
        for lineno, line in enumerate(fh, 1):
            if lineno <= n_header or not line.strip():
                continue
            yield lineno, line.rstrip("\n")


def _raise_first_bad_line(path, fmt, compression, n_header, columns, reason):
    for lineno, line in _data_lines(path, compression, n_header):
        problem = _line_problem(fmt, line, columns)
        if problem:
            raise HicdiffError(f"line {lineno}: {problem}: {line[:80]!r} (read as {fmt})", path)
    raise HicdiffError(f"cannot be read as {fmt} ({reason})", path)


def _line_of_row(table: _Table, row: int) -> tuple[int, str]:
    for k, (lineno, line) in enumerate(_data_lines(table.path, table.compression, table.n_header)):
        if k == row:
            return lineno, line
    return -1, ""


# -- binning --------------------------------------------------------------------------------------------

@dataclass
class Genome:
    """The bins contacts are assigned to: chromosome sizes, resolution and each chromosome's first bin."""

    chromsizes: pd.Series
    resolution: int
    matcher: ChromMatcher
    sizes_path: str = ""

    def __post_init__(self):
        self.resolution = int(self.resolution)
        self.bins = make_bins(self.chromsizes, self.resolution)
        n = -(-self.chromsizes.to_numpy(np.int64) // self.resolution)
        self.offsets = np.concatenate([[0], np.cumsum(n)])[:-1].astype(np.int64)
        self.lengths = self.chromsizes.to_numpy(np.int64)
        self.names = list(self.chromsizes.index)


@dataclass
class FileStats:
    """What happened to the contacts of one file (counts are contacts, i.e. summed ``count``)."""

    unmatched: Counter = field(default_factory=Counter)
    excluded: Counter = field(default_factory=Counter)
    trans_dropped: float = 0.0


def bin_table(table: _Table, genome: Genome, trans: bool = False) -> tuple[list, FileStats]:
    """Pixels of each cell of a contact table.

    Returns
    -------
    cells : list of (barcode or ``None``, DataFrame)
        Pixels ``bin1_id``, ``bin2_id``, ``count``: upper triangle, duplicates summed, sorted. ``None`` names
        the file's single cell (all formats but ``gageseq``).
    stats : FileStats
    """
    stats = FileStats()
    _check_counts(table)
    dropped: dict[str, str] = {}
    code1, drop1 = _chrom_codes(table.chrom1, genome, dropped)
    code2, drop2 = _chrom_codes(table.chrom2, genome, dropped)
    if dropped:
        per_name = _count_dropped(drop1, drop2, table.count, len(dropped))
        for (n, kind), c in zip(dropped.items(), per_name):
            (stats.unmatched if kind == "unmatched" else stats.excluded)[n] += float(c)
    keep = (code1 >= 0) & (code2 >= 0)
    if stats.unmatched and not keep.any() and not stats.excluded:
        names = ", ".join(sorted(stats.unmatched, key=natural_key)[:6])
        raise HicdiffError(
            f"no chromosome name matches the sizes file {genome.sizes_path} (names here: {names}; sizes file: "
            f"{', '.join(genome.names[:4])} ...); map them with --chrom-map", table.path)
    cis = code1 == code2
    if not trans:
        stats.trans_dropped = float(table.count[keep & ~cis].sum())
        keep &= cis
    rows = np.flatnonzero(keep)
    c1, c2 = code1[rows], code2[rows]
    shift = 1 if ONE_BASED[table.fmt] else 0
    p1, p2 = table.pos1[rows] - shift, table.pos2[rows] - shift
    for c, p in ((c1, p1), (c2, p2)):
        bad = (p < 0) | (p >= genome.lengths[c])
        if bad.any():
            k = int(np.argmax(bad))
            _raise_position(table, genome, int(rows[k]), int(c[k]), int(p[k]) + shift, shift)
    b1 = genome.offsets[c1] + p1 // genome.resolution
    b2 = genome.offsets[c2] + p2 // genome.resolution
    counts = table.count[rows]
    if table.cell is None:
        return [(None, normalize_pixels(b1, b2, counts))], stats
    cell_codes = np.asarray(table.cell.codes)[rows]
    cells = []
    for k, barcode in enumerate(table.cell.categories):
        sel = cell_codes == k
        cells.append((str(barcode), normalize_pixels(b1[sel], b2[sel], counts[sel])))
    return cells, stats


def _chrom_codes(chrom: pd.Categorical, genome: Genome, dropped: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per row: index of the chromosome in the genome (-1: dropped) and index of the dropped name in
    ``dropped`` (name -> "unmatched" or "excluded"; -1: kept), which this call extends."""
    cats = [str(c) for c in chrom.categories]
    codes, unmatched, excluded = genome.matcher.codes(cats)
    dropped.update({n: "unmatched" for n in unmatched})
    dropped.update({n: "excluded" for n in excluded})
    names = list(dropped)
    drop_index = [names.index(n) if code < 0 else -1 for n, code in zip(cats, codes)]
    raw = np.asarray(chrom.codes)  # -1 (missing) picks the trailing -1 of both lookups
    return np.asarray(codes + [-1], dtype=np.int64)[raw], np.asarray(drop_index + [-1], dtype=np.int64)[raw]


def _count_dropped(d1, d2, count, n_names) -> np.ndarray:
    """Contacts per dropped name, each contact counted once per distinct dropped name at its ends."""
    first = d1 >= 0
    second = (d2 >= 0) & (d2 != d1)
    return (np.bincount(d1[first], weights=count[first], minlength=n_names)
            + np.bincount(d2[second], weights=count[second], minlength=n_names))


def _check_counts(table: _Table) -> None:
    c = table.count
    bad = ~np.isfinite(c) | (c < 0) | (c != np.floor(c))
    if bad.any():
        lineno, line = _line_of_row(table, int(np.argmax(bad)))
        raise HicdiffError(
            f"line {lineno}: count {c[np.argmax(bad)]:g} is not a non-negative whole number of contacts: "
            f"{line[:80]!r}", table.path)


def _raise_position(table: _Table, genome: Genome, row: int, chrom_code: int, pos: int, shift: int):
    lineno, line = _line_of_row(table, row)
    chrom, length = genome.names[chrom_code], int(genome.lengths[chrom_code])
    where = "before the start" if pos - shift < 0 else "beyond the end"
    raise HicdiffError(
        f"line {lineno}: position {pos} is {where} of {chrom} ({length} bp in {genome.sizes_path}); "
        f"wrong assembly or chromosome sizes file? {line[:80]!r}", table.path)


# -- the importer ---------------------------------------------------------------------------------------

@dataclass
class ImportSummary:
    """What :func:`import_cells` did."""

    output: str
    cells: int
    files: int
    empty_cells: list[str]
    contacts: float
    unmatched: dict
    excluded: dict
    trans_dropped: float
    unlabelled: list[str]
    seconds: float


def import_cells(inputs, output, resolution, chromsizes, fmt="auto", labels=None, chrom_map=None,
                 trans=False, strict=False, chromosomes=None) -> ImportSummary:
    """Import contact files into one ``.scool`` of raw cells at one resolution.

    Parameters
    ----------
    inputs : str, Path or list of them
        Contact files and folders (see :func:`expand_inputs`).
    output : str
        The ``.scool`` to write; written under ``OUTPUT.partial`` and renamed when complete.
    resolution : int
        Bin size in bp.
    chromsizes : str
        Chromosome sizes file; its chromosomes (natural order) make the bin table.
    fmt : str
        One of :data:`FORMATS` or ``"auto"`` (decided per file).
    labels : str, optional
        TSV of per-cell metadata (:func:`hicdiff.io.read_cell_metadata`); every column is stored with the cell.
    chrom_map : str, optional
        Two-column TSV mapping chromosome names of the inputs to the sizes file (see :mod:`hicdiff.chroms`).
    trans : bool
        Keep inter-chromosomal contacts (default: cis only).
    strict : bool
        Make errors of what is otherwise reported and skipped: empty cells, chromosome names that match
        nothing, cells without a row in ``labels``.
    chromosomes : list of str, optional
        Restrict the bin table to these chromosomes (names as in the sizes file); contacts elsewhere are
        dropped without a warning.
    """
    t0 = time.perf_counter()
    if fmt != "auto" and fmt not in FORMATS:
        raise HicdiffError(f"unknown format {fmt!r} (expected auto or one of {', '.join(FORMATS)})")
    resolution = int(resolution)
    if resolution <= 0:
        raise HicdiffError(f"resolution must be a positive number of bp, got {resolution}")
    all_sizes = read_chromsizes(chromsizes)
    sizes = read_chromsizes(chromsizes, chromosomes) if chromosomes is not None else all_sizes
    mapping = read_chrom_map(chrom_map) if chrom_map is not None else None
    matcher = ChromMatcher(sizes.index, all_sizes.index, mapping, chrom_map)
    genome = Genome(sizes, resolution, matcher, str(chromsizes))
    files = expand_inputs(inputs)
    meta_table = read_cell_metadata(labels) if labels is not None else None
    output = str(output)
    if os.path.isdir(output):
        raise HicdiffError("is a folder; give the .scool file to write", output)
    side_inputs = [str(p) for p in (chromsizes, labels, chrom_map) if p is not None]
    metadata = {
        "counts": "raw contacts", "resolution": resolution, "chromsizes": str(chromsizes),
        "cis_only": not trans, "source_format": fmt,
    }
    log.info("loading %d file(s) at %d bp against %s (%d chromosomes)", len(files), resolution,
             chromsizes, len(sizes))

    seen: dict[str, str] = {}
    empty, unlabelled = [], []
    unmatched, excluded = Counter(), Counter()
    trans_dropped = contacts = 0.0
    n_cells = 0
    with ScoolWriter(output, genome.bins, metadata, inputs=[p for p, _ in files] + side_inputs) as writer, \
            Progress(len(files), "read", unit="files", logger=log) as bar:
        for path, cell_name in files:
            file_fmt = detect_format(path) if fmt == "auto" else fmt
            table = read_contact_table(path, file_fmt)
            cells, stats = bin_table(table, genome, trans=trans)
            unmatched.update(stats.unmatched)
            excluded.update(stats.excluded)
            trans_dropped += stats.trans_dropped
            if strict and stats.unmatched:
                raise HicdiffError(
                    f"chromosome name(s) not in the sizes file: {_counts_text(stats.unmatched)} "
                    "(--strict; map them with --chrom-map or drop --strict)", path)
            for barcode, pixels in cells:
                name = cell_name if barcode is None else _BAD_NAME_CHARS.sub("_", barcode)
                if name in seen:
                    raise HicdiffError(f"cell name {name!r} also comes from {seen[name]}", path)
                seen[name] = path
                if pixels.empty:
                    if strict:
                        raise HicdiffError(f"cell {name} has no contacts on the chosen chromosomes (--strict)",
                                           path)
                    empty.append(name)
                    continue
                cell_meta = {}
                if meta_table is not None:
                    # a barcode cell may be listed under its raw barcode ("A1,A4") or its name ("A1_A4")
                    key = barcode if barcode is not None and barcode in meta_table.index else name
                    if key in meta_table.index:
                        cell_meta = meta_table.loc[key].to_dict()
                    elif strict:
                        raise HicdiffError(f"cell {name} has no row in the labels table {labels} (--strict)",
                                           path)
                    else:
                        unlabelled.append(name)
                cell_meta.setdefault("source", path)
                writer.add(name, pixels, cell_meta)
                contacts += float(pixels["count"].sum())
                n_cells += 1
            bar.update()
        if n_cells == 0:
            raise HicdiffError(
                f"no cell has contacts on the chosen chromosomes ({len(empty)} empty); nothing written", output)

    summary = ImportSummary(output, n_cells, len(files), empty, contacts, dict(unmatched), dict(excluded),
                            trans_dropped, unlabelled, time.perf_counter() - t0)
    _log_summary(summary)
    return summary


def _counts_text(counter) -> str:
    items = sorted(counter.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{n} ({c:,.0f} contacts)" for n, c in items[:10])
    return text + (f" and {len(items) - 10} more" if len(items) > 10 else "")


def _log_summary(s: ImportSummary) -> None:
    log.info("%d cells, %s contacts from %d file(s) in %.1f s -> %s", s.cells, f"{s.contacts:,.0f}", s.files,
             s.seconds, s.output)
    if s.unmatched:
        log.warning("chromosome names not in the sizes file, contacts dropped: %s", _counts_text(s.unmatched))
    if s.excluded:
        log.info("contacts outside the chosen chromosomes dropped: %s", _counts_text(s.excluded))
    if s.trans_dropped:
        log.info("%s trans (inter-chromosomal) contacts dropped; keep them with --trans",
                 f"{s.trans_dropped:,.0f}")
    if s.empty_cells:
        log.warning("%d empty cell(s) skipped: %s", len(s.empty_cells),
                    ", ".join(s.empty_cells[:5]) + (" ..." if len(s.empty_cells) > 5 else ""))
    if s.unlabelled:
        log.warning("%d cell(s) have no row in the labels table: %s", len(s.unlabelled),
                    ", ".join(s.unlabelled[:5]) + (" ..." if len(s.unlabelled) > 5 else ""))


# -- describing a cooler of cells -----------------------------------------------------------------------

def describe_cells(uri, max_levels: int = 12) -> dict:
    """Summary of a ``.scool``, ``.cool`` or ``.mcool::resolutions/N``: what ``hicdiff info`` prints.

    Returns
    -------
    dict
        ``path``, ``cells``, ``resolution`` (bp), ``chromosomes`` (name -> bins), ``contacts`` (median, min,
        max over cells) and ``labels`` (column -> value counts, or the number of distinct values when there
        are more than ``max_levels``).
    """
    cs = open_cells(uri)
    totals = cs.contacts_per_cell()
    meta = cs.metadata()
    labels = {}
    for col in meta.columns:
        if col == "source":
            continue
        values = meta[col].dropna().astype(str)
        numbers = pd.to_numeric(values, errors="coerce")
        counts = values.value_counts()
        if len(values) and numbers.notna().all() and len(counts) > 2:
            labels[col] = {"min": float(numbers.min()), "median": float(numbers.median()),
                           "max": float(numbers.max())}
        elif len(counts) <= max_levels:
            labels[col] = {str(k): int(v) for k, v in counts.sort_index().items()}
        else:
            labels[col] = f"{len(counts)} distinct values"
    return {
        "path": str(uri),
        "cells": len(cs),
        "resolution": int(cs.resolution),
        "chromosomes": {c: cs.n_bins(c) for c in cs.chromnames},
        "bins": int(sum(cs.n_bins(c) for c in cs.chromnames)),
        "contacts": {"median": float(totals.median()), "min": float(totals.min()), "max": float(totals.max()),
                     "total": float(totals.sum())},
        "labels": labels,
    }
