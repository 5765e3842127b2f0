"""User-facing errors: one message that names the file and the problem."""


class HicdiffError(Exception):
    """An error caused by the user's input, reported without a traceback by the CLI."""

    def __init__(self, message, path=None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
