"""The time codes are computed at: one reading place for the whole application.

Codes, the seconds they have left, the next code's preview, the list's refresh delay and the
offline copy's timestamp all come from `now()`. Reading the time here, and nowhere else, lets a
test hold it still (`frozen`) and compare the server's answer with figures it computed for that
exact moment, instead of racing the wall clock across a period boundary.

Stored timestamps (`models.utcnow`) are records of when something happened, not inputs to a
code: they keep reading the system clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_source: Callable[[], float] = time.time


def now() -> float:
    """Seconds since the Unix epoch, as the codes see them."""
    return _source()


@contextmanager
def frozen(at: float) -> Iterator[FrozenClock]:
    """Hold `now()` at `at` (move it with `.set` or `.advance`) until the block ends."""
    global _source
    clock = FrozenClock(at)
    previous, _source = _source, clock.now
    try:
        yield clock
    finally:
        _source = previous


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at

    def set(self, at: float) -> None:
        self.at = at

    def advance(self, seconds: float) -> None:
        self.at += seconds
