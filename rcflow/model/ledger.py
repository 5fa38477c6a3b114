"""The ledger: an append-only log of release events stored in git on `refs/rcflow/ledger`.

Each event is one commit (empty tree; the message carries a title line and the event as JSON).
Appending is a fast-forward push of a commit whose parent is the tip rcflow observed, so git's
own fast-forward rule makes the append a compare-and-swap: two writers cannot both win.

The lease is an event too: `lease_acquired` names the run and an expiry; a mutating command
takes it before its first effect and releases it after its last. Who holds it is read here
(`current_lease`, which status and classify need); taking, breaking and releasing it, and when a
lease binds, are `rcflow.engine.lease`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rcflow.model.events import EventKind

LEDGER_REF = "refs/rcflow/ledger"
FORMAT = 1


@dataclass(frozen=True)
class Event:
    kind: str
    key: str  # what the event is about, unique per kind for idempotent appends (e.g. a tag)
    time: str  # ISO 8601, UTC
    actor: str
    run: str  # the run id that wrote it
    data: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""  # the ledger commit, once stored

    def to_json(self) -> str:
        body = {
            "v": FORMAT,
            "kind": self.kind,
            "key": self.key,
            "time": self.time,
            "actor": self.actor,
            "run": self.run,
            "data": dict(self.data),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    def message(self) -> str:
        return f"rcflow: {self.kind} {self.key}\n\n{self.to_json()}\n"

    @staticmethod
    def from_message(commit: str, message: str) -> Event | None:
        _, _, rest = message.partition("\n\n")
        try:
            body = json.loads(rest)
        except json.JSONDecodeError:
            return None  # not ours; the ledger ignores foreign commits rather than failing
        if not isinstance(body, dict) or body.get("v") != FORMAT:
            return None
        fields = {name: body.get(name) for name in ("kind", "key", "time", "actor", "run")}
        data = body.get("data") or {}
        if not all(isinstance(f, str) for f in fields.values()) or not isinstance(data, dict):
            return None  # JSON that is not a whole event is as foreign as any other commit
        return Event(**{k: str(v) for k, v in fields.items()}, data=data, id=commit)


def now_iso(now: float) -> str:
    # An expiry far out (a lease another rcflow wrote, a huge lease_ttl) is shown, not a crash.
    try:
        return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "9999-12-31T23:59:59Z" if now > 0 else "1970-01-01T00:00:00Z"


def from_iso(text: str) -> float | None:
    """An event's time (`now_iso`'s format) as seconds since the epoch; None if unreadable."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class RunIdentity:
    """Who is acting: the person or CI job, the host, the process, and a run id."""

    actor: str
    run: str
    host: str
    pid: int
    url: str | None

    @staticmethod
    def current(identity: str | None, env: Mapping[str, str] = os.environ) -> RunIdentity:
        import socket
        import uuid

        host = socket.gethostname()
        pid = os.getpid()
        if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID"):
            server = env.get("GITHUB_SERVER_URL", "https://github.com")
            repo = env.get("GITHUB_REPOSITORY", "")
            run_id = env["GITHUB_RUN_ID"]
            return RunIdentity(
                actor=env.get("GITHUB_ACTOR", "github-actions"),
                run=f"gha-{run_id}",
                host=host,
                pid=pid,
                url=f"{server}/{repo}/actions/runs/{run_id}",
            )
        return RunIdentity(
            actor=identity or env.get("USER", "unknown"),
            run=f"{host}-{pid}-{uuid.uuid4().hex[:8]}",
            host=host,
            pid=pid,
            url=None,
        )


@dataclass(frozen=True)
class Lease:
    run: str
    actor: str
    host: str
    pid: int
    expires: float
    command: str
    event_id: str

    def describe(self) -> str:
        return f"{self.actor} ({self.command}, run {self.run} on {self.host}, pid {self.pid})"


def current_lease(events: Iterable[Event]) -> Lease | None:
    """The newest lease that was not released (it may be expired; see `lease_is_live`)."""
    lease: Lease | None = None
    for event in events:
        if event.kind == EventKind.LEASE_ACQUIRED:
            d = event.data
            lease = Lease(
                run=event.run,
                actor=event.actor,
                host=str(d.get("host", "")),
                pid=int(_number(d.get("pid"))),
                expires=_number(d.get("expires")),
                command=str(d.get("command", "")),
                event_id=event.id,
            )
        elif (
            event.kind in (EventKind.LEASE_RELEASED, EventKind.LEASE_BROKEN)
            and lease is not None
            and event.key == lease.run
        ):
            lease = None
    return lease


def find(events: Iterable[Event], kind: str, key: str | None = None) -> list[Event]:
    return [e for e in events if e.kind == kind and (key is None or e.key == key)]


def has(events: Iterable[Event], kind: str, key: str) -> bool:
    return any(e.kind == kind and e.key == key for e in events)


def _number(value: object) -> float:
    """A lease's number as another run wrote it; 0 (an expired lease, no pid) when it is none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    number = float(value)
    if number != number:  # NaN
        return 0.0
    return max(min(number, 1e18), -1e18)
