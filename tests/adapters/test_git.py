"""The git adapter against real repositories: parsers, batched reads, writes and push conflicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcflow.adapters.git import Git, _parse_batch, _parse_remote, _parse_status
from rcflow.errors import ConflictError, UsageError
from rcflow.ports import proc
from tests.support.project import Project, git


def adapter(project: Project) -> Git:
    root, git_dir = Git.discover(project.root)
    return Git(root, git_dir)


def test_discover_outside_a_repository_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not inside a git work tree"):
        Git.discover(tmp_path)


def test_status_reports_branch_head_and_tracked_changes_only(project: Project) -> None:
    project.write("feature.py", "changed\n")
    project.write("untracked.txt", "new\n")
    project.git("mv", "pyproject.toml", "renamed.toml")

    status = adapter(project).status()

    assert status.branch == "main"
    assert status.head == project.head()
    assert sorted(status.dirty) == ["feature.py", "renamed.toml"]


def test_status_on_a_detached_head(project: Project) -> None:
    project.git("checkout", "--quiet", "--detach")
    assert adapter(project).status().branch is None


def test_parse_status_of_an_unborn_branch() -> None:
    status = _parse_status("# branch.oid (initial)\0# branch.head main\0")
    assert (status.head, status.branch, status.dirty) == (None, "main", ())


def test_first_look_reads_several_files_in_one_batch_with_non_ascii(project: Project) -> None:
    project.write("notes.md", "Überall — ünïcödé\n")
    project.commit("docs: notes")

    paths = ["notes.md", "missing.txt", "pyproject.toml"]
    *_, files, _ = adapter(project).first_look("origin", (), paths, identity=False)

    assert files["notes.md"] == "Überall — ünïcödé\n"
    assert files["missing.txt"] is None
    assert files["pyproject.toml"] == project.read("pyproject.toml")


def test_parse_batch_slices_by_bytes() -> None:
    body = "é\n"
    raw = f"abc blob {len(body.encode())}\n{body}\nx missing\n"
    assert _parse_batch(raw, ["a", "x"]) == {"a": body, "x": None}


def test_remote_lists_peeled_tags_and_the_default_branch(project: Project) -> None:
    facts = adapter(project).remote("origin")

    assert facts.reachable
    assert facts.default_branch == "main"
    assert facts.refs["refs/tags/v1.3.0"] == project.git("rev-parse", "v1.3.0^{commit}")


def test_unreachable_remote_is_a_fact_not_an_exception(project: Project) -> None:
    project.git("remote", "set-url", "origin", str(project.base / "gone.git"))
    facts = adapter(project).remote("origin")
    assert not facts.reachable
    assert facts.error


def test_parse_remote_failure_keeps_the_last_stderr_line() -> None:
    result = proc.Result(("git",), 128, "", "warning: x\nfatal: repository not found\n")
    assert _parse_remote(result).error == "fatal: repository not found"


def test_first_look_matches_the_single_reads(project: Project) -> None:
    g = adapter(project)
    status, refs, remote, files, ident = g.first_look(
        "origin", ("refs/tags",), ["pyproject.toml"], identity=True
    )
    assert status == g.status()
    assert refs == g.refs("refs/tags")
    assert remote == g.remote("origin")
    assert files == {"pyproject.toml": project.read("pyproject.toml")}
    assert ident == "Test Maintainer <maintainer@example.invalid>"


def test_fetch_objects_writes_no_ref(project: Project, make_project: object) -> None:
    other = project.base / "other"
    git(project.base, "clone", "--quiet", str(project.origin), str(other))
    (other / "new.txt").write_text("new\n")
    git(other, "add", ".")
    git(other, "commit", "--quiet", "-m", "feat: elsewhere")
    git(other, "tag", "-a", "v9.9.9", "-m", "x")
    git(other, "push", "--quiet", "origin", "main", "v9.9.9")
    before = project.git("for-each-ref")
    g = adapter(project)

    g.fetch_objects("origin", ["refs/tags/v9.9.9", "refs/heads/main"])

    assert project.git("for-each-ref") == before
    assert not (project.root / ".git" / "FETCH_HEAD").exists()
    assert g.has_objects([git(other, "rev-parse", "HEAD")])


def test_write_files_is_all_or_nothing(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    g = adapter(project)
    original = project.read("pyproject.toml")
    real_replace = Path.replace
    calls = {"n": 0}

    def failing_replace(self: Path, target: Path) -> Path:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk full")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", failing_replace)
    with pytest.raises(OSError):
        g.write_files({"pyproject.toml": "x = 1\n", "feature.py": "y = 2\n"})
    assert project.read("pyproject.toml") == original
    assert not list(project.root.glob(".*.rcflow-tmp"))


def test_write_files_keeps_crlf(project: Project) -> None:
    adapter(project).write_files({"win.txt": "a\r\nb\r\n"})
    assert (project.root / "win.txt").read_bytes() == b"a\r\nb\r\n"


def test_push_rejected_as_non_fast_forward_is_a_conflict(project: Project) -> None:
    other = project.base / "other"
    git(project.base, "clone", "--quiet", str(project.origin), str(other))
    (other / "x.txt").write_text("x\n")
    git(other, "add", ".")
    git(other, "commit", "--quiet", "-m", "fix: elsewhere")
    git(other, "push", "--quiet", "origin", "main")
    project.write("y.txt", "y\n")
    project.commit("fix: here")

    with pytest.raises(ConflictError, match="rejected"):
        adapter(project).push("origin", ["HEAD:refs/heads/main"])


def test_tag_and_remote_ref(project: Project) -> None:
    g = adapter(project)
    head = project.head()
    g.create_tag("v1.4.0-rc.1", head, "Release candidate")
    assert g.remote_ref("origin", "refs/tags/v1.4.0-rc.1") is None
    g.push("origin", ["refs/tags/v1.4.0-rc.1:refs/tags/v1.4.0-rc.1"])
    assert g.remote_ref("origin", "refs/tags/v1.4.0-rc.1") == head
    assert project.git("cat-file", "-t", "v1.4.0-rc.1") == "tag"


def test_changed_lines_pairs_removed_and_added(project: Project) -> None:
    before = project.head()
    project.write("pyproject.toml", project.read("pyproject.toml").replace("1.3.0", "1.4.0"))
    project.commit("chore: bump")

    lines = adapter(project).changed_lines(before, "HEAD")

    assert lines == [("pyproject.toml", 'version = "1.3.0"', 'version = "1.4.0"')]


def _refs_of(g: Git, *patterns: str) -> dict[str, tuple[str, str]]:
    _, refs, *_ = g.first_look("origin", patterns, [], identity=False)
    return {r.name: (r.sha, r.commit) for r in refs}


@pytest.mark.parametrize("packed", [False, True], ids=["loose", "packed"])
def test_first_look_peels_lightweight_annotated_and_nested_tags(
    project: Project, packed: bool
) -> None:
    """The refs come from `show-ref --dereference` (packed-refs' peeled lines, not every tag
    object opened): each tag's commit, whatever kind of tag, loose or packed."""
    head = project.head()
    project.git("tag", "light")
    project.git("tag", "-a", "-m", "annotated", "ann")
    project.git("tag", "-a", "-m", "a tag of a tag", "nested", "ann")
    project.git("update-ref", "refs/rcflow/ledger", head)
    project.git("update-ref", "refs/remotes/origin2/main", head)  # not under refs/remotes/origin
    if packed:
        project.git("pack-refs", "--all")
    g = adapter(project)

    refs = _refs_of(g, "refs/tags", "refs/rcflow/ledger", "refs/remotes/origin")

    tag_object = project.git("rev-parse", "ann")
    assert refs["refs/tags/light"] == (head, head)
    assert refs["refs/tags/ann"] == (tag_object, head)
    assert refs["refs/tags/nested"] == (project.git("rev-parse", "nested"), head)
    v130 = project.git("rev-parse", "v1.3.0")
    assert refs["refs/tags/v1.3.0"] == (v130, project.git("rev-parse", "v1.3.0^{commit}"))
    assert refs["refs/rcflow/ledger"] == (head, head)
    assert "refs/remotes/origin/main" in refs
    assert "refs/remotes/origin2/main" not in refs
    assert "refs/heads/main" not in refs
    # The same refs as for-each-ref lists, in its order; only the nested tag's commit differs
    # (for-each-ref peels one level), where show-ref agrees with the remote's `^{}`.
    listed = g.refs("refs/tags", "refs/rcflow/ledger", "refs/remotes/origin")
    assert list(refs) == [r.name for r in listed]
    assert {r.name: (r.sha, r.commit) for r in listed if r.name != "refs/tags/nested"} == {
        k: v for k, v in refs.items() if k != "refs/tags/nested"
    }
    project.git("push", "--quiet", "origin", "nested")
    assert g.remote("origin").refs["refs/tags/nested"] == head


def test_first_look_in_a_repository_without_any_ref(tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(tmp_path / "new"))
    g = Git(tmp_path / "new", tmp_path / "new" / ".git")

    status, refs, remote, _, _ = g.first_look("origin", ("refs/tags",), [], identity=False)

    assert (status.head, status.branch, refs) == (None, "main", [])
    assert not remote.reachable
