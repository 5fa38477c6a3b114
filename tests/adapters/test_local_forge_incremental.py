"""The local forge's writes cost the releases they touch (issue 14).

A state read through a valid `index.json` reads a record when a write needs it, and the commit
that carries the writes lists the records it changed and lets git hash the `releases/` tree from
the parent's. These tests hold that to the full computation (every record read, the index
computed over them all): the same trees, byte for byte, after any sequence of writes; and they
count what a write reads, so the walk over every release cannot come back unnoticed.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rcflow.adapters import local_forge as lf
from rcflow.adapters.git import Git, TreeStore
from rcflow.adapters.local_forge import FORGE_REF, LocalForge
from rcflow.errors import ConflictError, EffectError
from tests.support.project import Project, git

TAGS = ("v1.0.0", "v1.1.0-rc.1", "v1.1.0", "pkg/v2.0.0")
NAMES = ("app.tar.gz", "SHA256SUMS")
CONTENTS = (b"one", b"two", b"")


def _forge(project: Project, remote: str = "origin") -> LocalForge:
    return LocalForge(TreeStore(Git(project.root, project.root / ".git"), remote, FORGE_REF))


def _tip(origin: Path) -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{FORGE_REF}^{{tree}}"],
        cwd=origin,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or None


def _index(origin: Path) -> str:
    """origin's forge's index.json, byte for byte."""
    spec = f"{FORGE_REF}:index.json"
    return subprocess.run(
        ["git", "cat-file", "blob", spec], cwd=origin, capture_output=True, check=True, text=True
    ).stdout


def _records(origin: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every record of origin's forge, read whole: path -> (blob, record)."""
    listing = git(origin, "ls-tree", "-r", FORGE_REF, "releases/")
    found = {}
    for line in listing.splitlines():
        meta, _, path = line.partition("\t")
        blob = meta.split()[2]
        found[path] = (blob, json.loads(git(origin, "cat-file", "blob", blob)))
    return found


@pytest.fixture
def twin(project: Project, tmp_path: Path) -> Iterator[Path]:
    """A second remote, `full`, whose forge is written by the full computation."""
    full = tmp_path / "full.git"
    git(tmp_path, "init", "--quiet", "--bare", str(full))
    git(project.root, "remote", "add", "full", str(full))
    yield full


def _full(project: Project, monkeypatch: pytest.MonkeyPatch) -> LocalForge:
    """A forge on `full` that never trusts an index: every read and write is the whole one."""
    forge = _forge(project, "full")
    monkeypatch.setattr(forge, "_catalog", lambda tip: None)
    return forge


Op = tuple[Any, ...]

ops = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(TAGS), st.booleans(), st.booleans()),
    st.tuples(
        st.just("upload"), st.sampled_from(TAGS), st.sampled_from(NAMES), st.sampled_from(CONTENTS)
    ),
    st.tuples(
        st.just("copy"), st.sampled_from(TAGS), st.sampled_from(TAGS), st.sampled_from(NAMES)
    ),
    st.tuples(st.just("delete_asset"), st.sampled_from(TAGS), st.sampled_from(NAMES)),
    st.tuples(st.just("publish"), st.sampled_from(TAGS), st.booleans()),
    st.tuples(st.just("set_latest"), st.sampled_from(TAGS)),
    st.tuples(st.just("retract"), st.sampled_from(TAGS)),
    st.tuples(st.just("delete"), st.sampled_from(TAGS)),
)


def _apply(forge: LocalForge, op: Op, files: Path) -> str:
    """op on forge; what came of it ("ok", or the error's type: both forges must agree)."""
    kind, *args = op
    try:
        if kind == "create":
            tag, pre, draft = args
            forge.create_release(tag, tag, f"notes of {tag}", prerelease=pre, draft=draft)
        elif kind == "upload":
            tag, name, content = args
            path = files / f"{CONTENTS.index(content)}"
            path.write_bytes(content)
            forge.upload_asset(tag, path, name)
        elif kind == "copy":
            source, tag, name = args
            held = forge.releases().get(source)
            asset = held.asset(name) if held is not None else None
            forge.copy_asset(source, tag, name, asset.sha256 if asset and asset.sha256 else "0")
        elif kind == "delete_asset":
            forge.delete_asset(*args)
        elif kind == "publish":
            forge.publish_release(args[0], latest=args[1])
        elif kind == "set_latest":
            forge.set_latest(args[0])
        elif kind == "retract":
            forge.retract_release(args[0], "broken")
        elif kind == "delete":
            forge.delete_release(args[0])
    except (EffectError, ConflictError) as exc:
        return type(exc).__name__
    return "ok"


