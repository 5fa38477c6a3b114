"""Waiting on GitHub: the polling schedule shared by the workflow and checks validators.

The clock and the sleep come from the CI port, so a test drives a whole wait with fake time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    first: float = 5.0  # seconds before the second look
    factor: float = 1.5  # each wait this much longer than the one before...
    most: float = 30.0  # ...up to this
    # How long a dispatched run may take to show up in the list of runs when the dispatch did
    # not say which run it started (or a crash lost it); then it "never started".
    appear: float = 300.0

    def waits(self) -> _Waits:
        return _Waits(self)


class _Waits:
    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.next = schedule.first

    def take(self, left: float) -> float:
        """The next wait, never past the deadline `left` seconds away."""
        wait = min(self.next, max(left, 0.0))
        self.next = min(self.next * self.schedule.factor, self.schedule.most)
        return wait


SCHEDULE = Schedule()


def seconds(value: float) -> str:
    """90 → "1m30s", 7200 → "2h", 12.5 → "12.5s": how long a wait was, for people."""
    if value < 60:
        return f"{value:.1f}s" if value != int(value) else f"{int(value)}s"
    whole = round(value)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts)
