"""The pre-release ladder (issue 15): stage configuration, spellings, ordering, classification."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcflow.model.config import load_config, parse_stage_tag, stage_named
from rcflow.model.states import State, classify
from rcflow.model.version import Spelling, Version, parse_tag
from tests.model.test_states import A, B, C, completed, ev, passed, pyproject, snapshot
from tests.support.config import config_error, write

PY = '[project]\nname = "demo"\nversion = "1.4.0"\n'


def ladder(tmp_path: Path, toml: str) -> object:
    write(tmp_path, "pyproject.toml", PY)
    write(tmp_path, "rcflow.toml", toml)
    return load_config(tmp_path)


def test_default_ladder_is_the_one_rc_stage(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PY)
    config = load_config(tmp_path)
    assert [s.name for s in config.ladder] == ["rc"]
    assert config.stages == () and config.rc_token == "rc"
    write(tmp_path, "rcflow.toml", 'rc_token = "pre"\n')
    config = load_config(tmp_path)
    assert config.ladder[0].token == "pre" and config.stages == ()


def test_three_stages_spell_semver_tag_and_pep440(tmp_path: Path) -> None:
    config = load_config_of(tmp_path, 'stages = ["alpha", "beta", "rc"]\n')
    beta = stage_named(config, "beta")
    assert beta is not None and beta.word is not None
    v = Version(1, 4, 0).at_stage(beta.word, 2)
    assert v.render(Spelling.TAG) == "v1.4.0-beta.2"
    assert v.render(Spelling.SEMVER) == "1.4.0-beta.2"
    assert v.render(Spelling.PEP440) == "1.4.0b2"
    alpha = stage_named(config, "alpha")
    assert alpha is not None and alpha.word is not None
    assert Version(1, 4, 0).at_stage(alpha.word, 1).render(Spelling.PEP440) == "1.4.0a1"
    assert parse_stage_tag("v1.4.0-beta.2", config) == v
    assert parse_stage_tag("v1.4.0-rc.1", config) == Version(1, 4, 0, 1)
    assert parse_stage_tag("v1.4.0-gamma.1", config) is None
    # A stage's tags never read as another's, nor as the RC's.
    assert parse_tag("v1.4.0-beta.2") is None


def test_ordering_is_the_ladder_then_the_number(tmp_path: Path) -> None:
    config = load_config_of(tmp_path, 'stages = ["alpha", "beta", "rc"]\n')
    a, b = (stage_named(config, n) for n in ("alpha", "beta"))
    assert a is not None and b is not None
    base = Version(1, 4, 0)
    order = [
        base.at_stage(a.word, 9),
        base.at_stage(b.word, 1),
        base.at_stage(b.word, 3),
        base.with_rc(1),
        base,
    ]
    assert sorted(reversed(order)) == order


def test_configured_words(tmp_path: Path) -> None:
    config = load_config_of(
        tmp_path,
        'stages = ["preview", "candidate"]\n[stage.preview]\nword = "beta"\npep440 = "a"\n',
    )
    first = config.ladder[0]
    assert (first.token, first.pep440) == ("beta", "a")
    assert config.rc_token == "candidate"  # the last stage's word is what rc_token was
    assert parse_stage_tag("v2.0.0-beta.1", config) == Version(2, 0, 0).at_stage(first.word, 1)
    assert parse_stage_tag("v2.0.0-candidate.1", config) == Version(2, 0, 0, 1)


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('stages = ["beta", "beta"]\n', "listed twice"),
        ('stages = ["Beta", "rc"]\n', "lowercase"),
        ("stages = []\n", "at least one stage"),
        ('stages = ["a", "b", "c", "d"]\n', "at most 3"),
        ('stages = ["beta", "rc"]\n[stage.gamma]\nsoak = "1h"\n', "not in stages"),
        ('stages = ["beta", "rc"]\n[stage.beta]\nsoak = "two days"\n', "not a duration"),
        ('stages = ["beta", "rc"]\n[stage.beta]\nword = "rc"\n', "already"),
        ('stages = ["rc", "beta"]\n', "sort in ladder order"),
        ('stages = ["beta", "rc"]\n[stage.beta]\npep440 = "rc"\n', "PEP 440 phase below rc"),
        ('stages = ["alpha", "beta", "rc"]\n[stage.alpha]\npep440 = "b"\n', "does not come after"),
        ('stages = ["beta", "rc"]\n[stage.rc]\nsoak = "1h"\n[release]\nsoak = "2h"\n', "both"),
        ('stages = ["beta", "rc"]\nskip_allowed = ["alpha"]\n', "not in stages"),
        ('stages = ["beta", "rc"]\nrc_in_files = true\n', "one stage"),
        (
            'stages = ["beta", "rc"]\n[[validate]]\nname = "x"\nrun = "true"\nstages = ["gamma"]\n',
            "not in stages",
        ),
        ('rc_token = "pre"\n[stage.rc]\nword = "cand"\n', "disagrees with rc_token"),
    ],
)
def test_bad_ladders_are_one_line_config_errors(tmp_path: Path, toml: str, says: str) -> None:
    write(tmp_path, "pyproject.toml", PY)
    write(tmp_path, "rcflow.toml", toml)
    assert says in config_error(tmp_path)


def test_soak_and_validation_stages(tmp_path: Path) -> None:
    config = load_config_of(
        tmp_path,
        'stages = ["beta", "rc"]\n[stage.beta]\nsoak = "48h"\n[release]\nsoak = "24h"\n'
        '[[validate]]\nname = "e2e"\nrun = "true"\nstages = ["rc"]\n'
        '[[validate]]\nname = "unit"\nrun = "true"\n',
    )
    assert [s.soak for s in config.ladder] == [48 * 3600.0, 24 * 3600.0]
    assert config.release_soak == 24 * 3600.0
    e2e, unit = config.validations
    assert not e2e.applies("beta") and e2e.applies("rc")
    assert unit.applies("beta") and unit.applies("rc")


def load_config_of(tmp_path: Path, toml: str):  # type: ignore[no-untyped-def]
    write(tmp_path, "pyproject.toml", PY)
    write(tmp_path, "rcflow.toml", toml)
    return load_config(tmp_path)


def test_classify_the_ladder(tmp_path: Path) -> None:
    config = load_config_of(
        tmp_path,
        'stages = ["beta", "rc"]\n[[validate]]\nname = "unit"\nrun = "true"\n'
        '[[validate]]\nname = "e2e"\nrun = "true"\nstages = ["rc"]\n',
    )
    tags = {"v1.3.0": A, "v1.4.0-beta.1": B, "v1.4.0-beta.2": C, "v1.4.0-rc.1": C}
    events = [
        ev("rc_tagged", "v1.4.0-beta.1", sha=B),
        ev("rc_tagged", "v1.4.0-beta.2", sha=C),
        passed("v1.4.0-beta.2", C, "unit"),
        completed("v1.4.0-beta.2", C),
        ev("rc_tagged", "v1.4.0-rc.1", sha=C, stage="rc"),
    ]
    s = snapshot(tags=tags, ledger=events, files={"pyproject.toml": pyproject("1.4.0")})
    r = classify(s, config)
    assert [c.tag for c in r.candidates] == ["v1.4.0-beta.1", "v1.4.0-beta.2", "v1.4.0-rc.1"]
    assert r.stage == "rc" and r.used("beta") == {1, 2} and r.used("rc") == {1}
    # unit's pass at beta carries over (same sha, applies to rc); e2e has not run at rc.
    assert r.state is State.CANDIDATE
    r2 = classify(snapshot(tags=tags, ledger=[*events, passed("v1.4.0-rc.1", C, "e2e")]), config)
    assert r2.state is State.VALIDATED
    # A new commit entering at beta after rc.1 is the newest pre-release: beta is current.
    tags3 = {**tags, "v1.4.0-beta.3": A}
    r3 = classify(
        snapshot(tags=tags3, ledger=[*events, ev("rc_tagged", "v1.4.0-beta.3", sha=A)]), config
    )
    assert r3.latest is not None and r3.latest.tag == "v1.4.0-beta.3" and r3.stage == "beta"
    # Withdrawn numbers stay used.
    r4 = classify(
        snapshot(tags=tags, ledger=[*events, ev("rc_withdrawn", "v1.4.0-rc.1")]),
        config,
    )
    assert r4.used("rc") == {1} and r4.stage == "beta"
