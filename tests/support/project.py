"""Project builders: real git in temp dirs, a clone with a bare `origin` on disk.

A `Project` (made by `Project(base).create()`) is pyproject.toml at 1.3.0, tag v1.3.0 and one
`feat:` commit since, all pushed: the state a new user starts from. `copy_project` makes an
identical twin with its own origin; `fresh_clone` is another machine (a plain `git clone`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typer.testing import CliRunner

from rcflow.adapters.git import Git
from rcflow.cli.app import app
from rcflow.commands import run as commands
from rcflow.commands.run import Context, StepResult

if TYPE_CHECKING:
    from tests.support.crash import FailingPorts


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Hooks:
    """Non-interactive hooks that remember what happened."""

    def __init__(self) -> None:
        self.effects: list[tuple[str, str]] = []
        self.validations: list[tuple[str, str, str]] = []
        self.notes: list[str] = []

    def confirm(self, plan: Any) -> bool:
        return True

    def effect(self, effect: Any, outcome: str) -> None:
        self.effects.append((effect.describe(), outcome))

    def validation(self, name: str, what: str, detail: str) -> None:
        self.validations.append((name, what, detail))

    def note(self, text: str) -> None:
        self.notes.append(text)


class Project:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.origin = base / "origin.git"
        self.root = base / "work"

    # -- set-up ----------------------------------------------------------------------------

    def create(
        self, version: str = "1.3.0", *, tag: bool = True, config: str | None = None
    ) -> Project:
        git(self.base, "init", "--quiet", "--bare", "--initial-branch=main", str(self.origin))
        git(self.base, "init", "--quiet", "--initial-branch=main", str(self.root))
        git(self.root, "remote", "add", "origin", str(self.origin))
        self.write("pyproject.toml", f'[project]\nname = "demo"\nversion = "{version}"\n')
        if config is not None:
            self.write("rcflow.toml", config)
        self.commit("feat: initial release")
        if tag:
            git(self.root, "tag", "-a", f"v{version}", "-m", f"Release {version}")
        self.write("feature.py", "def feature():\n    return 42\n")
        self.commit("feat: add a feature")
        git(self.root, "push", "--quiet", "origin", "main", *([f"v{version}"] if tag else []))
        git(self.root, "branch", "--quiet", "--set-upstream-to=origin/main")
        return self

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def commit(self, message: str) -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "--quiet", "-m", message)
        return self.head()

    def push(self) -> None:
        git(self.root, "push", "--quiet", "origin", "HEAD:refs/heads/main")

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    # -- facts -----------------------------------------------------------------------------

    def local_tags(self) -> dict[str, str]:
        out = self.git(
            "for-each-ref", "--format=%(refname:short) %(*objectname)%(objectname)", "refs/tags"
        )
        return {line.split()[0]: line.split()[1][:40] for line in out.splitlines()}

    def remote_tags(self) -> dict[str, str]:
        out = git(
            self.origin,
            "for-each-ref",
            "--format=%(refname:short) %(*objectname)%(objectname)",
            "refs/tags",
        )
        return {line.split()[0]: line.split()[1][:40] for line in out.splitlines()}

    # -- the local forge, as origin holds it (refs/rcflow/forge) ---------------------------

    def forge_files(self) -> dict[str, bytes]:
        """Every file of the local forge's tree on origin (path -> bytes); {} when there is none."""
        tree = subprocess.run(
            ["git", "ls-tree", "-r", "-z", "refs/rcflow/forge"],
            cwd=self.origin,
            capture_output=True,
            check=False,
        )
        if tree.returncode != 0:
            return {}
        entries = [e.partition(b"\t") for e in tree.stdout.split(b"\0") if e]
        blobs = [meta.split()[2] for meta, _, _ in entries]
        out = subprocess.run(
            ["git", "cat-file", "--batch"],
            cwd=self.origin,
            input=b"".join(b + b"\n" for b in blobs),
            capture_output=True,
            check=True,
        ).stdout
        files, pos = {}, 0
        for _, _, path in entries:  # "<sha> blob <size>\n<bytes>\n" each, in order
            header_end = out.index(b"\n", pos)
            size = int(out[pos:header_end].split()[2])
            files[path.decode()] = out[header_end + 1 : header_end + 1 + size]
            pos = header_end + 1 + size + 1
        return files

    def forge_release(self, tag: str) -> dict[str, Any] | None:
        data = self.forge_files().get(f"releases/{tag}.json")
        return None if data is None else json.loads(data)  # type: ignore[no-any-return]

    def forge_tags(self) -> list[str]:
        return sorted(
            json.loads(data)["tag"]
            for path, data in self.forge_files().items()
            if path.startswith("releases/")
        )

    def forge_latest(self) -> str | None:
        data = self.forge_files().get("latest")
        return data.decode().strip() if data is not None else None

    def forge_asset(self, tag: str, name: str) -> bytes | None:
        """An asset's bytes by its release record (None when the record or the bytes are gone)."""
        files = self.forge_files()
        record = json.loads(files.get(f"releases/{tag}.json", b"{}"))
        asset = next((a for a in record.get("assets", []) if a["name"] == name), None)
        return files.get(f"assets/sha256/{asset['sha256']}") if asset else None

    def local_forge(self) -> Any:
        """This clone's local forge, as a step would open it (it reads origin's forge ref)."""
        from rcflow.adapters.git import TreeStore
        from rcflow.adapters.local_forge import FORGE_REF, LocalForge

        store = TreeStore(Git(self.root, self.root / ".git"), "origin", FORGE_REF)
        return LocalForge(store)

    def tamper_forge(self, path: str, data: bytes | None) -> None:
        """Someone edits origin's forge ref by hand: one file replaced (None: removed)."""
        env = {**os.environ, "GIT_INDEX_FILE": str(self.base / "tamper.index")}

        def run(*args: str, stdin: bytes | None = None) -> str:
            return (
                subprocess.run(
                    ["git", *args],
                    cwd=self.origin,
                    env=env,
                    input=stdin,
                    capture_output=True,
                    check=True,
                )
                .stdout.decode()
                .strip()
            )

        run("read-tree", "refs/rcflow/forge")
        if data is None:
            run("update-index", "--index-info", stdin=f"0 {'0' * 40}\t{path}\n".encode())
        else:
            blob = run("hash-object", "-w", "--stdin", stdin=data)
            run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
        tree = run("write-tree")
        commit = run("commit-tree", tree, "-p", "refs/rcflow/forge", "-m", f"edit {path} by hand")
        run("update-ref", "refs/rcflow/forge", commit)
        (self.base / "tamper.index").unlink()

    def world(self) -> dict[str, Any]:
        """Everything a run could change: refs here and on origin, tracked files, forge store."""
        return {
            "local_refs": self.git("for-each-ref", "--format=%(refname) %(objectname)"),
            "remote_refs": git(self.origin, "for-each-ref", "--format=%(refname) %(objectname)"),
            "head": self.head(),
            "status": self.git("status", "--porcelain"),
            "files": {
                p: self.read(p)
                for p in self.git("ls-files").splitlines()
                if (self.root / p).is_file()
            },
            "forge": sorted(self.forge_files().items()),
        }

    def ledger(self) -> list[dict[str, Any]]:
        """The ledger on origin, oldest first, as (kind, key, data) dicts."""
        try:
            out = git(self.origin, "log", "--reverse", "--format=%B%x1e", "refs/rcflow/ledger")
        except subprocess.CalledProcessError:
            return []
        events = []
        for record in out.split("\x1e"):
            record = record.strip()
            if record:
                body = json.loads(record.split("\n\n", 1)[1])
                events.append(body)
        return events

    def kinds(self) -> list[str]:
        """The release's events: without the lease and the record of failed attempts."""
        return [
            e["kind"]
            for e in self.ledger()
            if not e["kind"].startswith("lease_") and e["kind"] != "step_failed"
        ]

    # -- running rcflow --------------------------------------------------------------------

    def cli(self, *args: str) -> CliResult:
        """rcflow in-process through typer's runner (stdin is not a TTY: no prompts)."""
        result = CliRunner().invoke(app, [*args, "-C", str(self.root)], catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    def run(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        """rcflow as a real subprocess, the way users and CI run it."""
        proc = subprocess.run(
            [sys.executable, "-m", "rcflow", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            check=False,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    def status(self) -> dict[str, Any]:
        result = self.cli("status", "--json")
        assert result.exit_code == 0, result.stderr
        return result.json()  # type: ignore[no-any-return]

    def ctx(self) -> Context:
        return commands.load_context(self.root)

    def step(
        self, step: str, args: Any, *, ctx: Context | None = None, dry_run: bool = False
    ) -> StepResult:
        return commands.run_step(ctx or self.ctx(), step, args, dry_run=dry_run, hooks=Hooks())

    def failing_ctx(self, after: int) -> tuple[Context, FailingPorts]:
        """A context whose port writes fail once, after `after` writes succeeded (see crash)."""
        from tests.support.crash import failing_ctx

        return failing_ctx(self, after)


def assert_refused(p: Project, args: tuple[str, ...], *messages: str) -> None:
    """A refusal: exit 3, every message on stderr, and nothing changed anywhere."""
    world, ledger = p.world(), p.ledger()
    result = p.cli(*args)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    for message in messages:
        assert message in result.stderr, result.stderr
    assert "nothing was changed" in result.stderr
    assert p.world() == world
    assert p.ledger() == ledger


def copy_project(template: Project, dest: Path) -> Project:
    """An identical project (same commits, tags, ledger) with its own origin."""
    assert not dest.is_relative_to(template.base)
    shutil.copytree(template.base, dest, symlinks=True)
    p = Project(dest)
    p.git("remote", "set-url", "origin", str(p.origin))
    return p


def fresh_clone(p: Project, dest: Path) -> Project:
    """Another machine: a plain `git clone` of p's bare origin (no ledger ref, no .git/rcflow,
    no local tags). The clone's `origin` is p's."""
    dest.mkdir(parents=True)
    clone = Project(dest)
    clone.origin = p.origin
    git(dest, "clone", "--quiet", str(p.origin), str(clone.root))
    return clone
