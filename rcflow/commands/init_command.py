"""`rcflow init`, run: plan the files (`rcflow.commands.init`), confirm, write them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rcflow.commands.context import discover, init_ports
from rcflow.commands.init import InitOptions, detect, next_steps, plan_init
from rcflow.commands.step import Hooks, refuse
from rcflow.engine.executor import Applied, Executor, Ports
from rcflow.model.effects import WriteFile
from rcflow.model.plan import Plan


@dataclass
class InitResult:
    status: Literal["done", "applied", "planned", "declined"]
    plan: Plan
    applied: list[Applied]
    next_steps: list[str]


def init_facts(path: Path) -> dict[str, Any]:
    """What `init` detects, for the questions it asks on a terminal."""
    root, _ = discover(path)
    return detect(root)


def run_init(
    path: Path, options: InitOptions, *, force: bool, dry_run: bool, hooks: Hooks
) -> InitResult:
    """Write rcflow.toml and the release workflows; an existing different file needs --force."""
    root, git_dir = discover(path)
    files = plan_init(root, options)
    # A file an earlier init wrote is updated (the config changed); any other is the project's.
    clashes = [f.path for f in files if f.exists and not f.same and not f.ours and not force]
    updates = [f"updates {f.path}: " + " | ".join(f.diff) for f in files if f.exists and not f.same]
    plan = Plan(
        "init",
        "-",
        "",
        effects=tuple(WriteFile(f.path, f.content, f.exists) for f in files if not f.same),
        blockers=tuple(f"{p} exists with other content (--force replaces it)" for p in clashes),
        notes=tuple(updates),
        done="rcflow.toml and the workflows are already in place",
    )
    refuse(plan)
    steps = next_steps(detect(root), options)
    if plan.empty:
        return InitResult("done", plan, [], steps)
    if dry_run:
        return InitResult("planned", plan, [], steps)
    if not hooks.confirm(plan):
        return InitResult("declined", plan, [], steps)
    git, forge = init_ports(root, git_dir)  # init touches no forge
    executor = Executor(Ports(git, forge), None, hooks.effect)
    return InitResult("applied", plan, executor.apply(plan.effects), steps)
