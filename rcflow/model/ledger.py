"""The ledger: an append-only log of release events stored in git on `refs/rcflow/ledger`.

Each event is one commit (the message carries a title line and the event as JSON; the tree holds
the checkpoint of the ledger before it, see `compact` below, or nothing for an older rcflow's).
Appending is a fast-forward push of a commit whose parent is the tip rcflow observed, so git's
own fast-forward rule makes the append a compare-and-swap: two writers cannot both win.

The lease is an event too: `lease_acquired` names the run and an expiry; a mutating command
takes it before its first effect and releases it after its last. Who holds it is read here
(`current_lease`, which status and classify need); taking, breaking and releasing it, and when a
lease binds, are `rcflow.engine.lease`.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from rcflow.model.events import EventKind
from rcflow.record import dataclass, field

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
    # Bound once: thousands of events, and an enum member lookup per event is most of the loop.
    acquired, ended = EventKind.LEASE_ACQUIRED, (EventKind.LEASE_RELEASED, EventKind.LEASE_BROKEN)
    for event in unstubbed(events) if isinstance(events, Sequence) else events:
        if event.kind == acquired:
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
        elif event.kind in ended and lease is not None and event.key == lease.run:
            lease = None
    return lease


def unstubbed(events: Sequence[Event]) -> Sequence[Event]:
    """The events of kinds a checkpoint never keeps as stubs (not `_STUB_KINDS`), in order.

    For a reader of those kinds only, the same events as the whole ledger, without passing over
    a stub per closed release (10,000 after 5,000 releases): status reads the lease, the
    retractions, the bump reverts and the artifacts each that way. A tuple (a snapshot's
    ledger) is filtered once."""
    if type(events) is not tuple:
        return [e for e in events if e.kind not in _STUB_KINDS]
    for known, rest in _unstubbed:
        if known is events:
            return rest
    stub_kinds = _STUB_KINDS
    rest = tuple(e for e in events if e.kind not in stub_kinds)
    _unstubbed[:] = [(events, rest), *_unstubbed[:1]]
    return rest


# (ledger, its `unstubbed` events) of the newest ledgers read, named by identity.
_unstubbed: list[tuple[tuple[Event, ...], tuple[Event, ...]]] = []


def find(events: Iterable[Event], kind: str, key: str | None = None) -> list[Event]:
    return [e for e in events if e.kind == kind and (key is None or e.key == key)]


def has(events: Iterable[Event], kind: str, key: str) -> bool:
    # Newest first: what is asked about is mostly the release in flight, at the ledger's end.
    seq = reversed(events) if isinstance(events, Sequence) else events
    return any(e.key == key and e.kind == kind for e in seq)


def _number(value: object) -> float:
    """A lease's number as another run wrote it; 0 (an expired lease, no pid) when it is none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    number = float(value)
    if number != number:  # NaN
        return 0.0
    return max(min(number, 1e18), -1e18)


# -- the checkpoint: what a read needs, kept with the ledger ----------------------------------
#
# Every append (by this rcflow) writes, in its commit's tree, `checkpoint.json`: the events a
# command can read of the ledger *before* that commit, compacted by `compact`. A reader takes
# the newest commit that has one, plus the events from that commit to the tip, so a read costs
# the same after 50 releases as after 5,000. Only `rcflow log` reads the whole history.

CHECKPOINT_FILE = "checkpoint.json"
# 2: a closed release's stub is the string "kind key", not a row of seven fields. After 5,000
# releases the checkpoint is 10,000 stubs: as strings it decodes 7x faster and is half the size.
# Format 1 is still read (and upgraded by the next append); an rcflow that reads only format 1
# passes a format 2 checkpoint over and reads the whole ledger, as it would any foreign one.
CHECKPOINT_FORMAT = 2
_READ_FORMATS = (1, 2)
# Releases whose events are kept whole: the current one, the one a retraction falls back to,
# and room for retractions in a row before a read must go back to the whole history.
KEEP_RELEASES = 4
# Kinds whose key (not data) is read for versions long released: `forge_drift` (rc_tagged,
# promoted: a tag whose release vanished) and `pending_hooks` (hook_succeeded of a tag
# withdrawn or retracted later).
_STUB_KINDS = frozenset({EventKind.RC_TAGGED, EventKind.PROMOTED, EventKind.HOOK_SUCCEEDED})
# Decisions read whatever their age: retracted finals and withdrawn RCs keep their numbers used.
_KEPT_KINDS = frozenset({EventKind.RETRACTED, EventKind.RC_WITHDRAWN})
_LEASE_KINDS = frozenset(
    {EventKind.LEASE_ACQUIRED, EventKind.LEASE_RELEASED, EventKind.LEASE_BROKEN}
)


