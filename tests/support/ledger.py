"""The ledger as tests read it: events by kind, the release's kinds, who holds the lease."""

from __future__ import annotations

from typing import Any

from tests.support.project import Project


def events(p: Project, *kinds: str) -> list[dict[str, Any]]:
    """The ledger's events of these kinds, oldest first."""
    return [e for e in p.ledger() if e["kind"] in kinds]


def last(p: Project, kind: str) -> dict[str, Any]:
    """The newest event of this kind (there must be one)."""
    return events(p, kind)[-1]


def held_lease(ledger: list[dict[str, Any]]) -> str | None:
    """The run holding the lease by the ledger's events (expiry aside), or None."""
    holder = None
    for e in ledger:
        if e["kind"] == "lease_acquired":
            holder = e["run"]
        elif e["kind"] in ("lease_released", "lease_broken") and e["key"] == holder:
            holder = None
    return holder
