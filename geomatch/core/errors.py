"""The one error type for bad input, shared by ``geomatch`` and ``vvol``."""
from __future__ import annotations


class InputError(ValueError):
    """Input that cannot be used at all: an unreadable file or a missing required column.

    Row-level problems never raise; they are quarantined with a reason (see :mod:`geomatch.core.quarantine`).
    The command line turns this error into one sentence and exit code 2.
    """

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None,
                 row: int | None = None) -> None:
        self.message = message
        self.file = file
        self.column = column
        self.row = row
        super().__init__(self.sentence())

    def sentence(self) -> str:
        """The error as one sentence naming the file, column and row where known."""
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        prefix = f"{', '.join(where)}: " if where else ""
        text = f"{prefix}{self.message}"
        return text if text.endswith(".") else text + "."
