"""What the benchmarks share: the ``hicdiff`` command as a user runs it."""

import sys
from pathlib import Path


def hicdiff(*args) -> list[str]:
    """The ``hicdiff`` command of this Python's environment, with ``args`` as strings."""
    exe = Path(sys.executable).with_name("hicdiff")
    return [str(exe) if exe.exists() else "hicdiff", *map(str, args)]
