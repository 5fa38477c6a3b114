"""The context a command runs in, and the read-only views (status, log).

Kept apart from `commands` so that the read path imports no step, executor or validator:
`rcflow status` must stay near raw git's speed (DESIGN §13).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rcflow.adapters.git import Git
from rcflow.adapters.local_forge import LocalForge
from rcflow.config import Config, load_config
from rcflow.forge import Forge
from rcflow.ledger import Event, RunIdentity
from rcflow.observe import observe
from rcflow.snapshot import Snapshot
from rcflow.states import Release, classify


@dataclass(frozen=True)
class Context:
    root: Path
    git_dir: Path
    config: Config
    git: Git
    forge: Forge

    @cached_property
    def me(self) -> RunIdentity:
        """Who is acting; asked only by commands that write (one more git process)."""
        return RunIdentity.current(self.git.identity())


def load_context(path: Path) -> Context:
    root, git_dir = Git.discover(path)
    config = load_config(root)
    git = Git(root, git_dir)
    return Context(root, git_dir, config, git, LocalForge(git_dir))


def status(ctx: Context) -> tuple[Snapshot, Release]:
    snap = observe(ctx.git, ctx.config, ctx.forge, with_commits=False)
    return snap, classify(snap, ctx.config)


def events(ctx: Context) -> tuple[Event, ...]:
    return observe(ctx.git, ctx.config, ctx.forge, with_commits=False).ledger