@functools.lru_cache(maxsize=8)
def _release_pattern(tag_prefix: str, rc_token: str) -> re.Pattern[str]:
    # A tag (`v1.4.0`, `v1.4.0-rc.1`) or a version (`1.4.0`): version.parse_tag's grammar with
    # the prefix optional, matched directly (tens of thousands of keys, parse_tag's cache is 8k).
    n = "(0|[1-9][0-9]*)"
    prefix, token = re.escape(tag_prefix), re.escape(rc_token)
    return re.compile(rf"(?:{prefix})?{n}\.{n}\.{n}(?:-{token}\.[1-9][0-9]*)?")


def _base(text: str, tag_prefix: str, rc_token: str) -> tuple[int, int, int] | None:
    key = (text, tag_prefix, rc_token)
    if key not in _seen:
        m = _release_pattern(tag_prefix, rc_token).fullmatch(text)
        if len(_seen) > 200_000:  # a long-lived process (the tests) keeps it bounded
            _seen.clear()
        _seen[key] = (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None
    return _seen[key]


_seen: dict[tuple[str, str, str], tuple[int, int, int] | None] = {}


def event_version(event: Event, tag_prefix: str, rc_token: str) -> tuple[int, int, int] | None:
    """The release an event is about (from its key: a tag, `tag/…`, `step/tag`, a version; or
    its data's version), or None when it names none."""
    head, _, tail = event.key.partition("/")
    for text in (event.key, head, tail, event.data.get("version"), event.data.get("tag")):
        if isinstance(text, str) and text:
            found = _base(text, tag_prefix, rc_token)
            if found is not None:
                return found
    return None


def _horizon(
    events: Sequence[Event], tag_prefix: str, rc_token: str
) -> tuple[int, int, int] | None:
    """Releases older than this one are closed: KEEP_RELEASES newer ones were promoted."""
    # A stub is a closed release's, and the horizon never goes down (promotions only add to
    # it): no stub is among the newest KEEP_RELEASES promoted, so none is parsed (5,000 of
    # them in a checkpoint after 5,000 releases).
    promoted = {
        b
        for e in events
        if e.kind == EventKind.PROMOTED
        and type(e) is not _Stub
        and (b := _base(e.key, tag_prefix, rc_token)) is not None
    }
    newest = sorted(promoted, reverse=True)[:KEEP_RELEASES]
    return newest[-1] if len(newest) == KEEP_RELEASES else None


def compact(events: Sequence[Event], *, tag_prefix: str, rc_token: str) -> tuple[Event, ...]:
    """The events any plan, status, lease or classification can read, in ledger order.

    Kept whole: every event of a release not closed (in flight, or among the newest
    KEEP_RELEASES promoted), the current lease, the newest dispatch (preflight reads it),
    retractions and withdrawals, and decisions of closed releases that nothing finished (a
    `promoting` without `promoted`, a `bump_reverted` not bumped again). Kept as kind and key
    only: `_STUB_KINDS` of closed releases. Dropped: the rest (other leases, validation results,
    hooks' data of closed releases): `rcflow log` shows them from the whole history.

    Pure and stable: `compact(compact(a) + b) == compact(a + b)`, so a checkpoint folds one
    event at a time (`fold`); tests/model/test_ledger_checkpoint.py holds both to it, and holds
    classification, status and every step's plan equal on the compacted and the whole ledger.
    """
    for spelling, done in _last_compacted:
        if events is done and spelling == (tag_prefix, rc_token):
            return done  # compacted already (by `fold`): stable, so as it is
    for spelling, whole, checkpoint, recent in _assembled:
        if events is whole and spelling == (tag_prefix, rc_token):
            # A checkpoint read plus the events after it: compacted already but for those.
            folded = _remember(checkpoint, tag_prefix, rc_token)
            for event in recent:
                folded = fold(folded, event, tag_prefix=tag_prefix, rc_token=rc_token)
            return folded
    horizon = _horizon(events, tag_prefix, rc_token)
    lease_at: int | None = None
    lease_run = ""
    dispatch_at: int | None = None
    finished: dict[tuple[str, str], int] = {}  # (decision kind, key) -> index of its end
    stub = _Stub
    for i, e in enumerate(events):
        if type(e) is stub:
            # A closed release's, compacted before: whatever decision of its release it
            # finished was dropped with it then (a release closes whole), so it finishes none.
            continue
        if e.kind == EventKind.LEASE_ACQUIRED:
            lease_at, lease_run = i, e.run
        elif e.kind in (EventKind.LEASE_RELEASED, EventKind.LEASE_BROKEN) and e.key == lease_run:
            lease_at, lease_run = None, ""
        elif e.kind == EventKind.VALIDATION_DISPATCHED:
            dispatch_at = i
        elif e.kind in (EventKind.PROMOTED, EventKind.RETRACTED):
            finished[(EventKind.PROMOTING, e.key)] = i
        elif e.kind == EventKind.BUMPED:
            finished[(EventKind.BUMP_REVERTED, e.key)] = i
    kept: list[Event] = []
    for i, e in enumerate(events):
        if type(e) is stub:  # kept as it is, closed or not (the first question: most are)
            kept.append(e)
            continue
        if e.kind in _LEASE_KINDS:
            if i == lease_at:
                kept.append(e)
            continue
        if i == dispatch_at:
            kept.append(e)
            continue
        if _is_stub(e):
            # A stub already (a closed release's, in a checkpoint): kept as it is, closed or not.
            kept.append(e)
            continue
        version = event_version(e, tag_prefix, rc_token)
        if horizon is None or version is None or version >= horizon:
            kept.append(e)
        elif e.kind in _STUB_KINDS:
            kept.append(e if _is_stub(e) else _stub(e))
        elif e.kind in _KEPT_KINDS or (
            e.kind in (EventKind.PROMOTING, EventKind.BUMP_REVERTED)
            and finished.get((e.kind, e.key), -1) < i
        ):
            kept.append(e)
    return _remember(tuple(kept), tag_prefix, rc_token, horizon)


def _remember(
    events: tuple[Event, ...],
    tag_prefix: str,
    rc_token: str,
    horizon: tuple[int, int, int] | bool | None = False,
) -> tuple[Event, ...]:
    """The newest checkpoint computed here: the append that folded it writes it next, and
    `checkpoint_json` needs not compact it a second time. `horizon`, when known (False: not),
    is kept with it: `fold` reads it instead of parsing every promotion again."""
    _last_compacted[:] = [((tag_prefix, rc_token), events)]
    if horizon is not False:
        _horizons[:] = [((tag_prefix, rc_token), events, horizon), *_horizons[:3]]
    return events


_last_compacted: list[tuple[tuple[str, str], tuple[Event, ...]]] = []
# (spelling, events, their horizon) of the newest checkpoints, named by identity.
_horizons: list[tuple[tuple[str, str], tuple[Event, ...], tuple[int, int, int] | bool | None]] = []
# (spelling, checkpoint + recent, checkpoint, recent) of the newest ledger read (`assemble`).
_assembled: list[
    tuple[tuple[str, str], tuple[Event, ...], tuple[Event, ...], tuple[Event, ...]]
] = []


# (spelling, events, `newest_promoted` of them) of the newest checkpoints, named by identity.
_newest: list[tuple[tuple[str, str], tuple[Event, ...], list[str]]] = []


def _known_horizon(
    events: Sequence[Event], tag_prefix: str, rc_token: str
) -> tuple[int, int, int] | None:
    for spelling, known, horizon in _horizons:
        if known is events and spelling == (tag_prefix, rc_token) and horizon is not False:
            return horizon  # type: ignore[return-value]
    return _horizon(events, tag_prefix, rc_token)


def assemble(
    checkpoint: Sequence[Event],
    recent: Sequence[Event],
    *,
    tag_prefix: str,
    rc_token: str,
    promoted: Sequence[str] | None = None,
) -> tuple[Event, ...]:
    """A ledger read as a checkpoint plus the events after it, remembered as such: compacting
    it (a step's first append) folds the recent events onto the checkpoint rather than
    compacting thousands of closed releases' events again. `promoted`: the checkpoint's
    `newest_promoted`, from which its horizon follows without parsing every promotion."""
    spelling = (tag_prefix, rc_token)
    kept = tuple(checkpoint)
    if promoted is not None:
        bases = {b for k in promoted if (b := _base(k, tag_prefix, rc_token))}
        horizon = min(bases) if len(bases) >= KEEP_RELEASES else None
        _horizons[:] = [(spelling, kept, horizon), *_horizons[:3]]
        _newest[:] = [(spelling, kept, sorted(promoted)), *_newest[:3]]
    whole = (*kept, *recent)
    _assembled[:] = [(spelling, whole, kept, tuple(recent))]
    return whole


class _Stub(Event):
    """A closed release's event as a checkpoint keeps it: its kind and key, every other field
    empty. After 5,000 releases a checkpoint holds 10,000 of them, built on every read: two
    slots each, not an instance dict of seven fields, is half the time to build.

    Equal to the `Event` with the same fields, either way round (`Event == _Stub` asks this
    class, its subclass, first)."""

    __slots__ = ("key", "kind")
    time = actor = run = id = ""
    data: Mapping[str, Any] = MappingProxyType({})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.kind, self.key) == (other.kind, other.key) and not (
            other.data or other.id or other.actor or other.run or other.time
        )

    __hash__ = Event.__hash__


