"""Reading and writing single-cell coolers.

A :class:`CellSet` is a collection of cells that share one bin table: the cells of a ``.scool``, a list of
per-cell ``.cool`` files, or ``FILE.mcool::resolutions/N`` URIs. :class:`ScoolWriter` writes cells one at a
time into a ``.scool`` under a temporary name and renames it when complete, so a crash never leaves a file
that looks finished and an input is never overwritten.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import cooler
import h5py
import numpy as np
import pandas as pd

from hicdiff import __version__
from hicdiff.balance import WEIGHT_NOTE, cell_weights, chrom_offsets, weight_attrs
from hicdiff.errors import HicdiffError
from hicdiff.safety import check_hdf5, check_output, lock_output

log = logging.getLogger(__name__)

#: Extensions stripped from file names to give cell names (longest first).
CELL_NAME_SUFFIXES = (
    ".pairs.gz", ".pairs", ".con.txt.gz", ".con.txt", ".con.gz", ".con", ".txt.gz", ".txt", ".tsv.gz",
    ".tsv", ".gz", ".mcool", ".cool",
)


def cell_name_from_path(path) -> str:
    """Cell name for a per-cell file: its file name without data extensions."""
    name = Path(str(path).split("::")[0]).name
    for suffix in CELL_NAME_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _split_uri(uri: str) -> tuple[str, str]:
    path, _, group = str(uri).partition("::")
    return path, group


def _check_readable(path: str) -> None:
    if not os.path.exists(path):
        raise HicdiffError("no such file", path)
    if os.path.isdir(path):
        raise HicdiffError("is a directory, expected a cooler file", path)
    check_hdf5(path)


def _resolutions(path: str) -> list[int]:
    with h5py.File(path, "r") as f:
        if "resolutions" not in f:
            return []
        return sorted(int(r) for r in f["resolutions"])


def _expand(uri: str) -> dict[str, str]:
    """Cell name -> cooler URI for one input given on the command line or in the API."""
    path, group = _split_uri(uri)
    _check_readable(path)
    if cooler.fileops.is_scool_file(path) and not group:
        cells = cooler.fileops.list_scool_cells(path)
        return {c.rsplit("/", 1)[-1]: f"{path}::{c}" for c in cells}
    if cooler.fileops.is_multires_file(path) and not group:
        res = _resolutions(path)
        raise HicdiffError(
            f"is a multi-resolution cooler; name a resolution as {path}::resolutions/N "
            f"(available: {', '.join(map(str, res))})", path)
    if group:
        with h5py.File(path, "r") as f:
            if group not in f:
                res = _resolutions(path)
                hint = f" (available resolutions: {', '.join(map(str, res))})" if res else ""
                raise HicdiffError(f"has no group {group}{hint}", path)
    if not cooler.fileops.is_cooler(f"{path}::{group}" if group else path):
        raise HicdiffError("not a cooler file (HDF5 without a cooler's tables)", path)
    # FILE.scool::/cells/NAME is cell NAME; any other cooler is named after its file
    name = group.rstrip("/").rsplit("/", 1)[-1] if group.strip("/").startswith("cells/") else None
    return {name or cell_name_from_path(path): f"{path}::{group}" if group else path}


class CellSet:
    """Cells sharing one bin table.

    Parameters
    ----------
    uris : dict
        Cell name -> cooler URI, in the order cells are processed.
    source : str
        Where the cells came from (for messages).
    """

    def __init__(self, uris: dict[str, str], source: str = ""):
        if not uris:
            raise HicdiffError("no cells found", source or None)
        self.uris = dict(uris)
        self.source = source
        first = cooler.Cooler(next(iter(self.uris.values())))
        self.bins = first.bins()[["chrom", "start", "end"]][:]
        self.bins["chrom"] = self.bins["chrom"].astype(str)
        self.chromsizes = first.chromsizes.astype(np.int64)
        self.resolution = first.binsize
        if self.resolution is None:
            raise HicdiffError("variable-size bins are not supported", source or None)
        offsets = first._load_dset("indexes/chrom_offset")
        self.chrom_bins = {
            c: (int(offsets[k]), int(offsets[k + 1])) for k, c in enumerate(first.chromnames)
        }
        self._info = {}

    # -- cells ------------------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self.uris)

    def __len__(self) -> int:
        return len(self.uris)

    def __iter__(self):
        return iter(self.uris)

    def subset(self, names) -> "CellSet":
        """The named cells, in the given order; unknown names are an error that lists them."""
        names = list(names)
        unknown = [n for n in names if n not in self.uris]
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise HicdiffError(f"{len(unknown)} cell name(s) not found: {shown}", self.source or None)
        return CellSet({n: self.uris[n] for n in names}, self.source)

    def cooler(self, name: str) -> cooler.Cooler:
        return cooler.Cooler(self.uris[name])

    def info(self, name: str) -> dict:
        if name not in self._info:
            self._info[name] = self.cooler(name).info
        return self._info[name]

    def cell_metadata(self, name: str) -> dict:
        """The per-cell metadata stored by ``hicdiff load`` (labels, batch, source file)."""
        meta = self.info(name).get("metadata", {})
        if isinstance(meta, str):
            meta = json.loads(meta)
        return dict(meta.get("cell", {})) if isinstance(meta, dict) else {}

    def metadata(self) -> pd.DataFrame:
        """Per-cell metadata as a table indexed by cell name."""
        rows = {n: self.cell_metadata(n) for n in self.names}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("cell")

    # -- pixels -----------------------------------------------------------------------------------------
    @property
    def chromnames(self) -> list[str]:
        return list(self.chrom_bins)

    def n_bins(self, chrom: str) -> int:
        lo, hi = self.chrom_bins[chrom]
        return hi - lo

    def pixels(self, name: str) -> pd.DataFrame:
        """All pixels of a cell: ``bin1_id``, ``bin2_id`` (genome-wide bin ids), ``count``."""
        return self.cooler(name).pixels()[:]

    def cis_pixels(self, name: str, chrom: str, c: cooler.Cooler | None = None) -> pd.DataFrame:
        """Pixels of one chromosome with bin ids local to it (0 = the chromosome's first bin)."""
        c = c or self.cooler(name)
        lo, hi = self.chrom_bins[chrom]
        offsets = c._load_dset("indexes/bin1_offset")
        px = c.pixels()[offsets[lo]: offsets[hi]]
        px = px[px["bin2_id"] < hi]
        return pd.DataFrame({
            "bin1_id": px["bin1_id"].to_numpy() - lo,
            "bin2_id": px["bin2_id"].to_numpy() - lo,
            "count": px["count"].to_numpy(),
        })

    def contacts_per_cell(self) -> pd.Series:
        """Total contacts of each cell (upper triangle incl. the main diagonal)."""
        totals = {}
        for n in self.names:
            path, group = _split_uri(self.uris[n])
            with h5py.File(path, "r") as f:
                totals[n] = float(f[group or "/"]["pixels/count"][:].sum())
        return pd.Series(totals, name="contacts")


def open_cells(inputs, cells=None) -> CellSet:
    """Open cells from a ``.scool``, per-cell ``.cool`` files or ``.mcool::resolutions/N`` URIs.

    Parameters
    ----------
    inputs : str, Path or list of them
        One ``.scool`` (all its cells), or one or more single-cell cooler URIs.
    cells : list of str, optional
        Keep only these cells, in this order.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = [str(i) for i in inputs]
    uris = {}
    for uri in inputs:
        for name, u in _expand(uri).items():
            if name in uris:
                raise HicdiffError(f"cell name {name!r} occurs twice among the inputs", uri)
            uris[name] = u
    cs = CellSet(uris, source=inputs[0] if len(inputs) == 1 else f"{inputs[0]} (+{len(inputs) - 1} more)")
    if len(inputs) > 1:
        _check_same_bins(cs, inputs)
    return cs.subset(cells) if cells is not None else cs


def _check_same_bins(cs: CellSet, inputs) -> None:
    for uri in inputs[1:]:
        c = cooler.Cooler(next(iter(_expand(uri).values())))
        same = (list(c.chromnames) == list(cs.chromsizes.index)
                and np.array_equal(c.chromsizes.to_numpy(np.int64), cs.chromsizes.to_numpy(np.int64)))
        if c.binsize != cs.resolution or not same:
            raise HicdiffError(
                f"bin table differs from {inputs[0]} (resolution {c.binsize} vs {cs.resolution}, "
                "or other chromosomes); all cells must share one bin table", uri)


def read_cell_names(spec) -> list[str]:
    """Cell names from a comma-separated string or a file with one name per line."""
    if spec is None:
        return None
    if os.path.exists(spec):
        with open(spec) as fh:
            return [line.strip().split("\t")[0] for line in fh if line.strip() and not line.startswith("#")]
    return [s for s in spec.split(",") if s]


def read_cell_metadata(path) -> pd.DataFrame:
    """Cell metadata (labels, batch, ...) from a TSV whose first column, or column ``cell``/``name``, names cells.

    Cell names are normalised like file names (``cell_name_from_path``) so that a table listing
    ``cell1.txt.gz`` joins a cooler cell ``cell1``.
    """
    if not os.path.exists(path):
        raise HicdiffError("no such file", path)
    try:
        with open(path, errors="replace") as fh:
            first = fh.readline()
        # a comma-separated table read as tab-separated would be one column: every cell unlabelled
        sep = "," if "," in first and "\t" not in first else "\t"
        df = pd.read_csv(path, sep=sep, dtype=str)
    except pd.errors.EmptyDataError:
        raise HicdiffError("the labels table is empty (expected a header line and one row per cell)", path) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise HicdiffError(f"not a tab-separated table ({e})", path) from None
    if sep == ",":
        log.info("%s: read as comma-separated (its first line has commas and no tabs)", path)
    key = next((c for c in ("cell", "name", "Name", "cell_id") if c in df.columns), df.columns[0])
    df[key] = df[key].map(cell_name_from_path)
    if df[key].duplicated().any():
        raise HicdiffError(f"cell names repeat in column {key!r}", path)
    return df.set_index(key).rename_axis("cell")


def chromsizes_table(bins: pd.DataFrame) -> pd.Series:
    return bins.groupby("chrom", sort=False)["end"].max()


def make_bins(chromsizes: pd.Series, resolution: int) -> pd.DataFrame:
    """Fixed-size bin table (``chrom``, ``start``, ``end``) for chromosome sizes in base pairs."""
    return cooler.binnify(chromsizes, int(resolution))


def normalize_pixels(bin1, bin2, count) -> pd.DataFrame:
    """Upper-triangle pixels, duplicates summed, sorted by (bin1_id, bin2_id).

    cooler's scool writer does not sort and silently writes a wrong map from unsorted pixels.
    """
    bin1 = np.asarray(bin1, dtype=np.int64)
    bin2 = np.asarray(bin2, dtype=np.int64)
    lo, hi = np.minimum(bin1, bin2), np.maximum(bin1, bin2)
    df = pd.DataFrame({"bin1_id": lo, "bin2_id": hi, "count": np.asarray(count)})
    df = df.groupby(["bin1_id", "bin2_id"], sort=True, as_index=False)["count"].sum()
    return df[df["count"] != 0].reset_index(drop=True)


class ScoolWriter:
    """Write cells one at a time into a ``.scool``, atomically.

    Cells go to ``PATH.partial`` (``temp_path``); :meth:`close` renames it to ``PATH`` once every cell is
    written. On an error the partial file is removed unless ``keep_partial`` is set (so that an interrupted
    imputation can be resumed with ``resume=True``, which reopens the partial file and skips cells already
    in it).

    Every cell's bins get a ``weight`` column, the balancing of that cell's map (:mod:`hicdiff.balance`;
    NaN at masked bins), described under ``weight`` in the file's and the cell's metadata, so that cooltools
    reads ``PATH::/cells/NAME`` as is.

    Parameters
    ----------
    path : str
        Output ``.scool``.
    bins : DataFrame
        Shared bin table (``chrom``, ``start``, ``end``).
    metadata : dict
        Recorded in the root's and every cell's ``metadata`` (value scale, tool version, parameters).
    float_counts : bool or numpy float type
        Store counts as floats (imputed values) rather than integers: ``True`` float64, or the type given
        (``np.float32`` halves the count column; the caller states the precision in ``metadata``).
    inputs : list
        Paths this run reads; writing over one of them is refused.
    """

    def __init__(self, path, bins, metadata=None, float_counts=False, inputs=(), resume=False,
                 keep_partial=False):
        self.path = str(path)
        self.temp_path = self.path + ".partial"
        self.bins = bins[["chrom", "start", "end"]].reset_index(drop=True)
        self.chrom_offsets = chrom_offsets(self.bins)
        self.metadata = {"hicdiff_version": __version__, **(metadata or {}), "weight": WEIGHT_NOTE}
        count = np.int32 if not float_counts else np.float64 if float_counts is True else np.dtype(float_counts).type
        self.dtypes = {"count": count}
        self.keep_partial = keep_partial
        check_output(self.path, inputs)
        self._lock = lock_output(self.path)
        self._lock.__enter__()
        self._closed = False
        self.written: list[str] = []
        try:
            if resume and os.path.exists(self.temp_path):
                self.written = self._reopen()
                log.info("resuming %s: %d cells already written", self.temp_path, len(self.written))
            elif os.path.exists(self.temp_path) and keep_partial:
                raise HicdiffError(
                    "a partial output from an interrupted run exists; resume it (impute --resume) or delete it",
                    self.temp_path)
            elif os.path.exists(self.temp_path):
                # this command cannot resume, and the lock says no other run is writing it
                log.warning("removing %s, left by an interrupted run", self.temp_path)
                os.remove(self.temp_path)
        except BaseException:
            self._release()
            raise

    def _reopen(self) -> list[str]:
        """The cells of an interrupted run's partial file, after dropping a cell whose write did not finish.

        Refuses a partial file written with other metadata (another model or other options), which would
        mix two runs in one output.
        """
        try:
            check_hdf5(self.temp_path, "partial .scool")
        except HicdiffError as e:
            raise HicdiffError(f"cannot resume: {e}; delete it and start again") from None
        with h5py.File(self.temp_path, "r") as f:
            try:
                theirs = json.loads(f.attrs.get("metadata", "{}"))
            except (TypeError, json.JSONDecodeError):
                theirs = {}
            cells = f["cells"] if "cells" in f else {}
            done = [n for n in cells if cells[n].attrs.get(_COMPLETE)]
            unfinished = [n for n in cells if n not in done]
        mine = json.loads(json.dumps(self.metadata, default=str))
        differ = [k for k in sorted((mine.keys() | theirs.keys()) - _PER_CELL) if mine.get(k) != theirs.get(k)]
        if differ:
            detail = "; ".join(f"{k}: {_short(theirs.get(k))} in the partial, {_short(mine.get(k))} now"
                               for k in differ)
            raise HicdiffError(f"cannot resume: the partial output was written with another {', '.join(differ)} "
                               f"({detail}); resume with the same model and options, or delete it", self.temp_path)
        if unfinished:
            log.warning("dropping %d cell(s) whose write was interrupted: %s", len(unfinished), ", ".join(unfinished))
            self._rebuild(done)
        return done

    def _rebuild(self, cells) -> None:
        """Rewrite the partial file with only ``cells``, leaving out anything an interrupted write left."""
        tmp = self.temp_path + ".rebuild"
        with h5py.File(self.temp_path, "r") as src, h5py.File(tmp, "w") as dst:
            dst.attrs.update(dict(src.attrs))
            for name in ("chroms", "bins"):
                src.copy(src[name], dst, name=name)
            dst.create_group("cells")
            for c in cells:
                src.copy(src["cells"][c], dst["cells"], name=c)
            dst.attrs["ncells"] = len(cells)
        os.replace(tmp, self.temp_path)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None

    def __contains__(self, name) -> bool:
        return name in self.written

    def add(self, name: str, pixels: pd.DataFrame, cell_metadata: dict | None = None) -> None:
        """Append one cell. ``pixels`` must be upper-triangle, sorted by (bin1_id, bin2_id), no duplicates."""
        if "/" in name:
            raise HicdiffError(f"cell name {name!r} contains '/'", self.path)
        meta = dict(self.metadata)
        if cell_metadata:
            meta["cell"] = {k: _jsonable(v) for k, v in cell_metadata.items()}
        columns = ["bin1_id", "bin2_id", "count"]
        # a selection of columns is a copy: 0.5 GB for a mouse cell at 10 kb with a 1 Mb band
        px = pixels if list(pixels.columns) == columns else pixels[columns]
        if self.dtypes["count"] is np.int32 and len(px) and px["count"].max() > INT32_MAX:
            raise HicdiffError(
                f"cell {name}: a pixel holds {px['count'].max():.0f} contacts, more than the largest integer "
                f"count a .scool stores (2^31-1 = {INT32_MAX}); nothing was clamped, the output is not written",
                self.path)
        # each cell's bins carry its own balancing weights, so that cooltools reads the cell as is
        weights, meta["weight"] = cell_weights(px, self.chrom_offsets)
        cooler.create_scool(
            self.temp_path, {name: self.bins.assign(weight=weights)}, {name: px}, dtypes=self.dtypes, metadata=meta,
            mode="a", ordered=True, boundscheck=True, dupcheck=False, triucheck=False,
        )
        with h5py.File(self.temp_path, "r+") as f:
            f[f"cells/{name}/bins/weight"].attrs.update(weight_attrs(meta["weight"]))
        with h5py.File(self.temp_path, "r+") as f:
            # the mark that this cell is whole: resume drops a cell an interruption left without it
            f[f"cells/{name}"].attrs[_COMPLETE] = True
        self.written.append(name)

    def close(self) -> None:
        """Finish: write root metadata and rename the partial file to the output path."""
        if self._closed:
            return
        if not self.written:
            self.abort()
            raise HicdiffError("no cells to write", self.path)
        with h5py.File(self.temp_path, "r+") as f:
            f.attrs["metadata"] = json.dumps(self.metadata)
            f.attrs["ncells"] = len(f["cells"])
        os.replace(self.temp_path, self.path)
        self._closed = True
        self._release()
        log.info("wrote %d cells to %s", len(self.written), self.path)

    def abort(self) -> None:
        self._closed = True
        if not self.keep_partial and os.path.exists(self.temp_path):
            os.remove(self.temp_path)
        self._release()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


#: Attribute of a cell group that :meth:`ScoolWriter.add` sets once the cell is completely written.
_COMPLETE = "hicdiff_complete"
#: Metadata that differs from cell to cell (not part of what a resumed run must match).
_PER_CELL = {"hicdiff_version", "cell", "weight"}
INT32_MAX = int(np.iinfo(np.int32).max)


def _short(v, n: int = 80) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= n else text[: n - 3] + "..."


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return v


def write_scool(path, bins, cells, metadata=None, float_counts=False, inputs=()) -> None:
    """Write ``cells`` (iterable of ``(name, pixels)`` or ``(name, pixels, cell_metadata)``) to a ``.scool``."""
    with ScoolWriter(path, bins, metadata, float_counts=float_counts, inputs=inputs) as w:
        for item in cells:
            w.add(*item)


def file_metadata(path) -> dict:
    """The root ``metadata`` of a cooler file written by hicdiff (empty for other files)."""
    with h5py.File(check_hdf5(_split_uri(str(path))[0]), "r") as f:
        raw = f.attrs.get("metadata")
    if raw is None:
        return {}
    try:
        meta = json.loads(raw)
    except (TypeError, json.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}
