"""Versions as projects keep them: development versions between releases (`26.3.dev0`,
`3.8.0-alpha.0`, `1.4.0-SNAPSHOT`), `next_version` after promote, version files under an ignored
directory — each through a whole cycle with no hand edits, re-runs and crashes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from tests.support.crash import Attempt, crash_each_write
from tests.support.project import Project, git
from tests.support.scenario import at

PY_INIT = "src/demo/__init__.py"
GO_FILE = "version/version.go"
GO_PATTERN = r'Version = "(?P<version>[^"]+)"'


def _layout(base: Path, kind: str, next_version: str | None) -> Project:
    """A project at its last release (a tag), with the development version already committed."""
    extra = f"next_version = {next_version!r}\n" if next_version else ""
    if kind == "python":
        p = Project(base).create("26.2.0")
        p.write(PY_INIT, '"""demo."""\n\n__version__ = "26.3.dev0"\n')
        p.write("rcflow.toml", f'{extra}[[version_file]]\npath = "{PY_INIT}"\n')
    elif kind == "go":
        p = Project(base).create("3.7.0")
        p.write(GO_FILE, 'package version\n\nconst (\n\tVersion = "3.8.0-alpha.0"\n)\n')
        p.write(
            "rcflow.toml",
            f"{extra}[[version_file]]\npath = \"{GO_FILE}\"\npattern = '{GO_PATTERN}'\n",
        )
    elif kind == "maven":
        p = Project(base).create("1.3.0")
        p.write("VERSION", "1.4.0-SNAPSHOT\n")
        p.write(
            "rcflow.toml",
            f"{extra}[[version_file]]\npath = \"VERSION\"\npattern = '^(?P<version>\\S+)$'\n",
        )
    else:  # a chart under an ignored directory, tracked with `git add -f`
        p = Project(base).create("1.3.0")
        p.write(".gitignore", "dist/\n")
        p.write("dist/chart/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.3.0\n")
        p.write("rcflow.toml", f'{extra}[[version_file]]\npath = "dist/chart/Chart.yaml"\n')
        p.git("add", "-f", "dist/chart/Chart.yaml")
    p.commit("chore: configure rcflow")
    p.push()
    return p


FILE = {"python": PY_INIT, "go": GO_FILE, "maven": "VERSION", "chart": "dist/chart/Chart.yaml"}
TARGET = {"python": "26.3.0", "go": "3.8.0", "maven": "1.4.0", "chart": "1.4.0"}
# What promote writes after the final with each project's own suffix.
NEXT = {
    "python": ("dev", '__version__ = "26.4.0.dev0"'),
    "go": ("-alpha.0", 'Version = "3.9.0-alpha.0"'),
    "maven": ("-SNAPSHOT", "1.5.0-SNAPSHOT\n"),
    "chart": ("dev", "version: 1.5.0-dev.0"),
}


def _twice(p: Project, *args: str) -> None:
    first = p.run(*args)
    assert first.exit_code == 0, (args, first.stdout, first.stderr)
    world, ledger = p.world(), p.ledger()
    second = p.run(*args)
    assert second.exit_code == 0, (args, second.stderr)
    assert "Already done" in second.stdout, (args, second.stdout)
    assert (p.world(), p.ledger()) == (world, ledger), args


def _fresh_clone(p: Project, name: str) -> Project:
    clone = Project(p.base / name)
    clone.origin = p.origin
    git(p.base, "clone", "--quiet", str(p.origin), str(clone.root))
    return clone


@pytest.mark.parametrize("kind", ["python", "go", "maven", "chart"])
@pytest.mark.parametrize("with_next", [False, True])
def test_full_cycle_from_a_development_version(tmp_path: Path, kind: str, with_next: bool) -> None:
    suffix, written = NEXT[kind]
    p = _layout(tmp_path, kind, suffix if with_next else None)
    target = TARGET[kind]
    if kind != "chart":
        status = p.status()
        # Between releases: nothing in flight, bump is next and it works.
        assert (status["state"], status["target"], status["problems"]) == ("idle", None, [])
        assert status["next"] == ["bump"]
        dry = p.run("bump", target, "--dry-run")
        assert dry.exit_code == 0, dry.stderr
        assert target in dry.stdout

    _twice(p, "bump", target if kind != "chart" else "minor")
    assert p.read(FILE[kind]).count(target) >= 1
    assert "dev" not in p.read(FILE[kind]) and "alpha" not in p.read(FILE[kind])
    assert "SNAPSHOT" not in p.read(FILE[kind])
    assert p.git("status", "--porcelain") == ""
    assert p.git("ls-remote", "origin", "refs/heads/main").startswith(p.head())
    _twice(p, "rc")
    _twice(p, "validate")
    rc_sha = p.remote_tags()[f"v{target}-rc.1"]
    _twice(p, "promote")
    assert p.remote_tags()[f"v{target}"] == rc_sha
    if with_next:
        assert written in p.read(FILE[kind])
        assert p.git("log", "-1", "--format=%s").startswith("chore(release): start development")
        assert p.git("ls-remote", "origin", "refs/heads/main").startswith(p.head())
        assert "next_version" in p.kinds()
    else:
        assert p.head() == rc_sha
    status = p.status()
    assert (status["state"], status["problems"]) == ("released", [])

    # A fresh clone of the origin sees the same release and finds every step done.
    clone = _fresh_clone(p, "clone")
    assert clone.status()["state"] == "released"
    assert clone.status()["problems"] == []
    if with_next:
        assert written in clone.read(FILE[kind])

    rollback = clone.run("rollback", "--reason", "test")
    assert rollback.exit_code == 0, rollback.stderr
    if with_next:
        assert "keep their development version" in rollback.stdout + rollback.stderr
    assert p.run("rollback").exit_code == 0
    p.git("pull", "--quiet", "--ff-only")
    assert p.status()["state"] == "retracted"
    # The next release overwrites whatever the files say.
    bumped = p.run("bump", "patch")
    assert bumped.exit_code == 0, bumped.stderr
    major, minor, _ = target.split(".")
    assert f"{major}.{minor}.1" in p.read(FILE[kind])


def _validated(p: Project) -> None:
    at(p, "validated")


@pytest.mark.parametrize("kind", ["python", "go"])
def test_promote_with_next_version_resumes_after_a_crash_at_each_write(
    tmp_path: Path, kind: str
) -> None:
    suffix = NEXT[kind][0]
    (tmp_path / "twin").mkdir()
    twin = _layout(tmp_path / "twin", kind, suffix)
    _validated(twin)
    assert twin.step("promote", PromoteArgs()).status == "applied"
    expected_kinds = twin.kinds()
    expected_text = twin.read(FILE[kind])

    def start(name: str) -> Project:
        (tmp_path / name).mkdir()
        p = _layout(tmp_path / name, kind, suffix)
        _validated(p)
        return p

    def resume(crash: Attempt) -> None:
        p = crash.project
        rerun = p.run("promote")
        assert rerun.exit_code == 0, (crash.where, rerun.stderr)
        assert p.read(FILE[kind]) == expected_text, crash.where
        assert p.kinds() == expected_kinds, crash.where
        assert p.git("status", "--porcelain") == ""
        assert p.git("ls-remote", "origin", "refs/heads/main").startswith(p.head())
        again = p.run("promote")
        assert again.exit_code == 0 and "Already done" in again.stdout, (crash.k, again.stdout)

    crashed = crash_each_write(start, "promote", PromoteArgs(), resume, limit=30)
    # The development version's own writes were each interrupted once.
    assert {"write_files", "commit", "push"} <= set(crashed), crashed


def test_bump_auto_from_a_dev_version_with_no_release_takes_its_version(tmp_path: Path) -> None:
    p = Project(tmp_path).create("0.1.0", tag=False)
    p.write(PY_INIT, '__version__ = "0.2.0a1"\n')
    p.write("rcflow.toml", f'[[version_file]]\npath = "{PY_INIT}"\n')
    p.commit("feat: more")
    p.push()
    refused = p.cli("bump", "minor")
    assert refused.exit_code == 3
    assert "rcflow bump 0.2.0" in refused.stderr
    _twice(p, "bump", "auto")
    assert '__version__ = "0.2.0"' in p.read(PY_INIT)


def test_a_hand_written_rc_in_the_files_is_overwritten_by_bump(tmp_path: Path) -> None:
    p = Project(tmp_path).create("1.3.0")
    p.write("pyproject.toml", '[project]\nname = "demo"\nversion = "1.4.0rc1"\n')
    p.commit("chore: pre-release")
    p.push()
    assert p.status()["state"] == "idle"
    _twice(p, "bump", "1.4.0")
    assert 'version = "1.4.0"' in p.read("pyproject.toml")


def test_an_unreadable_version_is_a_problem_with_its_fix_and_bump_overwrites_it(
    tmp_path: Path,
) -> None:
    p = Project(tmp_path).create("1.3.0")
    p.write("pyproject.toml", '[project]\nname = "demo"\nversion = "banana"\n')
    p.commit("chore: oops")
    p.push()
    status = p.status()
    assert any("'banana'" in x and "rcflow bump X.Y.Z" in x for x in status["problems"])
    _twice(p, "bump", "1.4.0")
    assert 'version = "1.4.0"' in p.read("pyproject.toml")


def test_a_version_file_that_cannot_be_read_takes_bump_off_next(tmp_path: Path) -> None:
    p = Project(tmp_path).create("1.3.0")
    p.write("pyproject.toml", '[project]\nname = "demo"\ndynamic = ["version"]\n')
    p.commit("chore: dynamic")
    p.push()
    status = p.status()
    assert status["problems"] and "bump" not in status["next"]
    assert p.cli("bump", "1.4.0").exit_code == 3


def test_a_failed_commit_leaves_the_tree_as_it_was(tmp_path: Path) -> None:
    p = _layout(tmp_path, "chart", None)
    lock = p.root / ".git" / "index.lock"
    lock.write_text("", encoding="utf-8")
    world = p.world()
    failed = p.cli("bump", "minor")
    lock.unlink()
    assert failed.exit_code == 1, failed.stderr
    assert "git add failed" in failed.stderr
    # The files are back as they were (the ledger keeps its lease events).
    assert (p.world()["files"], p.world()["head"]) == (world["files"], world["head"])
    assert p.git("status", "--porcelain") == ""
    _twice(p, "bump", "minor")
    assert "version: 1.4.0" in p.read("dist/chart/Chart.yaml")


def test_next_version_must_be_a_development_suffix(tmp_path: Path) -> None:
    p = Project(tmp_path).create("1.3.0", config='next_version = "-rc.1"\n')
    result = p.cli("status")
    assert result.exit_code == 2
    assert "next_version" in result.stderr and "release candidate" in result.stderr


def _split_header_commit(p: Project) -> Any:
    p.write("parser.py", "x = 1\n")
    git(p.root, "add", "-A")
    subprocess.run(
        ["git", "commit", "--quiet", "-m", "feat(parser\n): a split header"],
        cwd=p.root,
        check=True,
    )


def test_a_conventional_header_is_the_first_line_only(tmp_path: Path) -> None:
    p = Project(tmp_path).create("1.3.0", tag=True)
    # Only the split-header commit since the tag.
    p.git("reset", "--quiet", "--hard", "v1.3.0")
    _split_header_commit(p)
    p.git("push", "--quiet", "--force", "origin", "HEAD:main")
    done = p.cli("bump", "auto")
    assert done.exit_code == 0, done.stderr
    assert "no feat, fix or breaking commits" in done.stdout


def _no_release_yet(base: Path) -> Project:
    base.mkdir()
    p = Project(base).create("0.1.0", tag=False)
    p.write(PY_INIT, '__version__ = "0.2.0.dev3"\n')
    p.write("rcflow.toml", f'[[version_file]]\npath = "{PY_INIT}"\n')
    p.commit("feat: more")
    p.push()
    return p


@pytest.mark.parametrize("kind", ["python", "none"])
def test_bump_from_a_development_version_resumes_after_a_crash_at_each_write(
    tmp_path: Path, kind: str
) -> None:
    def make(name: str) -> Project:
        if kind == "none":
            return _no_release_yet(tmp_path / name)
        (tmp_path / name).mkdir()
        return _layout(tmp_path / name, kind, None)

    twin = make("twin")
    assert twin.step("bump", BumpArgs("auto")).status == "applied"
    expected = (twin.read(PY_INIT), twin.kinds())

    def resume(crash: Attempt) -> None:
        p = crash.project
        rerun = p.run("bump", "auto")
        assert rerun.exit_code == 0, (crash.where, rerun.stderr)
        assert (p.read(PY_INIT), p.kinds()) == expected, crash.where
        again = p.run("bump", "auto")
        assert "Already done" in again.stdout, (crash.where, again.stdout)

    k = len(crash_each_write(make, "bump", BumpArgs("auto"), resume, limit=20))
    assert k >= 3  # write, commit, push at least
