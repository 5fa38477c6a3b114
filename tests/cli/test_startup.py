"""Start-up stays light (issue 14): what `status`, `doctor` and `--help` import, not how fast.

Each probe runs the entry point in a fresh interpreter and lists the modules it loaded, so a
module-level import that drags the parser, the planning code or a check's parser back onto
these paths fails here, whatever the machine's speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.project import Project

# Never on a read path: the parser, rich, the git/GitHub clients, templates, the effect types
# and everything that applies them, semver's full grammar, tomlkit.
_NEVER_READING = (
    "typer",
    "rcflow.cli.app",
    "git",
    "github",
    "jinja2",
    "tomlkit",
    "semver",
    "rcflow.model.effects",
    "rcflow.engine.executor",
    "rcflow.engine.handlers",
    "rcflow.commands.step",
    "rcflow.commands.run",
    "rcflow.steps",
)


def _probe(argv: list[str], cwd: Path, *, before: str = "", after: str) -> tuple[int, str]:
    """`rcflow *argv` by `main()` in a fresh interpreter in cwd, with `before` run ahead of it
    and `after` (which prints to stderr) once it returned: the exit code and that last line."""
    probe = (
        f"import gc, sys; from rcflow.cli.main import main\n{before}"
        f"try:\n    code = main({argv!r})\n"
        "except SystemExit as exc:\n    code = exc.code\n"
        f"{after}; sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, check=False
    )
    return done.returncode, done.stderr.strip().splitlines()[-1]


def _loaded(argv: list[str], cwd: Path) -> tuple[int, set[str]]:
    """The exit code of `rcflow *argv` run in cwd, and every module it had loaded by then."""
    code, last = _probe(argv, cwd, after="print(sorted(sys.modules), file=sys.stderr)")
    loaded = set(eval(last))  # noqa: S307 - our own list
    assert "rcflow.cli.main" in loaded  # the probe saw the imports at all
    return code, loaded


def _top(loaded: set[str]) -> set[str]:
    return loaded | {m.split(".")[0] for m in loaded}


def test_status_json_loads_no_parser_planning_or_drawing(project: Project) -> None:
    code, loaded = _loaded(["status", "--json"], project.root)
    assert code == 0
    for heavy in (
        *_NEVER_READING,
        "rich",
        "yaml",
        "rcflow.preflight",
        "rcflow.cli.console",
        "shutil",
        # The value classes are `rcflow.record`'s: `dataclasses` and the `inspect` it imports
        # cost more than the git commands behind a status (issue 14, item 5).
        "dataclasses",
        "inspect",
        "tokenize",  # a Python version file's reader needs it, a pyproject's does not
        "copy",  # the local forge copies a record it changes, on a write
        "hashlib",  # the local forge names blobs and trees as git does, on a write
    ):
        assert heavy not in _top(loaded), heavy
    assert "rcflow.engine.observe" in loaded


def test_help_and_version_load_no_planning(project: Project) -> None:
    """The step commands come from the step registry: their declarations, not their plans."""
    for argv in (["--help"], ["bump", "--help"]):
        code, loaded = _loaded(argv, project.root)
        assert code == 0, argv
        assert {"typer", "rcflow.steps.bump"} <= loaded  # the commands are built from STEPS
        for heavy in (
            "rcflow.model.effects",
            "rcflow.model.conventional",
            "rcflow.engine",
            "rcflow.preflight",
            "rcflow.commands.context",
            "rcflow.adapters",
            "rich",
            "jinja2",
            "yaml",
            "git",
            "github",
            "semver",
        ):
            assert heavy not in _top(loaded), (argv, heavy)


def test_version_loads_no_parser(project: Project) -> None:
    """`rcflow --version` is answered as the parser would answer it, without loading it."""
    code, last = _probe(
        ["--version"], project.root, after="print(sorted(sys.modules), file=sys.stderr)"
    )
    loaded = set(eval(last))  # noqa: S307 - our own list
    assert code == 0
    for heavy in ("typer", "click", "rich", "rcflow.cli.app", "rcflow.steps", "rcflow.commands"):
        assert heavy not in _top(loaded), heavy
    done = subprocess.run(
        [sys.executable, "-m", "rcflow", "--version"], capture_output=True, text=True, check=True
    )
    from rcflow import __version__

    assert (done.stdout, done.stderr) == (f"rcflow {__version__}\n", "")


def test_version_says_what_the_parser_says() -> None:
    from typer.testing import CliRunner

    from rcflow import __version__
    from rcflow.cli.app import app

    result = CliRunner().invoke(app, ["--version"])
    assert (result.exit_code, result.output) == (0, f"rcflow {__version__}\n")


@pytest.mark.parametrize("json", [True, False], ids=["json", "text"])
def test_doctor_without_workflows_loads_no_check_it_does_not_run(
    project: Project, json: bool
) -> None:
    """Its text, written to a pipe as in a scheduled job, needs no rich either (`console`)."""
    assert not (project.root / ".github" / "workflows").exists()
    code, loaded = _loaded(["doctor", "--json"] if json else ["doctor"], project.root)
    assert code == 0
    for heavy in (
        *_NEVER_READING,
        "rich",
        "yaml",
        "rcflow.preflight.workflows",
        "rcflow.preflight.github",
        "rcflow.preflight.registries",
        "rcflow.preflight.forge",
        "rcflow.commands.init",
        "rcflow.ports.templates",
        # The findings and checks are `rcflow.record` classes; a waiver's copy of a finding
        # imports `dataclasses` when there is one (issue 14, item 5).
        "dataclasses",
        "inspect",
        "shutil",  # `which` for actionlint: it loads the archive codecs (bz2, lzma)
        "bz2",
        "lzma",
    ):
        assert heavy not in _top(loaded), heavy
    assert "rcflow.preflight.git" in loaded


@pytest.mark.parametrize("generated", [False, True], ids=["own-workflow", "init-wrote-one"])
def test_doctor_loads_the_workflow_checks_when_there_is_a_workflow(
    project: Project, generated: bool
) -> None:
    first = "# written by `rcflow init` (rcflow 0.1.0)\n" if generated else ""
    project.write(
        ".github/workflows/ci.yml",
        f"{first}on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: x\n",
    )
    project.commit("ci: a workflow")
    code, loaded = _loaded(["doctor", "--json"], project.root)
    assert code in (0, 3)
    assert {"yaml", "rcflow.preflight.workflows"} <= _top(loaded)
    # Only a workflow init wrote can drift from what init would write now.
    assert ("rcflow.commands.init" in loaded) is generated
    # Rendering it again finds rcflow's templates and its installation without importlib's
    # metadata and resources machinery (rcflow is installed as files here, not in a zip).
    assert not {"importlib.metadata", "importlib.resources"} & loaded
    for heavy in ("typer", "rich", "rcflow.model.effects", "rcflow.engine.executor"):
        assert heavy not in _top(loaded), heavy


def test_doctor_with_unchanged_workflows_loads_no_workflow_parser(project: Project) -> None:
    """The second run takes the workflow findings from the memo (`preflight.workflow_memo`)."""
    from rcflow.preflight.workflow_memo import find_actionlint

    if find_actionlint(project.root) is not None:
        pytest.skip("with actionlint the workflow checks always run")
    project.write(".github/workflows/ci.yml", "on: push\njobs:\n  t:\n    runs-on: x\n")
    code, loaded = _loaded(["doctor"], project.root)
    assert code in (0, 3) and "yaml" in _top(loaded)
    code, loaded = _loaded(["doctor"], project.root)
    assert code in (0, 3)
    for heavy in ("yaml", "rich", "typer", "rcflow.preflight.workflows", "dataclasses", "shutil"):
        assert heavy not in _top(loaded), heavy
    project.write(".github/workflows/ci.yml", "on: push\njobs:\n  u:\n    runs-on: x\n")
    code, loaded = _loaded(["doctor"], project.root)
    assert code in (0, 3) and "yaml" in _top(loaded)


def test_doctor_text_makes_no_status_view_plan_or_changelog(project: Project) -> None:
    code, loaded = _loaded(["doctor"], project.root)
    assert code == 0
    for heavy in ("rcflow.model.views", "rcflow.model.plan", "rcflow.model.conventional"):
        assert heavy not in loaded, heavy


def _collections(argv: list[str], cwd: Path) -> tuple[int, int, bool]:
    """`rcflow *argv` in a fresh interpreter: its exit code, how many cyclic collections ran
    while it did, and whether the collector was on again once `main` returned."""
    code, last = _probe(
        argv,
        cwd,
        before="runs = []\n"
        "gc.callbacks.append(lambda phase, info: runs.append(1) if phase == 'start' else None)\n",
        after="print(len(runs), gc.isenabled(), file=sys.stderr)",
    )
    runs, enabled = last.split()
    return code, int(runs), enabled == "True"


def test_read_only_commands_run_without_the_cyclic_collector(project: Project) -> None:
    """Its passes cost a status on 2,000 tags 5-10 ms (issue 14, item 5); a step keeps it."""
    for argv in (["status", "--json"], ["status"], ["doctor", "--json"], ["log"]):
        code, runs, enabled = _collections(argv, project.root)
        assert code == 0, argv
        assert runs == 0, argv
        assert enabled, argv  # a caller of main() in-process gets its collector back
    code, runs, enabled = _collections(["--help"], project.root)
    assert code == 0 and runs > 0 and enabled


@pytest.mark.parametrize("argv", [["status", "--json"], ["doctor"]], ids=["status", "doctor"])
def test_git_finds_the_repository_while_the_configuration_loads(
    project: Project, argv: list[str]
) -> None:
    """The repository's discovery (`git rev-parse`) is started before the configuration's
    modules are imported, and waited for after: its run is hidden behind theirs."""
    code, last = _probe(
        argv,
        project.root,
        before=(
            "from rcflow.ports import proc\n"
            "seen = []\n"
            "start = proc.start\n"
            "def watched(argv, **kw):\n"
            "    seen.append((argv[1], 'rcflow.model.config' in sys.modules))\n"
            "    return start(argv, **kw)\n"
            "proc.start = watched\n"
        ),
        after="print(seen, file=sys.stderr)",
    )
    assert code == 0
    assert eval(last) == [("rev-parse", False)]  # noqa: S307 - our own list


def test_a_step_loads_neither_init_nor_doctor(project: Project) -> None:
    """A step runs `rcflow.commands.step`; `init`'s planner and templates and `doctor` are other
    commands' costs, which every step paid through `rcflow.commands.run` (issue 14)."""
    code, loaded = _loaded(["bump", "minor", "--dry-run"], project.root)
    assert code == 0
    assert "rcflow.commands.step" in loaded
    for other in (
        "rcflow.commands.run",
        "rcflow.commands.init_command",
        "rcflow.commands.init",
        "rcflow.commands.doctor",
    ):
        assert other not in loaded, other


