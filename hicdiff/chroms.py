"""Chromosome sizes and the matching of chromosome names in contact files to them.

Contact files name chromosomes in several ways (``chr1``, ``1``, ``mm10_chr1``). A :class:`ChromMatcher`
maps each name found in a file to a chromosome of the sizes file, in this order:

1. an explicit mapping (``--chrom-map FILE``: two tab-separated columns, name in the contact file ->
   name in the sizes file; the target ``-`` drops that chromosome);
2. the name itself;
3. the ``chr`` prefix added or removed (``1`` <-> ``chr1``; ``M``/``MT`` <-> ``chrM``);
4. an assembly prefix removed: everything up to and including the first ``_`` (``mm10_chr1`` -> ``chr1``,
   ``hg19_1`` -> ``1``), then rules 2 and 3 again.

A name that matches nothing is left out (its contacts are counted and reported), never guessed further.
"""

from __future__ import annotations

import os
import re

import pandas as pd

from hicdiff.errors import HicdiffError

_NUMBERED = re.compile(r"^(?:chr)?(\d+)$", re.IGNORECASE)
_SPECIAL_ORDER = {"X": 0, "Y": 1, "M": 2, "MT": 2}


def natural_key(name: str):
    """Sort key: numbered chromosomes by number, then X, Y, M, then everything else by name."""
    m = _NUMBERED.match(name)
    if m:
        return (0, int(m.group(1)), "")
    bare = name[3:] if name.lower().startswith("chr") else name
    if bare.upper() in _SPECIAL_ORDER:
        return (1, _SPECIAL_ORDER[bare.upper()], "")
    return (2, 0, name)


def read_chromsizes(path, chromosomes=None) -> pd.Series:
    """Chromosome sizes in base pairs from a two-column text file (name, length; tab or space separated).

    Chromosomes come out in natural order (1, 2, ..., 10, ..., X, Y, M, others) whatever the file's order.

    Parameters
    ----------
    path : str
        Sizes file; extra columns are ignored, lines starting with ``#`` are comments.
    chromosomes : list of str, optional
        Keep only these chromosomes (names as in the sizes file); an unknown name is an error.

    Returns
    -------
    Series
        Length in bp indexed by chromosome name.
    """
    path = str(path)
    if not os.path.exists(path):
        raise HicdiffError("no such file (chromosome sizes)", path)
    if os.path.isdir(path):
        raise HicdiffError("is a directory, expected a chromosome sizes file", path)
    sizes = {}
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode()
    except UnicodeDecodeError as e:
        raise HicdiffError(f"not a text file of chromosome sizes (byte {e.start} is not UTF-8)", path) from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 2 or not fields[1].isdigit():
            raise HicdiffError(
                f"line {lineno}: expected 'name<TAB>length in bp', found {line.strip()[:60]!r}", path)
        if fields[0] in sizes:
            raise HicdiffError(f"line {lineno}: chromosome {fields[0]} is listed twice", path)
        sizes[fields[0]] = int(fields[1])
    if not sizes:
        raise HicdiffError("no chromosomes in the sizes file", path)
    series = pd.Series(sizes, dtype="int64").rename_axis("name").rename("length")
    series = series[sorted(series.index, key=natural_key)]
    if chromosomes is not None:
        chromosomes = list(chromosomes)
        unknown = [c for c in chromosomes if c not in series.index]
        if unknown:
            raise HicdiffError(
                f"chromosome(s) {', '.join(unknown)} not in the sizes file "
                f"(it has {', '.join(series.index[:5])}{' ...' if len(series) > 5 else ''})", path)
        series = series[sorted(chromosomes, key=natural_key)]
    return series


def read_chrom_map(path) -> dict[str, str | None]:
    """Name in contact files -> name in the sizes file, from a two-column TSV (target ``-``: drop)."""
    path = str(path)
    if not os.path.exists(path):
        raise HicdiffError("no such file (chromosome map)", path)
    mapping = {}
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) != 2:
                raise HicdiffError(
                    f"line {lineno}: expected 'name in contact files<TAB>name in sizes file (or -)', "
                    f"found {line.strip()[:60]!r}", path)
            mapping[fields[0]] = None if fields[1] == "-" else fields[1]
    return mapping


def _chr_variants(name: str) -> list[str]:
    if name.lower().startswith("chr"):
        bare = name[3:]
        return [bare, "MT"] if bare.upper() == "M" else [bare]
    if name.upper() == "MT":
        return ["chrM", "chrMT"]
    return ["chr" + name]


class ChromMatcher:
    """Match chromosome names of contact files to the chromosomes of a sizes file.

    Parameters
    ----------
    chromnames : list of str
        Chromosomes of the sizes file (after any ``chromosomes=`` restriction).
    all_chromnames : list of str, optional
        Every chromosome of the sizes file; a name that matches one of these but not ``chromnames`` is
        *excluded* (restricted away on purpose) rather than *unmatched*.
    chrom_map : dict, optional
        Explicit mapping (see :func:`read_chrom_map`); checked first. Targets must be in the sizes file.
    chrom_map_path : str, optional
        Where ``chrom_map`` came from (for messages).
    """

    def __init__(self, chromnames, all_chromnames=None, chrom_map=None, chrom_map_path=None):
        self.chromnames = list(chromnames)
        self.all_chromnames = set(all_chromnames if all_chromnames is not None else chromnames)
        self.chrom_map = dict(chrom_map or {})
        bad = sorted({t for t in self.chrom_map.values() if t is not None and t not in self.all_chromnames})
        if bad:
            raise HicdiffError(
                f"maps to chromosome(s) not in the sizes file: {', '.join(bad[:5])}", chrom_map_path)
        self._cache: dict[str, str | None] = {}

    def _lookup(self, name: str) -> str | None:
        if name in self.chrom_map:
            return self.chrom_map[name]
        candidates = [name, *_chr_variants(name)]
        if "_" in name:
            rest = name.split("_", 1)[1]
            candidates += [rest, *_chr_variants(rest)]
        return next((c for c in candidates if c in self.all_chromnames), None)

    def match(self, name: str) -> str | None:
        """The sizes-file chromosome for ``name`` (``None`` when nothing matches)."""
        if name not in self._cache:
            self._cache[name] = self._lookup(str(name))
        return self._cache[name]

    def codes(self, names) -> tuple[list[int], list[str], list[str]]:
        """For a list of names: index into ``chromnames`` (-1 = dropped), unmatched names, excluded names."""
        index = {c: k for k, c in enumerate(self.chromnames)}
        codes, unmatched, excluded = [], [], []
        for n in names:
            target = self.match(n)
            if target is None:
                # mapped to "-" on purpose counts as excluded, not unmatched
                (excluded if n in self.chrom_map else unmatched).append(n)
                codes.append(-1)
            elif target not in index:
                excluded.append(n)
                codes.append(-1)
            else:
                codes.append(index[target])
        return codes, unmatched, excluded
