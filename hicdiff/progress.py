"""Progress of long work (loading, imputing, evaluating, embedding) that users can see.

On a terminal, one bar on stderr redrawn in place, with the rate and the time left. Anywhere else (a
pipeline, a Snakemake log, a cluster job's output) plain log lines at most every :data:`INTERVAL` seconds
and one at the end, so logs stay readable and never fill with carriage returns. ``hicdiff --quiet`` (or
:func:`set_quiet`) turns both off.

    with Progress(len(names), "imputed", unit="cells", logger=log) as bar:
        for name in names:
            ...
            bar.update()
"""

from __future__ import annotations

import logging
import shutil
import sys
import time

#: Seconds between plain progress lines when stderr is not a terminal.
INTERVAL = 30.0
#: Seconds between redraws of a terminal bar.
REDRAW = 0.2

_quiet = False


def set_quiet(quiet: bool = True) -> None:
    """Show no progress at all (``hicdiff --quiet``)."""
    global _quiet
    _quiet = bool(quiet)


def format_seconds(seconds: float) -> str:
    """``75.2`` -> ``1:15``; ``3725`` -> ``1:02:05``."""
    if seconds != seconds or seconds == float("inf"):
        return "?"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _ClearBar(logging.Filter):
    """Clears the bar's line before a log record is printed on the same terminal."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream

    def filter(self, record):
        self.stream.write("\r\x1b[K")
        return True


class Progress:
    """Count work done out of ``total`` and show it (a bar on a terminal, log lines elsewhere).

    Parameters
    ----------
    total : int
        Units of work expected.
    desc : str
        What is being done, past tense for the log lines (``"imputed"``, ``"read"``).
    unit : str
        Plural name of a unit (``"cells"``, ``"files"``).
    logger : logging.Logger, optional
        Where plain lines go (default: this module's logger).
    stream : file, optional
        Where a bar is drawn (default: ``sys.stderr``); a bar is drawn only when it is a terminal.
    """

    def __init__(self, total: int, desc: str = "done", unit: str = "items", logger=None, stream=None):
        self.total = max(int(total), 0)
        self.desc, self.unit = desc, unit
        self.log = logger or logging.getLogger(__name__)
        self.stream = stream or sys.stderr
        self.n = 0
        self.start = self._last = time.perf_counter()
        isatty = getattr(self.stream, "isatty", None)
        self.mode = "off" if _quiet or self.total == 0 else ("bar" if isatty and isatty() else "lines")
        self._filter = None
        if self.mode == "bar":
            self._filter = _ClearBar(self.stream)
            for h in logging.getLogger().handlers:
                h.addFilter(self._filter)
        self._closed = False

    # -- numbers ---------------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def rate(self) -> float:
        """Units per second so far."""
        el = self.elapsed
        return self.n / el if el > 0 else 0.0

    @property
    def remaining(self) -> float:
        """Seconds left at the rate so far."""
        return (self.total - self.n) / self.rate if self.rate > 0 else float("inf")

    def _rate_text(self) -> str:
        r = self.rate
        return f"{r:.2f} {self.unit}/s" if r >= 1 or r == 0 else f"{1 / r:.2f} s per {self.unit.rstrip('s')}"

    def line(self) -> str:
        """``imputed 120/300 cells (40%), 4.20 cells/s, 0:43 left``."""
        pct = 100 * self.n / self.total if self.total else 100
        text = f"{self.desc} {self.n}/{self.total} {self.unit} ({pct:.0f}%), {self._rate_text()}"
        if self.n < self.total:
            return f"{text}, {format_seconds(self.remaining)} left"
        return f"{text}, {format_seconds(self.elapsed)} in all"

    # -- updates ---------------------------------------------------------------------------------------
    def update(self, n: int = 1) -> None:
        self.n = min(self.n + int(n), self.total) if self.total else self.n + int(n)
        now = time.perf_counter()
        if self.mode == "bar" and (now - self._last >= REDRAW or self.n >= self.total):
            self._draw()
            self._last = now
        elif self.mode == "lines" and now - self._last >= INTERVAL and self.n < self.total:
            self.log.info(self.line())
            self._last = now

    def _draw(self) -> None:
        width = shutil.get_terminal_size((80, 20)).columns
        text = f" {self.n}/{self.total} {self.unit} {self._rate_text()} "
        text += f"{format_seconds(self.remaining)} left" if self.n < self.total else format_seconds(self.elapsed)
        slots = max(10, min(40, width - len(self.desc) - len(text) - 4))
        filled = int(slots * self.n / self.total) if self.total else slots
        self.stream.write(f"\r\x1b[K{self.desc} [{'#' * filled}{'.' * (slots - filled)}]{text}")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line, or log the final line."""
        if self._closed:
            return
        self._closed = True
        if self.mode == "bar":
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            for h in logging.getLogger().handlers:
                h.removeFilter(self._filter)
        elif self.mode == "lines" and self.n:
            self.log.info(self.line())

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.mode == "bar" and exc_type is not None:
            self.stream.write("\n")
            self._closed = True
            for h in logging.getLogger().handlers:
                h.removeFilter(self._filter)
        else:
            self.close()
        return False


def track(items, desc: str = "done", unit: str = "items", logger=None):
    """Iterate over ``items`` (a sized collection) showing :class:`Progress`: ``for name in track(names, ...)``."""
    with Progress(len(items), desc, unit=unit, logger=logger) as bar:
        for item in items:
            yield item
            bar.update()
