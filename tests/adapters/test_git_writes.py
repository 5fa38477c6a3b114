"""A step's writes and pushes are plain `git` processes: GitPython (~0.1 s to import, and two
`git version` processes) is not loaded by a cycle of steps on the local forge (issue 14)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.project import Project


def _loads_gitpython(project: Project, *argv: str) -> bool:
    probe = (
        "import sys; from rcflow.cli.main import main\n"
        f"try:\n    code = main({list(argv)!r})\n"
        "except SystemExit as exc:\n    code = exc.code\n"
        "print('git' in sys.modules, file=sys.stderr); sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=project.root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.strip().splitlines()[-1] == "True"


def test_a_release_cycle_never_imports_gitpython(project: Project) -> None:
    for step in (("bump", "auto"), ("rc",), ("validate",), ("promote",)):
        assert not _loads_gitpython(project, *step, "--yes"), step
    assert "v1.4.0" in project.remote_tags()  # the probe really ran the steps


def test_a_refused_push_is_still_a_conflict_with_gits_reason(project: Project) -> None:
    """The push's error mapping reads git's own output (no GitPython framing in between)."""
    from rcflow.errors import ConflictError

    ctx = project.ctx()
    project.git("tag", "-a", "-m", "here", "v9.9.9")
    other = project.base / "other"
    project.git("clone", "--quiet", str(project.origin), str(other))
    subprocess.run(["git", "tag", "-a", "-m", "there", "v9.9.9"], cwd=other, check=True)
    subprocess.run(["git", "push", "--quiet", "origin", "v9.9.9"], cwd=other, check=True)
    try:
        ctx.git.push("origin", ["refs/tags/v9.9.9:refs/tags/v9.9.9"])
    except ConflictError as exc:
        assert "refs/tags/v9.9.9 (already exists)" in exc.message, exc.message
    else:
        raise AssertionError("the push of a tag the remote has elsewhere went through")