_set_kind = _Stub.kind.__set__  # type: ignore[attr-defined]
_set_key = _Stub.key.__set__  # type: ignore[attr-defined]
_new = object.__new__


def _stub_of(kind: str, key: str) -> Event:
    stub = _new(_Stub)
    _set_kind(stub, kind)
    _set_key(stub, key)
    return stub


def _stub(e: Event) -> Event:
    return _stub_of(e.kind, e.key)


def _is_stub(e: Event) -> bool:
    """A closed release's event as a checkpoint keeps it: a stub kind, nothing but its key."""
    return type(e) is _Stub or (
        e.kind in _STUB_KINDS and not (e.data or e.id or e.actor or e.run or e.time)
    )


def fold(
    checkpoint: Sequence[Event], event: Event, *, tag_prefix: str, rc_token: str
) -> tuple[Event, ...]:
    """The checkpoint after one more event: `compact((*checkpoint, event))`, computed from what
    the event can change in a checkpoint (compacted already, so its other events are fixed
    points): a step appends several events, and re-compacting 10,000 of them per append made
    every step slower with each release. A promotion can move the horizon: compacted whole."""
    spelling = (tag_prefix, rc_token)
    if event.kind == EventKind.PROMOTED:
        folded = compact((*checkpoint, event), tag_prefix=tag_prefix, rc_token=rc_token)
        for known_spelling, known, keys in _newest:
            if known is checkpoint and known_spelling == spelling:
                # The newest promotions now are among the checkpoint's and this one: the
                # next append's blob need not scan every promotion for them.
                bases = {k: b for k in {*keys, event.key} if (b := _base(k, *spelling))}
                _newest[:] = [(spelling, folded, _newest_of(bases)), *_newest[:3]]
                break
        return folded
    # Only a promotion moves the horizon: known for the checkpoint this one was folded from.
    horizon = _known_horizon(checkpoint, *spelling)

    def closed(e: Event) -> bool:
        version = event_version(e, *spelling)
        return horizon is not None and version is not None and version < horizon

    drop: set[int] = set()
    if event.kind in _LEASE_KINDS:
        held = [i for i, e in enumerate(checkpoint) if e.kind in _LEASE_KINDS]
        # Compacted, a checkpoint keeps one lease event at most: the lease still held.
        lease_run = checkpoint[held[-1]].run if held else ""
        if event.kind == EventKind.LEASE_ACQUIRED or event.key == lease_run:
            drop.update(held)
    elif event.kind == EventKind.VALIDATION_DISPATCHED:
        # The newest dispatch before this one was kept as the newest: now it is kept only as
        # the rest are, by its release.
        before = next(
            (i for i in range(len(checkpoint) - 1, -1, -1) if checkpoint[i].kind == event.kind),
            None,
        )
        if before is not None and closed(checkpoint[before]):
            drop.add(before)
    else:
        # A decision of a closed release that this event finishes is no longer read.
        ends: dict[str, str] = {
            EventKind.RETRACTED: EventKind.PROMOTING,
            EventKind.BUMPED: EventKind.BUMP_REVERTED,
        }
        ended = ends.get(event.kind)
        if ended is not None:
            drop.update(
                i
                for i, e in enumerate(checkpoint)
                if e.kind == ended and e.key == event.key and closed(e)
            )
    kept = [e for i, e in enumerate(checkpoint) if i not in drop] if drop else list(checkpoint)
    if event.kind in _LEASE_KINDS:
        if event.kind == EventKind.LEASE_ACQUIRED:
            kept.append(event)
    elif event.kind == EventKind.VALIDATION_DISPATCHED or not closed(event):
        kept.append(event)
    elif event.kind in _STUB_KINDS:
        stub = event.data or event.id or event.actor or event.run or event.time
        kept.append(_stub(event) if stub else event)
    elif event.kind in _KEPT_KINDS or event.kind in (
        EventKind.PROMOTING,
        EventKind.BUMP_REVERTED,
    ):
        kept.append(event)  # nothing after it can have finished it yet
    folded = _remember(tuple(kept), tag_prefix, rc_token, horizon)
    # Nor are the promotions changed: their newest keys are the checkpoint's, when known.
    for known_spelling, known, keys in _newest:
        if known is checkpoint and known_spelling == spelling:
            _newest[:] = [(spelling, folded, keys), *_newest[:3]]
            break
    return folded