def _push_held(project: Project, forge: LocalForge) -> None:
    """What the executor does with held writes: one push of the commit `held` names."""
    held = forge.held()
    if held is None:
        forge.drop()
        return
    git(project.root, "push", "--quiet", forge.remote, f"{held[1]}:{held[0]}")
    forge.landed()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.tuples(st.booleans(), st.lists(ops, min_size=1, max_size=4)), max_size=4))
def test_any_writes_make_the_trees_the_full_computation_makes(
    project: Project,
    twin: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    steps: list[tuple[bool, list[Op]]],
) -> None:
    """Each step is a process (a new forge on each remote) making some writes, held for one
    push or pushed one by one; after each, both remotes hold the same tree."""
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    assert _tip(project.origin) == _tip(twin)  # where the examples before left both
    seed: list[Op] = [
        ("create", "v1.0.0", False, False),
        ("create", "v1.1.0-rc.1", True, True),
        ("upload", "v1.1.0-rc.1", "app.tar.gz", b"one"),
    ]
    for held, writes in [(False, seed), *steps]:
        fast, full = _forge(project), _full(project, monkeypatch)
        if held:
            fast.hold()
            full.hold()
        for op in writes:
            assert _apply(fast, op, files) == _apply(full, op, files), op
            if not held:
                assert _tip(project.origin) == _tip(twin), op
        if held:
            assert fast.releases() == full.releases()
            _push_held(project, fast)
            _push_held(project, full)
        assert _tip(project.origin) == _tip(twin), writes
        assert _forge(project).releases() == full.releases()
    if _tip(project.origin) is not None:
        # The index is the one the bench and older rcflow compute from every record.
        index = _index(project.origin)
        assert index == lf.index_text(_records(project.origin))


# -- what a write reads -----------------------------------------------------------------------


class Counts:
    def __init__(self) -> None:
        self.blobs: list[str] = []
        self.calls: dict[str, int] = {}

    def count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1


def _counted(forge: LocalForge, monkeypatch: pytest.MonkeyPatch) -> Counts:
    """Every blob forge reads, and every call of the full read and full computation."""
    seen = Counts()
    texts = forge.store.texts

    def counting(blobs: Any) -> dict[str, str]:
        seen.blobs.extend(blobs)
        return texts(blobs)

    monkeypatch.setattr(forge.store, "texts", counting)

    def spy(owner: Any, name: str) -> None:
        real: Callable[..., Any] = getattr(owner, name)

        def wrapped(*args: Any, **kw: Any) -> Any:
            seen.count(name)
            return real(*args, **kw)

        monkeypatch.setattr(owner, name, wrapped)

    spy(forge.store, "entries")  # the listing of every file
    spy(forge, "_read")
    spy(forge, "_changes")
    spy(lf, "_tree_sha")
    spy(lf, "index_text")
    return seen


def _history(project: Project, n: int) -> None:
    """n releases, an RC and a final each, with one shared asset per pair: one commit."""
    forge = _forge(project)
    forge.hold()
    for i in range(n):
        rc, final = f"v1.{i}.0-rc.1", f"v1.{i}.0"
        forge.create_release(rc, rc, "", prerelease=True)
        path = project.base / f"app-{i}"
        path.write_bytes(f"app {i}".encode())
        forge.upload_asset(rc, path, "app.tar.gz")
        forge.create_release(final, final, "", prerelease=False)
        forge.copy_asset(rc, final, "app.tar.gz", lf.sha256_file(path))
    forge.set_latest(f"v1.{n - 1}.0")
    _push_held(project, forge)


