"""Sources turn inputs (files, stdin, snapshots, a live cluster) into ``KubeObject``s.

Every source returns a ``LoadResult``: the objects it could read, the problems it hit (each
naming file, line and object), and notices about what it skipped. A bad input never stops the
other inputs from being read.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

from raygate.objects import KubeObject
from raygate.records import field, record


@record(frozen=True)
class InputProblem:
    """An input that could not be read; the CLI reports it and exits 2."""

    file: str
    line: int | None
    message: str
    obj: str | None = None
    #: The field path, for problems inside an object (schema violations).
    field: str | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        subject = f" ({self.obj})" if self.obj else ""
        return f"{where}{subject}: {self.message}"


@record
class LoadResult:
    """What a source read: the objects, the input problems, notices and the files read."""

    objects: list[KubeObject] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def extend(self, other: "LoadResult") -> None:
        self.objects.extend(other.objects)
        self.problems.extend(other.problems)
        self.notices.extend(other.notices)
        self.files.extend(other.files)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a source builds objects.

    Loading creates millions of small containers; every automatic collection rescans all of
    them, which made loading 10,000 objects 3x slower than parsing them. Decoded YAML/JSON holds
    no reference cycles, so pausing loses nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
