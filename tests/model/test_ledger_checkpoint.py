"""The ledger's checkpoint (`model.ledger.compact`) against the whole ledger.

A command reads the newest checkpoint plus the events after it; these tests hold that read equal
to the whole ledger for everything that reads it: classification, forge drift, the status view,
the lease, the preflight's dispatch finding and every step's plan, over random release histories
(cycles, withdrawn RCs, retractions, reverted bumps, leases left held, failures, waivers, foreign
events) split at a random checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rcflow.model import ledger
from rcflow.model.config import Config, HooksConfig, ValidationConfig, VersionFileConfig
from rcflow.model.ledger import Event, compact, covers, current_lease
from rcflow.model.snapshot import Snapshot, VersionFileFact
from rcflow.model.states import classify, forge_drift
from rcflow.model.version_text import VersionFileKind
from rcflow.model.views import status_view
from rcflow.ports.forge import ReleaseFact
from rcflow.preflight import git as git_checks
from rcflow.preflight.github import dispatch_findings
from rcflow.steps import STEPS, Facts
from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.rollback import RollbackArgs
from rcflow.steps.validate import ValidateArgs

PREFIX, TOKEN = "v", "rc"
SPELLING = {"tag_prefix": PREFIX, "rc_token": TOKEN}
PYPROJECT = VersionFileConfig("pyproject.toml", VersionFileKind.PYPROJECT, None, None)


def _config() -> Config:
    return Config(
        root=Path("/repo"),
        source="test",
        version_files=(PYPROJECT,),
        validations=(ValidationConfig("unit", "make test", 60.0, True),),
        hooks=HooksConfig(after_promote="echo promoted", after_rollback="echo rolled back"),
    )


CONFIG = _config()


@dataclasses.dataclass
class History:
    """A release history as the steps would have written it, and what git and the forge hold."""

    events: list[Event] = dataclasses.field(default_factory=list)
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    releases: dict[str, ReleaseFact] = dataclasses.field(default_factory=dict)
    finals: list[tuple[int, int, int]] = dataclasses.field(default_factory=list)
    files: str = "1.0.0"
    n: int = 0

    def sha(self) -> str:
        self.n += 1
        return f"{self.n:040x}"

    def add(self, kind: str, key: str, run: str = "run-1", **data: Any) -> None:
        self.events.append(
            Event(kind, key, "2026-01-01T00:00:00Z", "Someone <s@x.invalid>", run, data, self.sha())
        )


def tag(v: tuple[int, int, int], rc: int | None = None) -> str:
    return f"v{v[0]}.{v[1]}.{v[2]}" + (f"-rc.{rc}" if rc else "")


def dotted(v: tuple[int, int, int]) -> str:
    return f"{v[0]}.{v[1]}.{v[2]}"


def _release(name: str, latest: bool = False) -> ReleaseFact:
    return ReleaseFact(name, name, "-rc." in name, False, latest=latest)


_ACTIONS = (
    "cycle",
    "cycle",
    "cycle",
    "cycle",
    "bump",
    "rc",
    "validate",
    "promoting",
    "withdraw",
    "withdraw_unfinished",
    "retract",
    "revert",
    "lease",
    "lease_held",
    "failed",
    "waived",
    "foreign",
    "forge_gone",
)
ACTIONS = st.sampled_from(_ACTIONS)


def build(actions: list[str], lease_runs: list[int]) -> History:
    h = History()
    target: tuple[int, int, int] | None = None
    rc = 0
    for i, action in enumerate(actions):
        run = f"run-{lease_runs[i % len(lease_runs)]}"
        last = max(h.finals) if h.finals else (1, 0, 0)
        if action in ("cycle", "bump") or (target is None and action in ("rc", "validate")):
            h.add("lease_acquired", run, run, host="box", pid=1, expires=2e9, command="bump")
            target = (last[0], last[1] + 1, 0)
            rc = 0
            h.add(
                "bumped", dotted(target), run, **{"from": dotted(last), "version": dotted(target)}
            )
            h.files = dotted(target)
            h.add("lease_released", run, run)
        if action in ("cycle", "rc", "validate") and target is not None:
            rc += 1
            sha = h.sha()
            h.tags[tag(target, rc)] = sha
            h.add("rc_tagged", tag(target, rc), run, sha=sha)
            h.releases[tag(target, rc)] = _release(tag(target, rc))
        if action in ("cycle", "validate") and target is not None and rc:
            sha = h.tags[tag(target, rc)]
            h.add(
                "validation_dispatched",
                f"{tag(target, rc)}/unit",
                run,
                sha=sha,
                run_details=i % 2 == 0,
            )
            h.add("validation_passed", f"{tag(target, rc)}/unit", run, sha=sha, duration=1.0)
            h.add("validate_completed", tag(target, rc), run, sha=sha, passed=True)
        if action in ("cycle", "promoting") and target is not None and rc:
            final = tag(target, None)
            h.add("promoting", final, run, rc=tag(target, rc), hooks=["after_promote"])
            if action == "cycle":
                h.tags[final] = h.tags[tag(target, rc)]
                h.add("hook_succeeded", f"{final}/after_promote", run)
                h.add("image_promoted", f"{final}/ghcr.io/o/app", run, digest=f"sha256:{i}")
                h.add("promoted", final, run, version=dotted(target), rc=tag(target, rc))
                h.releases = {
                    k: dataclasses.replace(r, latest=False) for k, r in h.releases.items()
                }
                h.releases[final] = _release(final, latest=True)
                h.finals.append(target)
                target, rc = None, 0
        elif action.startswith("withdraw") and target is not None and rc:
            h.add("rc_withdrawn", tag(target, rc), run, hooks=["after_rollback"])
            if action == "withdraw":  # else the run stopped before deleting the tag
                h.tags.pop(tag(target, rc), None)
        elif action == "retract" and h.finals:
            gone = h.finals.pop()
            previous = tag(max(h.finals)) if h.finals else None
            h.add(
                "retracted",
                tag(gone),
                run,
                previous_tag=previous,
                reason="bad",
                hooks=["after_rollback"],
            )
        elif action == "revert" and target is not None:
            h.add("bump_reverted", dotted(target), run)
            h.files = dotted(last)
            target = None
        elif action == "lease_held":
            h.add("lease_acquired", run, run, host="box", pid=1, expires=2e9, command="rc")
        elif action == "lease":
            h.add("lease_broken", run, f"run-{i}", by=f"run-{i}")
        elif action == "failed":
            h.add("step_failed", f"rc/{tag(target, rc) if target else '-'}", run, reason="x")
        elif action == "waived":
            h.add("check_waived", "git.dirty@-", run, version=dotted(target) if target else None)
        elif action == "foreign":
            h.add("something_new", f"{tag(last)}/x", run, note="a newer rcflow")
        elif action == "forge_gone" and h.releases:
            h.releases.pop(sorted(h.releases)[i % len(h.releases)])
    return h


def snapshot(h: History, events: tuple[Event, ...]) -> Snapshot:
    text = f'[project]\nname = "demo"\nversion = "{h.files}"\n'
    return Snapshot(
        root="/repo",
        git_dir="/repo/.git",
        now=1_800_000_000.0,
        head="d" * 40,
        branch="main",
        release_branch="main",
        remote="origin",
        dirty=(),
        identity="Someone <s@x.invalid>",
        local_tags=dict(h.tags),
        remote_tags=dict(h.tags),
        remote_reachable=True,
        remote_error=None,
        remote_branch="d" * 40,
        head_on_remote=True,
        remote_ahead=False,
        ledger=events,
        ledger_tip="e" * 40,
        local_ledger_tip="e" * 40,
        files=(VersionFileFact("pyproject.toml", text, text),),
        commits_since_final=(),
        releases=dict(h.releases),
    )


def _render(name: str, context: Any) -> str:
    return f"{name}: {sorted(context)}"


def readings(h: History, events: tuple[Event, ...]) -> dict[str, Any]:
    """Everything a command derives from the ledger, on these events."""
    s = snapshot(h, events)
    release = classify(s, CONFIG)
    found: dict[str, Any] = {
        "release": release,
        "drift": forge_drift(s, release, CONFIG),
        "status": status_view(s, release, CONFIG),
        "lease": current_lease(events),
        "dispatch": dispatch_findings(events),
    }
    facts = Facts.of(s, CONFIG, git_checks.findings, _render)
    named = [RollbackArgs(what=t) for t in sorted(h.tags)[-3:]]
    for name, args in [
        ("bump", BumpArgs("auto")),
        ("rc", RcArgs()),
        ("validate", ValidateArgs()),
        ("promote", PromoteArgs()),
        ("rollback", RollbackArgs()),
        *(("rollback", a) for a in named),
    ]:
        try:
            found[f"{name} {args}"] = STEPS[name].plan(facts, args).dumps()
        except Exception as exc:  # a refusal is a reading too: the same one on both
            found[f"{name} {args}"] = f"{type(exc).__name__}: {exc}"
    return found


def checkpointed(events: list[Event], split: int) -> tuple[Event, ...]:
    """What observe reads: the checkpoint written with event `split` (the ledger before it),
    then the events from it to the tip; the whole ledger when the checkpoint does not cover."""
    read = (*compact(events[:split], **SPELLING), *events[split:])
    whole = covers(read, **SPELLING)
    # As observe reads it: the checkpoint's newest promotions, then those since it.
    blob = ledger.checkpoint_json(events[:split], **SPELLING)
    loaded = ledger.load_checkpoint(blob, **SPELLING)
    assert loaded is not None and loaded[1] is not None
    promoted = [*loaded[1], *(e.key for e in events[split:] if e.kind == "promoted")]
    assert covers(read, **SPELLING, promoted=promoted) == whole
    return read if whole else tuple(events)


def _histories(rng: random.Random) -> tuple[list[str], list[int], float]:
    # Drawn from a seeded random rather than `st.lists`: releases close only after several
    # cycles, and the interesting histories (an old RC withdrawn, then four releases) are long.
    names = list(_ACTIONS)
    actions = [rng.choice(names) for _ in range(rng.randint(10, 90))]
    return actions, [rng.randint(0, 3) for _ in range(rng.randint(1, 4))], rng.random()


HISTORIES = st.one_of(
    st.tuples(
        st.lists(ACTIONS, min_size=10, max_size=80),
        st.lists(st.integers(0, 3), min_size=1, max_size=4),
        st.floats(0, 1),
    ),
    st.randoms(use_true_random=False).map(_histories),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HISTORIES)
def test_a_checkpointed_read_equals_the_whole_ledger(
    case: tuple[list[str], list[int], float],
) -> None:
    actions, runs, where = case
    h = build(actions, runs)
    split = round(where * len(h.events))
    assert readings(h, checkpointed(h.events, split)) == readings(h, tuple(h.events))


@settings(max_examples=200, deadline=None)
@given(HISTORIES)
def test_the_checkpoint_folds_one_event_at_a_time(case: tuple[list[str], list[int], float]) -> None:
    actions, runs, where = case
    events = build(actions, runs).events
    split = round(where * len(events))
    folded = compact(events[:split], **SPELLING)
    for e in events[split:]:
        folded = ledger.fold(folded, e, **SPELLING)
    assert folded == compact(events, **SPELLING)
    assert compact(folded, **SPELLING) == folded


def test_a_long_history_compacts_to_a_bounded_checkpoint() -> None:
    short = build(["cycle"] * 10, [1]).events
    long = build(["cycle"] * 400, [1]).events
    whole = [e for e in compact(long, **SPELLING) if e.data]
    assert len(whole) == len([e for e in compact(short, **SPELLING) if e.data])
    assert len(long) > 10 * len(whole)
    assert covers(compact(long, **SPELLING), **SPELLING)


def test_retractions_of_every_kept_release_read_the_whole_ledger() -> None:
    h = build(["cycle"] * 8 + ["retract"] * ledger.KEEP_RELEASES, [1])
    assert not covers(compact(h.events, **SPELLING), **SPELLING)
    assert checkpointed(h.events, len(h.events)) == tuple(h.events)


def test_the_checkpoint_blob_round_trips_and_refuses_what_is_not_one() -> None:
    events = build(["cycle"] * 6 + ["lease_held"], [1, 2]).events
    blob = ledger.checkpoint_json(events, **SPELLING)
    assert ledger.read_checkpoint(blob, **SPELLING) == list(compact(events, **SPELLING))
    bad_blobs = (
        "",
        "{",
        "[]",
        '{"v": 2}',
        blob.replace('"v":2', '"v":9'),
        blob.replace('"v":2', '"v":true'),
        '{"v":1,"events":[1]}',
        # A stub string of a kind never kept as a stub, or without its key.
        blob.replace('"promoted v1.1.0"', '"bumped v1.1.0"'),
        blob.replace('"promoted v1.1.0"', '"promoted"'),
    )
    for bad in bad_blobs:
        assert ledger.read_checkpoint(bad, **SPELLING) is None
    # Its newest promotions: the releases kept whole (4 of 6); one an older rcflow wrote
    # (without them), or with them damaged, is still read, and scanned for them.
    assert ledger.load_checkpoint(blob, **SPELLING) == (
        list(compact(events, **SPELLING)),
        sorted(f"{PREFIX}1.{m}.0" for m in range(3, 7)),
    )
    for hint in ('"newest_promoted":[],', '"newest_promoted":[1],', '"newest_promoted":"x",'):
        damaged = blob.replace('"newest_promoted":[', '"was":[').replace("{", "{" + hint, 1)
        found = ledger.load_checkpoint(damaged, **SPELLING)
        assert found is not None and found[0] == list(compact(events, **SPELLING))
        assert found[1] == ([] if hint == '"newest_promoted":[],' else None)
    # Compacted for another tag spelling: which events are closed differs, so it is not used.
    assert ledger.read_checkpoint(blob, tag_prefix="release-", rc_token=TOKEN) is None


def _ev(kind: str, key: str, run: str = "", n: int = 0) -> Event:
    return Event(kind, key, f"2026-01-01T00:00:{n:02d}Z", "ci", run, {"n": n}, f"{n:040x}")


def _closing(*extra: Event) -> list[Event]:
    """v1.0.0's decisions, then four releases promoted (v1.0.0 is closed), then `extra`."""
    events = [
        _ev("validation_dispatched", f"{PREFIX}1.0.0-{TOKEN}.1", n=1),
        _ev("promoting", f"{PREFIX}1.0.0", n=2),
        _ev("bump_reverted", "1.0.0", n=3),
        _ev("lease_acquired", "promote", run="r1", n=4),
    ]
    for minor in range(1, 5):
        events.append(_ev("rc_tagged", f"{PREFIX}1.{minor}.0-{TOKEN}.1", n=10 + minor))
        events.append(_ev("promoted", f"{PREFIX}1.{minor}.0", n=20 + minor))
    return [*events, *extra]