def test_doctor_knows_unchanged_generated_workflows_by_their_fingerprint(project: Project) -> None:
    """A workflow init wrote carries the fingerprint of what it was generated from and of what
    was generated: while both match, doctor's drift check renders nothing (no jinja2); a hand
    edit or a changed configuration renders it again, and the drift is reported."""
    assert project.run("init", "--yes").exit_code == 0
    project.commit("rcflow init")
    code, loaded = _loaded(["doctor", "--json"], project.root)
    assert code in (0, 3) and "rcflow.commands.init" in loaded
    assert "jinja2" not in loaded

    def drifted() -> list[str]:
        out = project.run("doctor", "--json").stdout
        return [f["where"] for f in json.loads(out)["findings"] if f["id"] == "init.drift"]

    assert drifted() == []
    validate = project.root / ".github/workflows/rcflow-validate.yml"
    original = validate.read_text(encoding="utf-8")
    validate.write_text(original.replace("timeout-minutes:", "timeout-minutes:  "), "utf-8")
    assert drifted() == [".github/workflows/rcflow-validate.yml"]  # the fingerprint line kept
    validate.write_text(original, "utf-8")
    assert drifted() == []
    config = project.root / "rcflow.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[[validate]]\nname = "lint"\nrun = "make lint"\n',
        "utf-8",
    )
    # The first validation: both workflows that run validations change; the doctor workflow
    # names no validation and keeps its fingerprint.
    assert sorted(drifted()) == [
        ".github/workflows/rcflow-validate.yml",
        ".github/workflows/release.yml",
    ]
    code, loaded = _loaded(["doctor", "--json"], project.root)
    assert "jinja2" in loaded
