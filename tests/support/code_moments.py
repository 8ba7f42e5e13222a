"""Which moment a page's codes belong to, for browser tests whose server runs in another process.

Functional tests freeze the codes' clock (the `frozen_clock` fixture). A browser test cannot:
gunicorn computes the codes it serves, and the page redraws them on its own timers. So it asks
the opposite question: at which instant would pyotp give exactly the codes the page shows? It
searches the few seconds before it read the page, so a page still showing the previous period's
code just after a boundary (until its tick arrives) is no failure, and all accounts must agree on
one instant, which is stricter than checking each code against "now" on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

# How long a page may show a code after its period ended: the tick's margin and request, on a busy machine.
LAG_SECONDS = 5.0


def moments(start: float, end: float, periods: Iterable[int]) -> list[float]:
    """One instant for each distinct combination of time steps between `start` and `end`:
    `start` itself and every period boundary after it."""
    found = {start}
    for period in set(periods):
        boundary = (start // period + 1) * period
        while boundary <= end:
            found.add(boundary)
            boundary += period
    return sorted(found)


def moment_showing(
    shown: dict[str, str], codes_at: Callable[[float], dict[str, str]], periods: Iterable[int], read_at: float
) -> float:
    """The latest instant, in the LAG_SECONDS before `read_at`, at which every code is the one shown."""
    candidates = moments(read_at - LAG_SECONDS, read_at, periods)
    matching = [moment for moment in candidates if codes_at(moment) == shown]
    assert matching, f"no moment in the {LAG_SECONDS} s before reading the page gives these codes: {shown}"
    return matching[-1]


def step_showing(code: str, code_at: Callable[[float], str], period: int, read_at: float) -> int:
    """The time step whose code the page shows, among those of the LAG_SECONDS before `read_at`."""
    return int(moment_showing({"code": code}, lambda at: {"code": code_at(at)}, [period], read_at) // period)