def covers(
    events: Sequence[Event],
    *,
    tag_prefix: str,
    rc_token: str,
    promoted: Iterable[str] | None = None,
) -> bool:
    """Whether a compacted ledger still holds what a read needs: the current release and the
    one before it (a retraction's fallback) among the releases kept whole. Retractions of every
    kept release in a row are the one case a read goes back to the whole history.

    `promoted`: the keys of the promotions among events that can be among the newest
    KEEP_RELEASES (a checkpoint's `newest_promoted` plus the promotions after it); by default
    every promotion's, parsed (thousands of them, long closed)."""
    if promoted is None:
        promoted = {e.key for e in events if e.kind == EventKind.PROMOTED}
    bases = {k: b for k in promoted if (b := _base(k, tag_prefix, rc_token))}
    newest = sorted(set(bases.values()), reverse=True)[:KEEP_RELEASES]
    if len(newest) < KEEP_RELEASES:
        return True
    horizon = newest[-1]
    retracted = {e.key for e in unstubbed(events) if e.kind == EventKind.RETRACTED}
    live = {b for k, b in bases.items() if k not in retracted and b >= horizon}
    return len(live) >= 2


def newest_promoted(events: Iterable[Event], *, tag_prefix: str, rc_token: str) -> list[str]:
    """The keys of the promotions among events whose release is one of the newest
    KEEP_RELEASES promoted (all of them when fewer): what `covers` needs of them."""
    for spelling, known, keys in _newest:
        if known is events and spelling == (tag_prefix, rc_token):
            return keys  # a checkpoint read, or folded from one
    bases = {  # no stub's: a closed release is among no newest (see `_horizon`)
        e.key: b
        for e in events
        if e.kind == EventKind.PROMOTED
        and type(e) is not _Stub
        and (b := _base(e.key, tag_prefix, rc_token))
    }
    return _newest_of(bases)