@pytest.mark.parametrize("n", [3, 30])
def test_a_step_reads_the_releases_it_writes_whatever_the_history(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    _history(project, n)
    payload = tmp_path / "new.tar.gz"
    payload.write_bytes(b"the new one")

    # rc: a draft, its asset, published, held for one push.
    forge = _forge(project)
    seen = _counted(forge, monkeypatch)
    forge.hold()
    forge.create_release("v2.0.0-rc.1", "rc", "", prerelease=True, draft=True)
    forge.upload_asset("v2.0.0-rc.1", payload, "app.tar.gz")
    forge.publish_release("v2.0.0-rc.1", latest=False)
    _push_held(project, forge)
    assert seen.calls == {}
    assert len(seen.blobs) == 2  # the index and the latest pointer: no record but its own

    # promote: the final from the RC's asset, made latest, pushed write by write; an old
    # release retracted, and one without assets deleted.
    forge = _forge(project)
    seen = _counted(forge, monkeypatch)
    forge.create_release("v2.0.0", "final", "", prerelease=False, draft=True)
    forge.copy_asset("v2.0.0-rc.1", "v2.0.0", "app.tar.gz", lf.sha256_file(payload))
    forge.publish_release("v2.0.0", latest=True)
    forge.retract_release("v1.0.0", "broken")
    forge.create_release("v9.0.0", "oops", "", prerelease=True)
    forge.delete_release("v9.0.0")
    assert seen.calls == {}
    # the index and the latest pointer, the RC's record (the asset copied) and the retracted
    # one's: the same for 3 releases as for 30.
    assert len(seen.blobs) == 4
    assert {b.split(":", 1)[1] for b in seen.blobs if ":" in b} == {
        "releases/v2.0.0-rc.1.json",
        "releases/v1.0.0.json",
    }

    releases = _forge(project).releases()
    assert releases["v2.0.0"].latest and releases["v1.0.0"].retracted
    assert releases["v2.0.0"].assets == releases["v2.0.0-rc.1"].assets
    assert "v9.0.0" not in releases and len(releases) == 2 * n + 2
    index = _index(project.origin)
    assert index == lf.index_text(_records(project.origin))
    runner = project.base / "runner"
    git(project.base, "clone", "--quiet", str(project.origin), str(runner))
    other = Project(project.base)
    other.root = runner
    fresh = other.local_forge().releases()
    assert {t: fresh[t] for t in fresh} == {t: releases[t] for t in releases}


def test_bytes_another_release_lists_stay_and_the_last_lister_takes_them(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleting an RC whose asset its final shares keeps the bytes; deleting the final then
    removes them. Only a read of every record can tell the two apart: that write reads whole."""
    _history(project, 2)
    digest = lf.sha256_file(project.base / "app-1")
    stored = f"{FORGE_REF}:assets/sha256/{digest}"
    forge = _forge(project)
    seen = _counted(forge, monkeypatch)
    forge.delete_release("v1.1.0-rc.1")
    assert seen.calls.get("_read") == 1
    git(project.origin, "cat-file", "-e", stored)
    forge.delete_release("v1.1.0")
    done = subprocess.run(["git", "cat-file", "-e", stored], cwd=project.origin, check=False)
    assert done.returncode != 0
    index = _index(project.origin)
    assert index == lf.index_text(_records(project.origin))
    # The next write is back on the index.
    forge = _forge(project)
    seen = _counted(forge, monkeypatch)
    forge.set_latest("v1.0.0")
    assert seen.calls == {}


@pytest.mark.parametrize(
    "edit",
    [
        ("releases/v1.0.0.json", b'{"tag": "v1.0.0", "title": "by hand", "draft": true}'),
        ("releases/other/v7.0.0.json", b'{"tag": "v7.0.0", "title": "kept elsewhere"}'),
        ("index.json", None),
    ],
)
def test_a_write_after_a_hand_edit_reads_whole_and_repairs_the_index(
    project: Project,
    twin: Path,
    monkeypatch: pytest.MonkeyPatch,
    edit: tuple[str, bytes | None],
) -> None:
    _history(project, 2)
    project.tamper_forge(*edit)
    git(project.origin, "push", "--quiet", str(twin), f"{FORGE_REF}:{FORGE_REF}")
    forge = _forge(project)
    seen = _counted(forge, monkeypatch)
    forge.retract_release("v1.1.0", "broken")
    assert seen.calls.get("_read") == 1 and seen.calls.get("_changes") == 1
    _full(project, monkeypatch).retract_release("v1.1.0", "broken")
    assert _tip(project.origin) == _tip(twin)
    # Repaired: the next write needs the index alone.
    forge = _forge(project)
    seen = _counted(forge, monkeypatch)
    forge.set_latest("v1.0.0")
    assert seen.calls == {}


def test_the_index_of_no_release_names_no_tree(project: Project) -> None:
    _forge(project).create_release("v1.0.0", "one", "", prerelease=False)
    _forge(project).create_release("v1.1.0", "two", "", prerelease=False)
    _forge(project).delete_release("v1.0.0")
    _forge(project).delete_release("v1.1.0")
    body: Mapping[str, Any] = json.loads(_index(project.origin))
    assert body["releases"] is None and body["tags"] == []
    assert dict(_forge(project).releases()) == {}
    _forge(project).create_release("v1.2.0", "three", "", prerelease=False)
    assert list(_forge(project).releases()) == ["v1.2.0"]