@pytest.mark.parametrize(
    "extra",
    [
        [_ev("validation_dispatched", f"{PREFIX}1.5.0-{TOKEN}.1", n=30)],  # the old one goes
        [_ev("retracted", f"{PREFIX}1.0.0", n=30)],  # finishes the closed promoting
        [_ev("bumped", "1.0.0", n=30)],  # finishes the closed revert
        [_ev("lease_released", "r1", n=30)],
        [_ev("lease_released", "other", n=30)],  # not the lease held: nothing changes
        [_ev("lease_acquired", "rc", run="r2", n=30), _ev("lease_broken", "r2", n=31)],
        [_ev("rc_tagged", f"{PREFIX}1.0.1-{TOKEN}.1", n=30), _ev("hook_failed", "x", n=31)],
        [_ev("rc_withdrawn", f"{PREFIX}1.0.0-{TOKEN}.1", n=30)],
    ],
)
def test_folding_what_an_append_can_change_equals_compacting_all(extra: list[Event]) -> None:
    events = _closing(*extra)
    base = len(events) - len(extra)
    folded = compact(events[:base], **SPELLING)
    for e in events[base:]:
        folded = ledger.fold(folded, e, **SPELLING)
    assert folded == compact(events, **SPELLING)


def test_an_append_that_promotes_nothing_compacts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step's appends fold in what the event changes, not the whole checkpoint again."""
    checkpoint = compact(_closing(), **SPELLING)
    calls: list[int] = []
    whole = ledger.compact

    def counting(events: Any, **kw: str) -> tuple[Event, ...]:
        calls.append(len(events))
        return whole(events, **kw)

    monkeypatch.setattr(ledger, "compact", counting)
    ledger.fold(checkpoint, _ev("rc_tagged", f"{PREFIX}1.5.0-{TOKEN}.1", n=30), **SPELLING)
    assert calls == []
    ledger.fold(checkpoint, _ev("promoted", f"{PREFIX}1.5.0", n=31), **SPELLING)
    assert calls == [len(checkpoint) + 1]


