"""[[validate]] kinds besides `run`: a dispatched workflow, required checks and statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcflow.errors import ConfigError
from rcflow.model.config import ValidationConfig, load_config, parse_duration


def load(root: Path, text: str) -> tuple[ValidationConfig, ...]:
    (root / "rcflow.toml").write_text(text, encoding="utf-8")
    return load_config(root).validations


def error(root: Path, text: str) -> str:
    (root / "rcflow.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(root)
    assert "\n" not in err.value.message
    return err.value.message


def test_workflow_checks_and_statuses_validations(tmp_path: Path) -> None:
    found = load(
        tmp_path,
        'forge = "github"\n'
        '[[validate]]\nname = "e2e"\nworkflow = "e2e.yml"\ntimeout = "1h"\nmax_age = "7d"\n'
        'inputs = { suite = "full", region = "eu" }\n'
        '[[validate]]\nname = "ci"\nchecks = ["build", "lint"]\nstatuses = ["ci/docs"]\n'
        "required = false\n"
        '[[validate]]\nname = "unit"\nrun = "pytest"\n',
    )
    assert found == (
        ValidationConfig(
            "e2e",
            "",
            3600.0,
            True,
            kind="workflow",
            workflow="e2e.yml",
            inputs=(("region", "eu"), ("suite", "full")),
            max_age=7 * 86400.0,
        ),
        ValidationConfig(
            "ci",
            "",
            1800.0,
            False,
            kind="checks",
            checks=("build", "lint"),
            statuses=("ci/docs",),
        ),
        ValidationConfig("unit", "pytest", 1800.0, True),
    )
    assert [v.on_github for v in found] == [True, True, False]


@pytest.mark.parametrize(
    ("text", "seconds"), [("7d", 604800.0), ("1d12h", 129600.0), ("2d30m", 174600.0)]
)
def test_durations_take_days(text: str, seconds: float) -> None:
    assert parse_duration(text, "x") == seconds


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "name = 'a'\nrun = 'x'\nworkflow = 'e2e.yml'",
            "validate[0]: has run and workflow: use one of them per [[validate]]",
        ),
        (
            "name = 'a'\nworkflow = 'e2e.yml'\nchecks = ['build']",
            "validate[0]: has workflow and checks/statuses: use one of them per [[validate]]",
        ),
        (
            "name = 'a'\nworkflow = '.github/workflows/e2e.yml'",
            "validate[0].workflow: '.github/workflows/e2e.yml' is not a workflow file name",
        ),
        ("name = 'a'\nworkflow = 3", "validate[0].workflow: expected a string, got an integer"),
        (
            "name = 'a'\nrun = 'x'\ninputs = { a = 'b' }",
            "validate[0].inputs: only used with workflow = ...",
        ),
        (
            "name = 'a'\nworkflow = 'e2e.yml'\ninputs = { n = 3 }",
            "validate[0].inputs.n: expected a string, got an integer",
        ),
        (
            "name = 'a'\nworkflow = 'e2e.yml'\ninputs = { tag = 'v1' }",
            "validate[0].inputs.tag: is set by rcflow itself",
        ),
        (
            "name = 'a'\nworkflow = 'e2e.yml'\ninputs = 'x'",
            "validate[0].inputs: expected a table of strings, got a string",
        ),
        (
            "name = 'a'\nworkflow = 'e2e.yml'\ninputs = { "
            + ", ".join(f"i{n} = 'x'" for n in range(24))
            + " }",
            "validate[0].inputs: at most 23 inputs (GitHub takes 25 with rcflow's)",
        ),
        ("name = 'a'\nchecks = []", "validate[0].checks: name at least one check or status"),
        ("name = 'a'\nchecks = 'build'", "validate[0].checks: expected an array of strings"),
        ("name = 'a'\nstatuses = ['', 'x']", "validate[0].statuses[0]: expected a non-empty"),
        (
            "name = 'a'\nchecks = ['build', 'build']",
            "validate[0].checks[1]: 'build' is listed twice",
        ),
        (
            "name = 'a'\nchecks = ['build']\nmax_age = '1 week'",
            "validate[0].max_age: not a duration: '1 week'",
        ),
        ("name = 'a'\nchecks = ['b']\nmax_age = 0", "validate[0].max_age: must be longer than"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, entry: str, message: str) -> None:
    assert message in error(tmp_path, f"[[validate]]\n{entry}\n")


def test_github_validations_with_the_local_forge_are_refused_with_the_fix(tmp_path: Path) -> None:
    text = 'forge = "local"\n[[validate]]\nname = "ci"\nchecks = ["build"]\n'
    assert error(tmp_path, text) == (
        'rcflow.toml: validate[0]: ci runs on GitHub, which needs forge = "github" (not "local")'
    )


# -- deployment evidence (issue 15) ------------------------------------------------------------


def test_a_deployment_validation(tmp_path: Path) -> None:
    found = load(
        tmp_path,
        '[[validate]]\nname = "staging-deployed"\ndeployment = "staging"\ntimeout = "2h"\n'
        '[[validate]]\nname = "eu"\ndeployment = "production/eu-west 1"\n',
    )
    assert found == (
        ValidationConfig(
            "staging-deployed", "", 7200.0, True, kind="deployment", deployment="staging"
        ),
        ValidationConfig(
            "eu", "", 1800.0, True, kind="deployment", deployment="production/eu-west 1"
        ),
    )
    assert all(v.on_github for v in found)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "run = 'x'\ndeployment = 'staging'",
            "validate[0]: has run and deployment: use one of them per [[validate]]",
        ),
        (
            "workflow = 'e2e.yml'\ndeployment = 'staging'",
            "validate[0]: has workflow and deployment: use one of them per [[validate]]",
        ),
        (
            "checks = ['build']\ndeployment = 'staging'",
            "validate[0]: has checks/statuses and deployment: use one of them per [[validate]]",
        ),
        (
            "statuses = ['ci']\ndeployment = 'staging'",
            "validate[0]: has checks/statuses and deployment: use one of them per [[validate]]",
        ),
        ("deployment = ''", 'validate[0].deployment: must name an environment (such as "staging")'),
        ("deployment = '   '", "validate[0].deployment: must name an environment"),
        ("deployment = ' staging'", "validate[0].deployment: ' staging' has spaces around"),
        ("deployment = 3", "validate[0].deployment: expected an environment name (a string), got"),
        ("deployment = ['staging']", "validate[0].deployment: expected an environment name"),
        (
            'deployment = "stag\\ning"',
            "validate[0].deployment: 'stag\\ning' contains a control character",
        ),
        ("deployment = '" + "e" * 256 + "'", "validate[0].deployment: longer than 255 characters"),
        (
            "deployment = 'staging'\ninputs = { a = 'b' }",
            "validate[0].inputs: only used with workflow = ...",
        ),
    ],
)
def test_deployment_errors_name_the_key(tmp_path: Path, entry: str, message: str) -> None:
    assert message in error(tmp_path, f"[[validate]]\nname = 'a'\n{entry}\n")


def test_a_deployment_validation_with_the_local_forge_is_refused(tmp_path: Path) -> None:
    text = 'forge = "local"\n[[validate]]\nname = "staging"\ndeployment = "staging"\n'
    assert error(tmp_path, text) == (
        'rcflow.toml: validate[0]: staging runs on GitHub, which needs forge = "github" '
        '(not "local")'
    )


def test_no_kind_names_deployment_among_the_choices(tmp_path: Path) -> None:
    assert error(tmp_path, "[[validate]]\nname = 'a'\n") == (
        "rcflow.toml: validate[0].run: required (or workflow, or checks/statuses, or deployment)"
    )
