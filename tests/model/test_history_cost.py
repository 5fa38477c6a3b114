"""A command's work depends on the release in flight, not on the releases behind it (issue 14).

Counted, never timed: on a synthesised history of 2,000 past releases, classifying parses as
many tags as on 20, and an append folds and encodes as many events of the checkpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rcflow.model import ledger, tags
from rcflow.model import states as states_module
from rcflow.model.config import parse_stage_tag, tag_spelling
from rcflow.model.ledger import Event
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import State, classify, forge_drift
from rcflow.model.tags import TagVersions
from rcflow.model.version import Version, parse
from rcflow.ports.forge import ReleaseFact
from tests.model.test_ladder import load_config_of
from tests.model.test_states import config, ev, snapshot

SPELLING = {"tag_prefix": "v", "rc_token": "rc"}


def _history(n: int) -> tuple[Snapshot, list[Event]]:
    """n releases (each an RC and its final, tagged, published and recorded) and the next one's
    RC in flight; the ledger as the steps write it."""
    tag_shas: dict[str, str] = {}
    events: list[Event] = []
    for i in range(1, n + 1):
        rc, final = f"v1.{i}.0-rc.1", f"v1.{i}.0"
        tag_shas[rc] = tag_shas[final] = f"{i:040x}"
        events += [
            ev("lease_acquired", f"run{i}", host="h", pid=1, expires=1.0, command="rc"),
            ev("bumped", f"1.{i}.0"),
            ev("rc_tagged", rc, sha=f"{i:040x}"),
            ev("validation_passed", f"{rc}/unit", sha=f"{i:040x}", duration=1.0, detail="ok"),
            ev("promoted", final, rc=rc),
            ev("lease_released", f"run{i}"),
        ]
    target = f"1.{n + 1}.0"
    tag_shas[f"v{target}-rc.1"] = "f" * 40
    events += [ev("bumped", target), ev("rc_tagged", f"v{target}-rc.1", sha="f" * 40)]
    events = [dataclasses.replace(e, id=f"{j:040x}") for j, e in enumerate(events)]
    s = snapshot(target, tags=tag_shas, ledger=events)
    releases = {t: ReleaseFact(t, t, prerelease="rc" in t, retracted=False) for t in tag_shas}
    c = config()
    indexed = dataclasses.replace(
        s,
        releases=releases,
        tag_versions=TagVersions(tag_shas, c),
        tag_spelling=tag_spelling(c),
    )
    return indexed, events


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls = [0]
    real: Callable[..., Any] = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def _parses_to_classify(monkeypatch: pytest.MonkeyPatch, n: int) -> int:
    s, events = _history(n)
    checkpoint = ledger.compact(events, **SPELLING)
    s = dataclasses.replace(s, ledger=checkpoint)
    with monkeypatch.context() as m:
        in_index = _counting(m, tags, "parse_stage_tag")
        in_states = _counting(m, states_module, "parse_stage_tag")
        in_tags = _counting(m, states_module, "parse_tag")
        release = classify(s, config())
        assert forge_drift(s, release, config()) == ()
    assert release.state == State.CANDIDATE
    assert release.last_final == parse(f"1.{n}.0")
    assert [c.tag for c in release.candidates] == [f"v1.{n + 1}.0-rc.1"]
    # The current release and the one a rollback falls back to, not every final.
    assert release.finals == (parse(f"1.{n - 1}.0"), parse(f"1.{n}.0"))
    return in_index[0] + in_states[0] + in_tags[0]


def test_classify_parses_as_many_tags_after_2000_releases_as_after_20(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    few = _parses_to_classify(monkeypatch, 20)
    many = _parses_to_classify(monkeypatch, 2000)
    assert many == few
    assert many <= 5  # the release in flight's RCs, not the 4,000 tags behind it


def test_the_tag_index_builds_versions_only_when_read() -> None:
    names = {f"v1.{i}.0": "a" for i in range(2000)} | {f"v1.{i}.0-rc.1": "a" for i in range(2000)}
    index = TagVersions([*names, "other-1.0.0", "v1.2.3-beta.1"], config())
    assert len(index) == 4000 and "v1.7.0-rc.1" in index and "other-1.0.0" not in index
    assert index.finals[(1, 1999, 0)] == "v1.1999.0"
    assert index.pre_releases((1, 5, 0)) == ["v1.5.0-rc.1"]
    assert index["v1.5.0-rc.1"] == parse("v1.5.0-rc.1", **SPELLING)  # type: ignore[arg-type]
    assert len(index._built) == 1  # one Version built: the one read
    assert dict(TagVersions.of({"v1.2.0": parse("1.2.0")}, config()).finals) == {
        (1, 2, 0): "v1.2.0"
    }


def _append_cost(monkeypatch: pytest.MonkeyPatch, n: int) -> tuple[int, int, int]:
    """(events parsed for their version, rows encoded, checkpoint rows) of a step's appends
    on a ledger read from its checkpoint, as observe reads it and the writer appends."""
    _, events = _history(n)
    before, tip = events[:-1], events[-1]
    # Written by the previous append, read by this run.
    text = ledger.checkpoint_json(ledger.compact(before, **SPELLING), **SPELLING)
    ledger._encoded.clear()
    ledger._last_compacted.clear()
    loaded = ledger.load_checkpoint(text, **SPELLING)
    assert loaded is not None
    read = ledger.assemble(loaded[0], [tip], **SPELLING, promoted=loaded[1])
    with monkeypatch.context() as m:
        versions = _counting(m, ledger, "event_version")
        horizons = _counting(m, ledger, "_horizon")
        rows = _counting(m, ledger, "_row")
        checkpoint = ledger.compact(read, **SPELLING)
        written = [ledger.checkpoint_json(checkpoint, **SPELLING)]
        for event in (
            ev("lease_acquired", "me", host="h", pid=1, expires=1.0, command="validate"),
            ev("validation_passed", f"v1.{n + 1}.0-rc.1/unit", sha="f" * 40, duration=1.0),
            ev("lease_released", "me"),
        ):
            checkpoint = ledger.fold(checkpoint, event, **SPELLING)
            written.append(ledger.checkpoint_json(checkpoint, **SPELLING))
        assert horizons[0] == 0
    # What an append wrote is what compacting the whole ledger and encoding it at once gives.
    whole = ledger.compact((*events, *checkpoint[-2:]), **SPELLING)
    assert checkpoint == whole
    ledger._encoded.clear()
    assert written[-1] == ledger.checkpoint_json(whole, **SPELLING)
    return versions[0], rows[0], len(checkpoint)


def test_appends_fold_and_encode_as_many_events_after_2000_releases_as_after_20(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    few = _append_cost(monkeypatch, 20)
    many = _append_cost(monkeypatch, 2000)
    assert many[2] > 3000  # the checkpoint does hold the closed releases' stubs
    assert many[:2] == few[:2]
    assert many[0] <= 10 and many[1] <= 60  # the release in flight's events


@pytest.mark.parametrize("stages", ["", 'stages = ["alpha", "beta", "rc"]\n'])
def test_the_tag_index_reads_each_tag_as_parse_stage_tag_does(tmp_path: Path, stages: str) -> None:
    c = load_config_of(tmp_path, stages)
    names = [
        *(f"v1.{i}.{j}" for i in range(3) for j in range(2)),
        *(f"v1.{i}.0-{w}.{n}" for i in range(4) for w in ("alpha", "beta", "rc") for n in (1, 2)),
        *("v1.2.0-rc.0", "v01.2.0", "1.2.0", "v1.2.0-gamma.1", "v1.2.0-alpha.1.1", "x"),
    ]
    index = TagVersions(names, c)
    expected = {n: v for n in names if (v := parse_stage_tag(n, c)) is not None}
    assert dict(index) == expected
    assert sorted(index.finals.values()) == sorted(n for n, v in expected.items() if v.is_final)
    for base in {(v.major, v.minor, v.patch) for v in expected.values()}:
        assert sorted(index.pre_releases(base)) == sorted(
            n for n, v in expected.items() if v.rc is not None and v.base == Version(*base)
        )
