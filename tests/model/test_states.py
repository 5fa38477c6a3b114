"""classify(): the release state derived from hand-built facts, no git involved."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from rcflow.model.config import Config, ValidationConfig, VersionFileConfig
from rcflow.model.ledger import Event
from rcflow.model.snapshot import Snapshot, VersionFileFact
from rcflow.model.states import NEXT, Release, State, classify
from rcflow.model.version import Spelling, next_rc_number, parse
from rcflow.model.version_text import VersionFileKind

A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)
PYPROJECT = VersionFileConfig("pyproject.toml", VersionFileKind.PYPROJECT, None, None)
DEPLOY = VersionFileConfig(
    "deploy.yaml", VersionFileKind.PATTERN, r"image: demo:(?P<version>\S+)", Spelling.TAG
)
UNIT = ValidationConfig("unit", "make test", 60.0, True)
LINT = ValidationConfig("lint", "make lint", 60.0, False)


def config(
    *, validations: Iterable[ValidationConfig] = (UNIT,), files: Iterable[VersionFileConfig] = ()
) -> Config:
    return Config(
        root=Path("/repo"),
        source="test",
        version_files=tuple(files) or (PYPROJECT,),
        validations=tuple(validations),
    )


def pyproject(version: str) -> str:
    return f'[project]\nname = "demo"\nversion = "{version}"\n'


def snapshot(
    version: str | None = "1.4.0",
    *,
    tags: Mapping[str, str] | None = None,
    local: Mapping[str, str] | None = None,
    remote: Mapping[str, str] | None = None,
    ledger: Iterable[Event] = (),
    files: Mapping[str, str | None] | None = None,
    reachable: bool = True,
    head: str = D,
) -> Snapshot:
    """Facts with defaults: `tags` are both here and on the remote; v1.3.0 is released."""
    both = {"v1.3.0": A} if tags is None else dict(tags)
    texts = dict(files) if files is not None else {"pyproject.toml": None}
    if files is None and version is not None:
        texts["pyproject.toml"] = pyproject(version)
    return Snapshot(
        root="/repo",
        git_dir="/repo/.git",
        now=1_800_000_000.0,
        head=head,
        branch="main",
        release_branch="main",
        remote="origin",
        dirty=(),
        identity="Someone <s@example.invalid>",
        local_tags={**both, **(local or {})},
        remote_tags={**both, **(remote or {})} if reachable else {},
        remote_reachable=reachable,
        remote_error=None if reachable else "unreachable",
        remote_branch=head,
        head_on_remote=True,
        remote_ahead=False,
        ledger=tuple(ledger),
        ledger_tip="e" * 40 if ledger else None,
        local_ledger_tip="e" * 40 if ledger else None,
        files=tuple(VersionFileFact(p, t, t) for p, t in texts.items()),
        commits_since_final=(),
    )


def ev(kind: str, key: str, **data: Any) -> Event:
    return Event(kind, key, "2026-01-01T00:00:00Z", "Someone <s@example.invalid>", "run", data)


def passed(tag: str, sha: str, name: str = "unit") -> Event:
    return ev("validation_passed", f"{tag}/{name}", sha=sha, duration=1.0, detail="exit 0")


def failed(tag: str, sha: str, name: str = "unit") -> Event:
    return ev("validation_failed", f"{tag}/{name}", sha=sha, duration=1.0, detail="exit 1")


def completed(tag: str, sha: str) -> Event:
    return ev("validate_completed", tag, sha=sha)


def classify_(s: Snapshot, c: Config | None = None) -> Release:
    return classify(s, c or config())


# -- every state -------------------------------------------------------------------------------


def test_idle_after_a_release_made_by_hand() -> None:
    r = classify_(snapshot("1.3.0"))
    assert r.state is State.IDLE
    assert r.last_final == parse("1.3.0") == r.highest_final
    assert r.target is None and r.candidates == () and r.problems == ()
    assert r.next == ("bump",)


def test_released_needs_the_ledger_to_say_promoted() -> None:
    tags = {"v1.3.0": A, "v1.4.0-rc.1": B, "v1.4.0": B}
    r = classify_(snapshot("1.4.0", tags=tags, ledger=[ev("promoted", "v1.4.0")]))
    assert r.state is State.RELEASED
    assert r.last_final == parse("1.4.0")
    assert r.finals == (parse("1.3.0"), parse("1.4.0"))
    assert r.target is None
    assert r.next == ("bump", "rollback")
    # The same tags without the ledger's word: a release rcflow did not make.
    assert classify_(snapshot("1.4.0", tags=tags)).state is State.IDLE


def test_bumped() -> None:
    r = classify_(snapshot("1.4.0"))
    assert r.state is State.BUMPED
    assert r.target == parse("1.4.0")
    assert r.files_version == parse("1.4.0")
    assert r.last_final == parse("1.3.0")
    assert r.used_rc_numbers == frozenset()
    assert r.next == ("rc", "bump", "rollback")


def test_no_release_yet_the_files_version_is_in_flight() -> None:
    r = classify_(snapshot("0.1.0", tags={}))
    assert r.state is State.BUMPED
    assert r.target == parse("0.1.0")
    assert r.last_final is None and r.highest_final is None


def test_candidate() -> None:
    r = classify_(snapshot(tags={"v1.3.0": A, "v1.4.0-rc.1": B}))
    assert r.state is State.CANDIDATE
    assert r.latest is not None
    assert (r.latest.number, r.latest.tag, r.latest.sha) == (1, "v1.4.0-rc.1", B)
    assert r.latest.local and r.latest.remote
    assert r.latest.results == () and not r.latest.completed
    assert r.next == ("validate", "rc", "rollback")


def test_validated() -> None:
    ledger = [ev("rc_tagged", "v1.4.0-rc.1", sha=B), passed("v1.4.0-rc.1", B)]
    tags = {"v1.3.0": A, "v1.4.0-rc.1": B}
    # Results alone are not enough: the validate run must have completed.
    assert classify_(snapshot(tags=tags, ledger=ledger)).state is State.CANDIDATE
    r = classify_(snapshot(tags=tags, ledger=[*ledger, completed("v1.4.0-rc.1", B)]))
    assert r.state is State.VALIDATED
    assert r.next == ("promote", "rc", "rollback")
    assert [(v.name, v.passed, v.required, v.sha) for v in r.latest.results] == [  # type: ignore[union-attr]
        ("unit", True, True, B)
    ]


def test_rejected() -> None:
    tags = {"v1.3.0": A, "v1.4.0-rc.1": B}
    r = classify_(snapshot(tags=tags, ledger=[failed("v1.4.0-rc.1", B)]))
    # A required failure rejects even before the run is recorded as completed.
    assert r.state is State.REJECTED
    assert r.next == ("rc", "validate", "rollback")
    # The newest result per validation counts: a re-run that passed validates.
    later = [failed("v1.4.0-rc.1", B), passed("v1.4.0-rc.1", B), completed("v1.4.0-rc.1", B)]
    assert classify_(snapshot(tags=tags, ledger=later)).state is State.VALIDATED
    flaky = [passed("v1.4.0-rc.1", B), completed("v1.4.0-rc.1", B), failed("v1.4.0-rc.1", B)]
    assert classify_(snapshot(tags=tags, ledger=flaky)).state is State.REJECTED


def test_retracted_final_falls_back_but_the_highest_stays() -> None:
    tags = {"v1.3.0": A, "v1.4.0-rc.1": B, "v1.4.0": B}
    ledger = [ev("promoted", "v1.3.0"), ev("promoted", "v1.4.0"), ev("retracted", "v1.4.0")]
    r = classify_(snapshot("1.4.0", tags=tags, ledger=ledger))
    assert r.state is State.RETRACTED
    assert r.last_final == parse("1.3.0")
    assert r.highest_final == parse("1.4.0")
    assert r.finals == (parse("1.3.0"),)
    assert r.retracted == frozenset({"v1.4.0"})
    assert r.target is None
    assert r.next == ("bump",)

    # The next bump goes past the retracted number, never back to it.
    after = classify_(snapshot("1.4.1", tags=tags, ledger=ledger))
    assert after.state is State.BUMPED and after.target == parse("1.4.1")
    assert after.last_final == parse("1.3.0") and after.highest_final == parse("1.4.0")

    # Files that go back below a released number are a problem, not a target.
    back = classify_(snapshot("1.3.5", tags=tags, ledger=ledger))
    assert back.target is None
    assert any("1.3.5" in p and "v1.4.0" in p for p in back.problems)


def test_retracting_an_older_final_does_not_retract_the_newest() -> None:
    tags = {"v1.2.0": C, "v1.3.0": A}
    ledger = [ev("promoted", "v1.3.0"), ev("retracted", "v1.2.0")]
    r = classify_(snapshot("1.3.0", tags=tags, ledger=ledger))
    assert r.state is State.RELEASED
    assert r.last_final == parse("1.3.0")
    assert r.finals == (parse("1.3.0"),)


@pytest.mark.parametrize("state", list(State))
def test_every_state_has_a_next_command(state: State) -> None:
    assert NEXT[state], state


# -- RC numbering ------------------------------------------------------------------------------


def test_withdrawn_rcs_keep_their_numbers() -> None:
    tags = {"v1.3.0": A, "v1.4.0-rc.2": C}
    ledger = [
        ev("rc_tagged", "v1.4.0-rc.1", sha=B),
        ev("rc_withdrawn", "v1.4.0-rc.1", sha=B, rc=1),
        ev("rc_tagged", "v1.4.0-rc.2", sha=C),
    ]
    r = classify_(snapshot(tags=tags, ledger=ledger))
    assert r.used_rc_numbers == frozenset({1, 2})
    assert r.withdrawn_tags == frozenset({"v1.4.0-rc.1"})
    assert [c.tag for c in r.candidates] == ["v1.4.0-rc.2"]
    assert next_rc_number(r.used_rc_numbers) == 3
    assert r.problems == ()


def test_every_rc_withdrawn_is_bumped_again_with_numbers_used() -> None:
    ledger = [
        ev("rc_tagged", "v1.4.0-rc.1", sha=B),
        ev("rc_withdrawn", "v1.4.0-rc.1"),
        ev("rc_tagged", "v1.4.0-rc.2", sha=C),
        ev("rc_withdrawn", "v1.4.0-rc.2"),
    ]
    r = classify_(snapshot(ledger=ledger))
    assert r.state is State.BUMPED
    assert r.candidates == ()
    assert next_rc_number(r.used_rc_numbers) == 3


def test_an_rc_tag_deleted_by_hand_still_used_its_number() -> None:
    r = classify_(snapshot(ledger=[ev("rc_tagged", "v1.4.0-rc.3", sha=B)]))
    assert r.state is State.BUMPED
    assert r.used_rc_numbers == frozenset({3})
    assert next_rc_number(r.used_rc_numbers) == 4


def test_rc_numbers_are_per_version_and_sorted_numerically() -> None:
    tags = {"v1.3.0": A, "v1.3.0-rc.7": C, "v1.4.0-rc.9": B, "v1.4.0-rc.10": C}
    r = classify_(snapshot(tags=tags, ledger=[ev("rc_tagged", "v1.5.0-rc.20")]))
    assert r.used_rc_numbers == frozenset({9, 10})
    assert [c.number for c in r.candidates] == [9, 10]
    assert r.latest is not None and r.latest.tag == "v1.4.0-rc.10"


def test_a_withdrawn_tag_that_still_exists_is_a_problem_not_a_candidate() -> None:
    tags = {"v1.3.0": A, "v1.4.0-rc.1": B}
    r = classify_(snapshot(tags=tags, ledger=[ev("rc_withdrawn", "v1.4.0-rc.1")]))
    assert r.state is State.BUMPED
    assert r.candidates == ()
    assert any("v1.4.0-rc.1" in p and "withdrawn" in p for p in r.problems)


def test_foreign_and_other_prefix_tags_are_ignored() -> None:
    tags = {"v1.3.0": A, "release-2.0.0": B, "v9.0.0-beta.1": B, "nightly": C}
    r = classify_(snapshot("1.3.0", tags=tags))
    assert r.state is State.IDLE
    assert r.highest_final == parse("1.3.0")


# -- problems: drift and files -----------------------------------------------------------------


def test_local_and_remote_tag_drift() -> None:
    r = classify_(
        snapshot(
            local={"v1.4.0-rc.1": B, "v1.4.0-rc.2": C},
            remote={"v1.4.0-rc.1": C},
        )
    )
    assert any("v1.4.0-rc.1" in p and "here but at" in p for p in r.problems), r.problems
    assert any("v1.4.0-rc.2" in p and "not on origin" in p for p in r.problems), r.problems
    rc1 = next(c for c in r.candidates if c.number == 1)
    assert rc1.sha == C  # the remote is the shared truth
    rc2 = next(c for c in r.candidates if c.number == 2)
    assert rc2.local and not rc2.remote


def test_a_remote_only_tag_is_no_problem() -> None:
    r = classify_(snapshot(remote={"v1.4.0-rc.1": B}))
    assert r.problems == ()
    assert r.latest is not None and not r.latest.local and r.latest.remote


def test_an_unreachable_remote_reports_no_missing_tags() -> None:
    r = classify_(snapshot(tags={}, local={"v1.3.0": A, "v1.4.0-rc.1": B}, reachable=False))
    assert r.problems == ()
    assert r.state is State.CANDIDATE


def test_version_file_mismatch_is_a_problem_with_file_and_line() -> None:
    c = config(files=(PYPROJECT, DEPLOY))
    files = {"pyproject.toml": pyproject("1.4.0"), "deploy.yaml": "kind: x\nimage: demo:v1.3.0\n"}
    r = classify_(snapshot(files=files), c)
    assert r.files_version == parse("1.4.0")
    assert r.state is State.BUMPED
    assert len(r.problems) == 1
    assert "deploy.yaml:2" in r.problems[0]
    assert "'v1.3.0'" in r.problems[0] and "'v1.4.0'" in r.problems[0]

    files["deploy.yaml"] = "kind: x\nimage: demo:v1.4.0\n"
    assert classify_(snapshot(files=files), c).problems == ()


def test_a_missing_version_file_is_a_problem() -> None:
    r = classify_(snapshot(None, files={"pyproject.toml": None}))
    assert r.files_version is None
    assert r.target is None
    assert any("pyproject.toml" in p for p in r.problems)


def test_a_version_file_without_a_version_is_a_problem() -> None:
    r = classify_(snapshot(files={"pyproject.toml": '[project]\nname = "demo"\n'}))
    assert r.files_version is None
    assert r.problems


# -- validation results are bound to the sha ---------------------------------------------------


def test_a_result_for_another_sha_does_not_count() -> None:
    tags = {"v1.3.0": A, "v1.4.0-rc.1": B}
    other = [passed("v1.4.0-rc.1", C), completed("v1.4.0-rc.1", C)]
    r = classify_(snapshot(tags=tags, ledger=other))
    assert r.state is State.CANDIDATE
    assert r.latest is not None and r.latest.results == () and not r.latest.completed
    # A failure on another sha does not reject this one either.
    assert classify_(snapshot(tags=tags, ledger=[failed("v1.4.0-rc.1", C)])).state is (
        State.CANDIDATE
    )


def test_a_new_rc_on_a_new_commit_starts_unvalidated() -> None:
    tags = {"v1.3.0": A, "v1.4.0-rc.1": B, "v1.4.0-rc.2": C}
    ledger = [passed("v1.4.0-rc.1", B), completed("v1.4.0-rc.1", B)]
    r = classify_(snapshot(tags=tags, ledger=ledger))
    assert r.state is State.CANDIDATE
    rc1, rc2 = r.candidates
    assert rc1.completed and rc1.results
    assert not rc2.completed and rc2.results == ()


def test_a_tag_moved_by_hand_loses_its_validation() -> None:
    """Results are bound to the sha the tag pointed at, so moving a tag cannot inherit them."""
    ledger = [passed("v1.4.0-rc.1", B), completed("v1.4.0-rc.1", B)]
    assert (
        classify_(snapshot(tags={"v1.3.0": A, "v1.4.0-rc.1": B}, ledger=ledger)).state
        is State.VALIDATED
    )
    moved = classify_(snapshot(tags={"v1.3.0": A, "v1.4.0-rc.1": C}, ledger=ledger))
    assert moved.state is State.CANDIDATE


def test_optional_validations_do_not_block() -> None:
    c = config(validations=(UNIT, LINT))
    tags = {"v1.3.0": A, "v1.4.0-rc.1": B}
    ledger = [passed("v1.4.0-rc.1", B), failed("v1.4.0-rc.1", B, "lint")]
    r = classify_(snapshot(tags=tags, ledger=[*ledger, completed("v1.4.0-rc.1", B)]), c)
    assert r.state is State.VALIDATED
    lint = next(v for v in r.latest.results if v.name == "lint")  # type: ignore[union-attr]
    assert not lint.passed and not lint.required

    # An optional pass cannot stand in for a required validation that never ran.
    only_lint = [passed("v1.4.0-rc.1", B, "lint"), completed("v1.4.0-rc.1", B)]
    assert classify_(snapshot(tags=tags, ledger=only_lint), c).state is State.CANDIDATE


def test_a_required_validation_added_after_the_run_is_still_needed() -> None:
    tags = {"v1.3.0": A, "v1.4.0-rc.1": B}
    ledger = [passed("v1.4.0-rc.1", B), completed("v1.4.0-rc.1", B)]
    extra = ValidationConfig("e2e", "make e2e", 60.0, True)
    assert classify_(snapshot(tags=tags, ledger=ledger), config()).state is State.VALIDATED
    r = classify_(snapshot(tags=tags, ledger=ledger), config(validations=(UNIT, extra)))
    assert r.state is State.CANDIDATE


def test_no_validations_configured_a_completed_run_signs_off() -> None:
    c = config(validations=())
    tags = {"v1.3.0": A, "v1.4.0-rc.1": B}
    assert classify_(snapshot(tags=tags), c).state is State.CANDIDATE
    r = classify_(snapshot(tags=tags, ledger=[completed("v1.4.0-rc.1", B)]), c)
    assert r.state is State.VALIDATED


def test_classify_is_a_pure_function_of_the_facts() -> None:
    s = snapshot(tags={"v1.3.0": A, "v1.4.0-rc.1": B}, ledger=[failed("v1.4.0-rc.1", B)])
    assert classify_(s) == classify_(s)


# -- rcflow's writes that only this clone has: the remote decides -------------------------------


def _refused_promotion(local_final: bool, reachable: bool = True) -> Snapshot:
    rc = {"v1.3.0": A, "v1.4.0-rc.1": B}
    return snapshot(
        "1.4.0",
        tags=rc,
        local={"v1.4.0": B} if local_final else None,
        reachable=reachable,
        ledger=[
            ev("rc_tagged", "v1.4.0-rc.1", sha=B),
            passed("v1.4.0-rc.1", B),
            completed("v1.4.0-rc.1", B),
            ev("promoting", "v1.4.0", rc="v1.4.0-rc.1", sha=B),
        ],
    )


def test_a_final_tag_the_remote_never_got_is_no_release_in_any_clone() -> None:
    here, fresh = classify_(_refused_promotion(True)), classify_(_refused_promotion(False))
    for r in (here, fresh):
        assert r.state is State.VALIDATED
        assert r.target == parse("1.4.0")
        assert r.last_final == parse("1.3.0")
        assert r.problems == (
            "the promotion of v1.4.0 is unfinished: the tag is not on origin; "
            "`rcflow promote` finishes it",
        )
        assert r.next == NEXT[State.VALIDATED]
    # Offline, this clone cannot know: its own tag counts, as before.
    offline = classify_(_refused_promotion(True, reachable=False))
    assert offline.last_final == parse("1.4.0")


def test_a_promotion_abandoned_by_a_withdrawal_leaves_only_a_local_tag_to_remove() -> None:
    s = _refused_promotion(True)
    s = Snapshot(
        **{
            **s.__dict__,
            "ledger": (*s.ledger, ev("rc_withdrawn", "v1.4.0-rc.1")),
            "local_tags": {"v1.3.0": A, "v1.4.0": B},  # the RC's tag is gone everywhere
            "remote_tags": {"v1.3.0": A},
        }
    )
    r = classify_(s)
    assert r.state is State.BUMPED
    assert r.problems == (
        "tag v1.4.0 exists here but not on origin: its promotion was abandoned when its RC was "
        "withdrawn; `rcflow rollback` removes it",
    )


def test_a_bump_revert_the_remote_does_not_have_keeps_bumped_in_every_clone() -> None:
    ledger = [ev("bumped", "1.4.0", head=B), ev("bump_reverted", "1.4.0", commit=B)]
    fresh = snapshot("1.4.0", ledger=ledger)
    # The clone that made the revert: HEAD says 1.3.0, the remote branch still 1.4.0.
    here = Snapshot(
        **{
            **snapshot("1.3.0", ledger=ledger).__dict__,
            "head_on_remote": False,
            "remote_branch": B,
            "remote_files": {"pyproject.toml": pyproject("1.4.0")},
        }
    )
    for s in (fresh, here):
        r = classify_(s)
        assert (r.state, r.target) == (State.BUMPED, parse("1.4.0"))
        assert r.problems == (
            "the bump to 1.4.0 is reverted in the ledger but not on origin: "
            "`rcflow rollback` finishes it",
        )
        assert r.next == ("rollback",)
    done = Snapshot(**{**here.__dict__, "remote_files": {"pyproject.toml": pyproject("1.3.0")}})
    assert classify_(done).state is State.IDLE
    assert classify_(done).problems == ()


def test_tags_parsed_by_observe_are_read_only_under_their_own_spelling() -> None:
    """observe parses each tag once and classify reuses the versions; parsed under another
    configuration's spelling (or not at all) they are not read: the tags are parsed again."""
    import dataclasses

    from rcflow.model.config import parse_stage_tag, tag_spelling
    from rcflow.model.states import forge_drift
    from rcflow.ports.forge import ReleaseFact

    c = config()
    tags = {"v1.3.0": A, "v1.4.0-rc.1": B, "release-9.0.0": C}
    releases = {"v1.4.0-rc.1": ReleaseFact("v1.4.0-rc.1", "rc", prerelease=True, retracted=False)}
    s = dataclasses.replace(
        snapshot(tags=tags, ledger=[ev("rc_tagged", "v1.4.0-rc.1")]), releases=releases
    )
    versions = {n: v for n in tags if (v := parse_stage_tag(n, c))}
    assert sorted(versions) == ["v1.3.0", "v1.4.0-rc.1"]
    parsed = dataclasses.replace(s, tag_versions=versions, tag_spelling=tag_spelling(c))
    expected = classify_(s, c)
    assert classify_(parsed, c) == expected
    assert forge_drift(parsed, expected, c) == forge_drift(s, expected, c)
    assert expected.target is not None and [x.tag for x in expected.candidates] == ["v1.4.0-rc.1"]
    # Versions that lie, under another spelling: ignored.
    wrong = {"v1.3.0": parse("9.9.9", Spelling.SEMVER)}
    other = dataclasses.replace(c, tag_prefix="release-")
    lying = dataclasses.replace(s, tag_versions=wrong, tag_spelling=tag_spelling(other))
    assert classify_(lying, c) == expected
    # Under its own spelling, what the snapshot says is what classify reads.
    told = dataclasses.replace(s, tag_versions=wrong, tag_spelling=tag_spelling(c))
    assert classify_(told, c).last_final == parse("9.9.9", Spelling.SEMVER)


def test_a_plan_fingerprint_names_every_tag_here_and_there() -> None:
    tags = {f"v1.{m}.0": f"{m:040x}" for m in range(50)}
    base = snapshot(tags=tags).fingerprint()
    assert snapshot(tags=dict(reversed(tags.items()))).fingerprint() == base  # order: no fact
    for changed in (
        snapshot(tags=tags, local={"v1.49.0": "f" * 40}),  # a tag moved here
        snapshot(tags=tags, remote={"v1.49.0": "f" * 40}),  # or there
        snapshot(tags=tags, local={"v2.0.0": "f" * 40}),  # one more here
        snapshot(tags=tags, remote={"v2.0.0": "f" * 40}),  # or there
        snapshot(tags={k: v for k, v in tags.items() if k != "v1.0.0"}),
    ):
        assert changed.fingerprint() != base
    # A pair is one line: a name and a sha cannot be split differently to the same text.
    assert (
        snapshot(tags={"v1.0.0": "ab"}).fingerprint()
        != snapshot(tags={"v1.0.0 a": "b"}).fingerprint()
    )
