"""Checks on the files a command reads and writes, made before any work starts.

Every ``hicdiff`` command goes through :func:`guard_command` (the CLI applies it to each subcommand): the
paths it is given that exist are its inputs, its ``-o`` (and ``--uncertainty``) paths its outputs. Before the
command runs, each output is checked against every input (the same file by name, symlink or hard link), its
folder must exist and be writable, a file output must not be an existing folder, and an exclusive lock
(``OUTPUT.lock``) keeps a second run from writing it at the same time. A full disk while writing becomes one
message, ``no space left writing FILE``, with the partial files removed.

The same checks serve the API: :class:`hicdiff.io.ScoolWriter` calls :func:`check_output` and
:func:`lock_output`, and :func:`check_hdf5` opens a cooler file only after it is known to be whole.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import signal

from hicdiff.errors import HicdiffError

#: errno values that mean the disk (or the file size limit, ``ulimit -f``) is full.
DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
_DISK_FULL_TEXT = re.compile(r"errno = (28|27|122)\b|no space left|file too large|disk quota", re.IGNORECASE)
_H5_FILENAME = re.compile(r"filename = '([^']+)'")


class DiskFullError(HicdiffError):
    """The disk, a quota or the file size limit ran out while writing ``path``."""


def file_part(uri) -> str:
    """The file of a cooler URI (``FILE.mcool::resolutions/N`` -> ``FILE.mcool``)."""
    return str(uri).split("::", 1)[0]


def same_file(a, b) -> bool:
    """Whether two paths name one file: equal after resolving symlinks, or one inode (a hard link)."""
    a, b = file_part(a), file_part(b)
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


# -- inputs -----------------------------------------------------------------------------------------------

def check_input(path, what: str = "input") -> str:
    """``path`` if it is an existing, readable file; otherwise an error naming it."""
    path = file_part(path)
    if not os.path.exists(path):
        raise HicdiffError(f"no such file ({what})", path)
    if os.path.isdir(path):
        raise HicdiffError(f"is a folder, expected a file ({what})", path)
    if not os.access(path, os.R_OK):
        raise HicdiffError(f"is not readable ({what})", path)
    return path


def check_hdf5(path, what: str = "cooler file") -> str:
    """``path`` if it is a whole HDF5 file (a cooler, ``.scool`` or ``.mcool``); else an error naming it.

    A file cut short (an interrupted copy or download) is reported as truncated rather than as an HDF5
    traceback.
    """
    import h5py

    path = check_input(path, what)
    if not h5py.is_hdf5(path):
        raise HicdiffError(f"not a {what} (not HDF5)", path)
    try:
        with h5py.File(path, "r") as f:
            f.attrs.get("format")
            list(f.keys())
    except (OSError, RuntimeError, KeyError) as e:
        raise HicdiffError(f"truncated or damaged HDF5 file, cannot be opened ({_first_line(e)})", path) from None
    return path


# -- outputs ----------------------------------------------------------------------------------------------

def check_output(path, inputs=(), folder: bool = False, what: str = "output") -> str:
    """Refuse an output that would overwrite an input or could not be written; returns ``path``.

    Parameters
    ----------
    path : str
        The output file (or folder, with ``folder=True``).
    inputs : iterable of str
        Every path the command reads (cooler URIs allowed); the output and its ``.partial`` must be none.
    folder : bool
        The output is a folder (created if missing) rather than a file.
    """
    path = str(path)
    if not path:
        raise HicdiffError(f"empty {what} path")
    if folder:
        if os.path.exists(path) and not os.path.isdir(path):
            raise HicdiffError(f"exists and is not a folder; the {what} is a folder", path)
    elif os.path.isdir(path):
        raise HicdiffError(f"is a folder; give the file to write ({what})", path)
    for i in inputs:
        if i is None:
            continue
        for p in (path, path + ".partial"):
            if same_file(i, p):
                shown = file_part(i)
                also = "" if os.path.realpath(shown) == os.path.realpath(p) else f" (the same file as {shown})"
                raise HicdiffError(f"{what} path is also an input{also}; refusing to overwrite it", path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise HicdiffError(f"{what} folder {parent} does not exist", path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise HicdiffError(f"{what} folder {parent} is not writable", path)
    if folder and os.path.isdir(path) and not os.access(path, os.W_OK | os.X_OK):
        raise HicdiffError(f"{what} folder is not writable", path)
    return path


# a lock is per open file, so one process that locks an output twice (the CLI, then the writer) keeps one
_held: dict[str, list] = {}


@contextlib.contextmanager
def lock_output(path):
    """Hold an exclusive lock on ``PATH.lock`` while writing ``path``; a second writer is refused at once.

    The lock is ``flock``-based, so a run killed with ``kill -9`` releases it; the lock file it leaves is
    reused by the next run.
    """
    key = os.path.realpath(str(path))
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    lock_path = str(path) + ".lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise HicdiffError(f"cannot create the lock file {lock_path} ({e.strerror})", path) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.pread(fd, 64, 0).decode(errors="replace").strip()
        os.close(fd)
        raise HicdiffError(
            f"another hicdiff run{f' (pid {owner})' if owner else ''} is writing this output; wait for it to "
            f"finish or choose another output", path) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[key] = [fd, 1]
    try:
        yield
    finally:
        _held[key][1] -= 1
        if _held[key][1] == 0:
            del _held[key]
            with contextlib.suppress(OSError):
                os.remove(lock_path)
            os.close(fd)


def partial_paths(path) -> list[str]:
    """The temporary files and folders a writer of ``path`` may leave: ``PATH.partial``."""
    return [str(path) + ".partial"]


def remove_partials(paths) -> None:
    for out in paths:
        for p in partial_paths(out):
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            elif os.path.lexists(p):
                with contextlib.suppress(OSError):
                    os.remove(p)


@contextlib.contextmanager
def atomic_folder(path):
    """Write a folder's files under ``PATH.partial`` and move them into ``PATH`` only once all are written.

    An error or a full disk leaves ``PATH`` as it was (files of an earlier run there are replaced only by a
    complete new set).
    """
    path = str(path)
    tmp = path + ".partial"
    if os.path.isdir(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    try:
        yield tmp
        if not os.path.isdir(path):
            os.replace(tmp, path)
            return
        for root, dirs, files in os.walk(tmp):
            dest = os.path.join(path, os.path.relpath(root, tmp))
            os.makedirs(dest, exist_ok=True)
            for name in files:
                os.replace(os.path.join(root, name), os.path.join(dest, name))
        shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# -- errors while running ---------------------------------------------------------------------------------

def _chain(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def disk_full_file(exc) -> str | None:
    """If ``exc`` (or an exception it came from) says the disk is full, the file being written ('' if the
    error does not say); otherwise None. HDF5 reports it as a RuntimeError whose text holds the errno."""
    for e in _chain(exc):
        if isinstance(e, DiskFullError):
            return e.path or ""
        if isinstance(e, OSError) and e.errno in DISK_FULL:
            return e.filename or _h5_filename(e) or ""
        if isinstance(e, (OSError, RuntimeError)) and _DISK_FULL_TEXT.search(str(e)):
            return _h5_filename(e) or ""
    return None


def _no_room(path) -> bool:
    """Whether writing more to ``path`` fails for want of space: the file reached the size limit
    (``ulimit -f``) or its disk has under 1 MiB free."""
    import resource

    if not os.path.isfile(path):
        return False
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and os.path.getsize(path) + 65536 >= limit:
        return True
    st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    return st.f_bavail * st.f_frsize < 2**20


def unreadable_file(exc) -> str | None:
    """The file named by an HDF5 read error (a file damaged or cut short after it was opened), else None."""
    if isinstance(exc, (OSError, RuntimeError)) and not isinstance(exc, HicdiffError):
        text = str(exc)
        if "read failed" in text or "Can't read data" in text or "truncated" in text:
            return _h5_filename(exc) or ""
    return None


def _h5_filename(e) -> str | None:
    m = _H5_FILENAME.search(str(e))
    return m.group(1) if m else None


def _first_line(e) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


# -- the command wrapper ----------------------------------------------------------------------------------

#: Parameters that name what a command writes, and whether each is a file or a folder.
OUTPUT_PARAMS = {"output": "file", "uncertainty": "file"}


def _paths(value):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _paths(v)
    elif isinstance(value, (str, os.PathLike)) and str(value):
        yield str(value)


def command_paths(params: dict, outputs: dict) -> tuple[list[str], list[tuple[str, bool]]]:
    """(inputs, outputs) of a command's parsed parameters.

    Outputs are the values of the ``outputs`` parameters (name -> ``"file"`` or ``"folder"``); inputs are
    every other value that names an existing file or folder (or a cooler URI in one).
    """
    outs = [(p, kind == "folder") for name, kind in outputs.items() for p in _paths(params.get(name))]
    ins = [p for name, v in params.items() if name not in outputs for p in _paths(v)
           if os.path.exists(file_part(p))]
    return ins, outs


def _raise_on_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def guard_command(callback, outputs: dict | None = None):
    """Wrap a click command's callback with the checks of this module (see the module docstring)."""
    import functools

    outputs = OUTPUT_PARAMS if outputs is None else outputs

    @functools.wraps(callback)
    def run(**params):
        ins, outs = command_paths(params, outputs)
        for k, (p, is_folder) in enumerate(outs):
            check_output(p, ins + [q for q, _ in outs[:k]], folder=is_folder)
        # a plain kill ends the run like Ctrl-C: partial files are removed or kept for --resume as on an error
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _raise_on_sigterm)
        with contextlib.ExitStack() as stack:
            for p, _ in outs:
                stack.enter_context(lock_output(p))
            try:
                return callback(**params)
            except HicdiffError:
                raise
            except Exception as e:
                full = disk_full_file(e)
                if full is None:  # some writers (torch.save) lose the errno: look at the partial file
                    full = next((p for p, _ in outs if any(_no_room(q) for q in partial_paths(p))), None)
                if full is not None:
                    remove_partials([p for p, _ in outs])
                    name = next((p for p, _ in outs if full and same_file(full, p + ".partial")), None)
                    raise DiskFullError(f"no space left writing {name or full or outs[0][0]}") from e
                bad = unreadable_file(e)
                if bad is not None:
                    raise HicdiffError(f"cannot be read: truncated or damaged HDF5 file ({_first_line(e)})",
                                       bad or None) from e
                if isinstance(e, EOFError):  # click would print only "Aborted!"
                    raise HicdiffError(f"an input ended early: truncated file? ({_first_line(e)})") from e
                raise

    return run