def _format_1(blob: str) -> str:
    """The blob as rcflow wrote it before format 2: every stub a row of seven fields."""
    body = json.loads(blob)
    rows = [
        ["", *row.split(" ", 1), "", "", "", {}] if isinstance(row, str) else row
        for row in body["events"]
    ]
    return json.dumps({**body, "events": rows, "v": 1}, sort_keys=True, separators=(",", ":"))


def test_format_2_writes_a_closed_release_as_one_string_and_still_reads_format_1() -> None:
    events = build(["cycle"] * 8 + ["lease_held"], [1, 2]).events
    kept = list(compact(events, **SPELLING))
    blob = ledger.checkpoint_json(events, **SPELLING)
    body = json.loads(blob)
    assert body["v"] == ledger.CHECKPOINT_FORMAT == 2
    stubs = [row for row in body["events"] if isinstance(row, str)]
    assert stubs and stubs[0] == "rc_tagged v1.1.0-rc.1"
    # Every stub is a string, every other event a row: the same events either way.
    assert len(stubs) == sum(1 for e in kept if not (e.data or e.id or e.time or e.run))
    old = _format_1(blob)
    assert len(old) > len(blob)
    assert ledger.load_checkpoint(old, **SPELLING) == ledger.load_checkpoint(blob, **SPELLING)
    # Format 1 never held a stub string: one there is damage, and the checkpoint is not used.
    assert (
        ledger.read_checkpoint(
            old.replace('"events":[', '"events":["promoted v9.0.0",'), **SPELLING
        )
        is None
    )
    # Read from format 1, the next checkpoint is written whole as format 2 (not format 1's rows
    # reused), and equals one written from the events directly.
    read = ledger.read_checkpoint(old, **SPELLING)
    assert read is not None
    assert ledger.checkpoint_json(tuple(read), **SPELLING) == blob