def _newest_of(bases: Mapping[str, tuple[int, int, int]]) -> list[str]:
    """Of promotions' keys and their releases, the keys of the newest KEEP_RELEASES releases."""
    newest = sorted(set(bases.values()), reverse=True)[:KEEP_RELEASES]
    floor = newest[-1] if len(newest) == KEEP_RELEASES else None
    return sorted(k for k, b in bases.items() if floor is None or b >= floor)


def checkpoint_json(events: Sequence[Event], *, tag_prefix: str, rc_token: str) -> str:
    """The checkpoint blob: compacted events with their ids, and the tag spelling it read."""
    kept = compact(events, tag_prefix=tag_prefix, rc_token=rc_token)
    # `json.dumps` of {"v", "tag_prefix", "rc_token", "events", "newest_promoted"} with sorted
    # keys, spelled out so the rows of a checkpoint read or written before are not encoded
    # again: every append writes one, and thousands of closed releases' rows stay as they were.
    # `newest_promoted` is derived from events, so a reader need not parse every closed
    # release's promotion (an older rcflow ignores it; a checkpoint without it is scanned).
    dumps = _dumps
    newest = newest_promoted(kept, tag_prefix=tag_prefix, rc_token=rc_token)
    return (
        f'{{"events":[{_rows(kept)}],"newest_promoted":{dumps(newest)},'
        f'"rc_token":{dumps(rc_token)},"tag_prefix":{dumps(tag_prefix)},"v":{CHECKPOINT_FORMAT}}}\n'
    )


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _row(e: Event) -> str:
    if _is_stub(e) and e.key:
        return _dumps(f"{e.kind} {e.key}")
    return _dumps([e.id, e.kind, e.key, e.time, e.actor, e.run, dict(e.data)])


