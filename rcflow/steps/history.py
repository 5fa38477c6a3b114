"""What the ledger says was decided or done, read the way every step reads it."""

from __future__ import annotations

from rcflow.model import ledger
from rcflow.model.config import Config, parse_stage_tag
from rcflow.model.events import EventKind
from rcflow.model.ledger import Event
from rcflow.model.snapshot import Snapshot
from rcflow.model.version import Version


def version_key(v: Version) -> str:
    return str(v)


def active_bump(s: Snapshot, target: Version) -> Event | None:
    """The `bumped` event that produced target, unless a later `bump_reverted` undid it."""
    found: Event | None = None
    key = version_key(target)
    for e in ledger.unstubbed(s.ledger):  # neither kind is ever a closed release's stub
        if e.key != key:
            continue
        if e.kind == EventKind.BUMPED:
            found = e
        elif e.kind == EventKind.BUMP_REVERTED:
            found = None
    return found


def decision(s: Snapshot, kind: str, key: str) -> Event | None:
    return next((e for e in reversed(s.ledger) if e.kind == kind and e.key == key), None)


def event_done(s: Snapshot, kind: str, key: str) -> bool:
    return ledger.has(s.ledger, kind, key)


def retraction_note(s: Snapshot, tag: str) -> str:
    """The note a retraction puts on the release: the same whether the rollback that decided it
    runs through or a later run finishes it (who and when are in the ledger's event)."""
    for e in reversed(s.ledger):
        if e.kind == EventKind.RETRACTED and e.key == tag:
            return f"Retracted: {e.data.get('reason') or 'no reason given'}"
    return "Retracted"


def tag_version(tag: str, config: Config) -> Version | None:
    return parse_stage_tag(tag, config)