def test_a_stub_read_is_equal_to_the_event_it_stands_for_either_way_round() -> None:
    events = build(["cycle"] * 8, [1]).events
    read = ledger.read_checkpoint(ledger.checkpoint_json(events, **SPELLING), **SPELLING)
    assert read is not None
    stubs = [e for e in read if not (e.data or e.id or e.time or e.run or e.actor)]
    assert stubs
    for stub in stubs:
        plain = Event(stub.kind, stub.key, "", "", "", {}, "")
        assert stub == plain and plain == stub and not (stub != plain or plain != stub)
        assert dict(stub.data) == {} and (stub.time, stub.actor, stub.run, stub.id) == ("",) * 4
        for other in (
            Event(stub.kind, stub.key, "t", "", "", {}, ""),
            Event(stub.kind, stub.key, "", "", "", {"x": 1}, ""),
            Event(stub.kind, f"{stub.key}x", "", "", "", {}, ""),
            Event("bumped", stub.key, "", "", "", {}, ""),
        ):
            assert stub != other and other != stub
        assert stub != stub.key
    # Compacting what was read keeps them as they are: the same checkpoint again.
    assert compact(tuple(read), **SPELLING) == compact(events, **SPELLING)


def test_unstubbed_keeps_every_event_of_a_kind_never_stubbed_in_order() -> None:
    events = build(["cycle"] * 8 + ["retract", "lease_held"], [1, 2]).events
    read = ledger.read_checkpoint(ledger.checkpoint_json(events, **SPELLING), **SPELLING)
    assert read is not None
    for seq in (tuple(events), tuple(read), list(read)):
        rest = ledger.unstubbed(seq)
        assert list(rest) == [e for e in seq if e.kind not in ledger._STUB_KINDS]
        assert len(rest) < len(seq)
        # What status reads through it is what it reads through the whole ledger.
        assert ledger.current_lease(rest) == ledger.current_lease(list(seq))
    snapshot_ledger = tuple(read)
    assert ledger.unstubbed(snapshot_ledger) is ledger.unstubbed(snapshot_ledger)


@settings(max_examples=100, deadline=None)
@given(HISTORIES)
def test_the_newest_promotions_folded_past_a_promotion_are_the_ones_a_scan_finds(
    case: tuple[list[str], list[int], float],
) -> None:
    """A checkpoint read knows its `newest_promoted`; folding a promotion updates them rather
    than scanning every promotion again for the next blob: the same keys either way."""
    actions, runs, where = case
    events = build(actions, runs).events
    split = round(where * len(events))
    checkpoint = compact(events[:split], **SPELLING)
    # As a read leaves it: the checkpoint and its newest promotions, known by identity.
    known = ledger.newest_promoted(checkpoint, **SPELLING)
    folded = compact(ledger.assemble(checkpoint, (), promoted=known, **SPELLING), **SPELLING)
    for e in events[split:]:
        folded = ledger.fold(folded, e, **SPELLING)
    cached = ledger.newest_promoted(folded, **SPELLING)
    ledger._newest.clear()
    assert cached == ledger.newest_promoted(folded, **SPELLING)
    assert cached == ledger.newest_promoted(events, **SPELLING)
