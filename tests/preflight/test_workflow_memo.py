"""The workflow checks' memo (`preflight.workflow_memo`): doctor's findings are the same with
and without it, and anything the checks read that changed makes them run again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rcflow.preflight import workflow_memo, workflows
from tests.support.project import Project

LOGIN = """\
      - uses: docker/login-action@v3
        with:
          registry: ghcr.io
          username: ${{ github.actor }}
          password: ${{ secrets.GITHUB_TOKEN }}
"""


def image_workflow(run: str) -> str:
    return (
        "on:\n  push:\n    tags: ['v*']\npermissions: {}\njobs:\n  image:\n"
        "    runs-on: ubuntu-latest\n    permissions:\n      contents: read\n    steps:\n"
        f"{LOGIN}      - run: {run}\n"
    )


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Each time the workflow checks really ran (their root), with no actionlint around."""
    seen: list[Path] = []
    real = workflows.findings

    def counted(root: Path, **kw: Any) -> Any:
        seen.append(root)
        return real(root, **kw)

    monkeypatch.setattr(workflows, "findings", counted)
    monkeypatch.setattr(workflows, "find_actionlint", lambda root: None)
    monkeypatch.setattr(workflow_memo, "find_actionlint", lambda root: None)
    return seen


def doctor(p: Project) -> list[tuple[str, str | None]]:
    result = p.cli("doctor", "--json")
    assert result.exit_code in (0, 3), result.stderr
    return [(f["id"], f["where"]) for f in result.json()["findings"] if f["id"] != "init.drift"]


def entry(p: Project) -> Path:
    return p.root / ".git" / "rcflow" / "cache" / "workflows.json"


def test_a_second_doctor_reads_the_memo_and_says_the_same(
    project: Project, runs: list[Path]
) -> None:
    project.write(".github/workflows/image.yml", image_workflow("docker push ghcr.io/a/b:1"))
    project.commit("ci: image")
    first = doctor(project)
    assert ("workflow.packages-permission", ".github/workflows/image.yml:16") in first
    assert len(runs) == 1 and entry(project).is_file()
    assert doctor(project) == first
    assert project.cli("doctor").stdout.count("workflow.packages-permission") == 1
    assert len(runs) == 1  # neither run parsed the workflow again


def test_a_changed_workflow_is_checked_again(project: Project, runs: list[Path]) -> None:
    project.write(".github/workflows/image.yml", image_workflow("docker push ghcr.io/a/b:1"))
    assert [i for i, _ in doctor(project)].count("workflow.packages-permission") == 1
    # Uncommitted edits count: the work tree is what the checks read.
    project.write(".github/workflows/image.yml", image_workflow("echo nothing to push"))
    assert "workflow.packages-permission" not in [i for i, _ in doctor(project)]
    project.write(".github/workflows/other.yml", image_workflow("docker push ghcr.io/a/c:1"))
    assert doctor(project).count(("workflow.packages-permission", ".github/workflows/other.yml:16"))
    assert len(runs) == 3


def test_a_changed_script_a_workflow_runs_is_checked_again(
    project: Project, runs: list[Path]
) -> None:
    project.write("hack/upload.sh", "#!/bin/sh\necho uploading\n")
    project.write(".github/workflows/image.yml", image_workflow("bash hack/upload.sh"))
    assert "workflow.packages-permission" not in [i for i, _ in doctor(project)]
    assert "workflow.packages-permission" not in [i for i, _ in doctor(project)]
    assert len(runs) == 1
    project.write("hack/upload.sh", '#!/bin/sh\ndocker push "$IMAGE"\n')
    assert "workflow.packages-permission" in [i for i, _ in doctor(project)]
    (project.root / "hack" / "upload.sh").unlink()
    assert "workflow.packages-permission" not in [i for i, _ in doctor(project)]
    assert len(runs) == 3


@pytest.mark.parametrize(
    "bad",
    [
        "{not json",
        "[]",
        '{"schema": 1}',
        "",
        "\x00\xff",
    ],
)
def test_a_broken_or_foreign_entry_is_ignored_and_written_anew(
    project: Project, runs: list[Path], bad: str
) -> None:
    project.write(".github/workflows/image.yml", image_workflow("docker push ghcr.io/a/b:1"))
    first = doctor(project)
    entry(project).write_text(bad, encoding="latin-1")
    assert doctor(project) == first
    assert len(runs) == 2
    assert doctor(project) == first  # rewritten: read again
    assert len(runs) == 2


def test_an_entry_with_other_findings_shape_is_ignored(project: Project, runs: list[Path]) -> None:
    import json

    project.write(".github/workflows/image.yml", image_workflow("docker push ghcr.io/a/b:1"))
    first = doctor(project)
    kept = json.loads(entry(project).read_text())
    kept["findings"] = [{"id": "x", "severity": "fatal"}]
    entry(project).write_text(json.dumps(kept))
    assert doctor(project) == first
    kept["code"] = ["another rcflow"]
    kept["findings"] = []
    entry(project).write_text(json.dumps(kept))
    assert doctor(project) == first
    assert len(runs) == 3


def test_with_actionlint_the_checks_always_run(
    project: Project, runs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """actionlint's verdict depends on its configuration and PATH, which no entry vouches for."""
    monkeypatch.setattr(workflow_memo, "find_actionlint", lambda root: Path("/bin/true"))
    project.write(".github/workflows/image.yml", image_workflow("docker push ghcr.io/a/b:1"))
    assert doctor(project) == doctor(project)
    assert len(runs) == 2 and not entry(project).exists()


def test_a_clone_that_cannot_keep_a_memo_still_gets_its_findings(
    project: Project, runs: list[Path]
) -> None:
    project.write(".github/workflows/image.yml", image_workflow("docker push ghcr.io/a/b:1"))
    (project.root / ".git" / "rcflow").mkdir(exist_ok=True)
    (project.root / ".git" / "rcflow" / "cache").write_text("a file where the directory goes")
    first = doctor(project)
    assert ("workflow.packages-permission", ".github/workflows/image.yml:16") in first
    assert doctor(project) == first and len(runs) == 2