def _rows(kept: tuple[Event, ...]) -> str:
    """The checkpoint's events, encoded: the rows of the newest checkpoint read (or encoded
    whole) that begin this one are reused as text; only the events after them are encoded."""
    for events, text in _encoded:
        # The rows both begin with: the same objects, not equal ones (1 == 1.0, not as JSON).
        same = next(
            (i for i, (a, b) in enumerate(zip(kept, events, strict=False)) if a is not b),
            min(len(kept), len(events)),
        )
        if not same:
            break
        # The rows after them (a lease released, near the end) are cut from the text's end.
        old = ",".join(_row(e) for e in events[same:])
        if old and not text.endswith(f",{old}"):
            break
        head = text[: len(text) - len(old) - 1] if old else text
        tail = ",".join(_row(e) for e in kept[same:])
        return f"{head},{tail}" if tail else head
    text = ",".join(_row(e) for e in kept)
    _encoded[:] = [(kept, text)]
    return text


# (events, their rows encoded) of the checkpoint this process read or encoded whole last.
_encoded: list[tuple[tuple[Event, ...], str]] = []


def read_checkpoint(text: str | None, *, tag_prefix: str, rc_token: str) -> list[Event] | None:
    """The checkpoint's events; None when it is absent, foreign, corrupt, or was compacted for
    another tag spelling (then the reader reads the whole ledger, as before checkpoints)."""
    found = load_checkpoint(text, tag_prefix=tag_prefix, rc_token=rc_token)
    return None if found is None else found[0]


def load_checkpoint(
    text: str | None, *, tag_prefix: str, rc_token: str
) -> tuple[list[Event], list[str] | None] | None:
    """`read_checkpoint`'s events and the checkpoint's `newest_promoted` (None: not written, by
    an older rcflow, or not a list of keys)."""
    if not text:
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if (
        not isinstance(body, dict)
        or type(body.get("v")) is not int
        or body["v"] not in _READ_FORMATS
        or body.get("tag_prefix") != tag_prefix
        or body.get("rc_token") != rc_token
        or not isinstance(body.get("events"), list)
    ):
        return None
    events: list[Event] = []
    new = object.__new__
    stub_kinds = _STUB_KINDS if body["v"] >= 2 else frozenset()
    stub_of = _stub_of
    # JSON gives exact types: `type(...) is` checks every field of 10,000 rows cheaply.
    for row in body["events"]:
        if type(row) is str:
            kind, _, key = row.partition(" ")
            if kind not in stub_kinds or not key:
                return None
            events.append(stub_of(kind, key))
            continue
        if type(row) is not list or len(row) != 7:
            return None
        id_, kind, key, time_, actor, run, data = row
        if not (
            type(id_) is str
            and type(kind) is str
            and type(key) is str
            and type(time_) is str
            and type(actor) is str
            and type(run) is str
            and type(data) is dict
        ):
            return None
        # Made as a frozen dataclass makes itself, without its per-field checks of its own
        # setattr: ten thousand rows of a long history, their types checked just above.
        event = new(Event)
        event.__dict__.update(
            kind=kind, key=key, time=time_, actor=actor, run=run, data=data, id=id_
        )
        events.append(event)
    hint = body.get("newest_promoted")
    if type(hint) is not list or not all(type(k) is str for k in hint):
        hint = None
    # The rows as text, for the next checkpoint written on this one (`_rows`): the events
    # array is everything up to the last `],"newest_promoted":` (after it, only strings).
    # A format 1 checkpoint's rows are not reused: the next one is written whole, as format 2.
    start, end = '{"events":[', text.rfind('],"newest_promoted":')
    if events and body["v"] == CHECKPOINT_FORMAT and text.startswith(start) and end > len(start):
        _encoded[:] = [(tuple(events), text[len(start) : end])]
    return events, hint
