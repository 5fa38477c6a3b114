"""Crash injection in-process: a run whose port writes fail once, after the first k succeeded.

The crash points are the write ports' methods, read from the protocols (`rcflow.ports.git.
GitWrites`, `rcflow.ports.forge.ForgeWrites`, and the registry/index writes below): a write added
to a protocol is a crash point in every crash test without anyone editing a list.

`crash_each_write` is the crash-after-every-write loop: for k = 0, 1, ... a copy of the starting
position runs the step with write k+1 failing, and a `resume` callback re-runs it (here, or from
a fresh clone: `Attempt.fresh_clone`) and compares with an uninterrupted twin; the loop ends with
the first run no failure reached. For whole processes killed by SIGKILL, see `chaos`.
"""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from rcflow.adapters.git import Git
from rcflow.commands import run as commands
from rcflow.commands.run import Context
from rcflow.model.ledger import RunIdentity
from rcflow.ports.forge import ForgeWrites
from rcflow.ports.git import GitWrites, write_methods
from tests.support.project import Hooks, Project, fresh_clone


class RegistryWrites(Protocol):
    """The container registry client's writes (rcflow.adapters.oci.Registry)."""

    def put(self, repo: str, tag: str, manifest: Any) -> str:
        """A manifest PUT: a tag created or moved."""
        ...


class IndexWrites(Protocol):
    """The package index client's writes (rcflow.adapters.pyindex.PackageIndex)."""

    def upload(self, dist: Any) -> str:
        """One dist file uploaded."""
        ...


class Crash(Exception):
    """An injected failure at a port boundary (a push that failed, a forge that timed out)."""


NEVER = 10**6  # `after` for a run that only counts its writes


class FailingPorts:
    """Lets `after` port writes succeed, then fails the next one once (then works again)."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.calls = 0
        self.fired = False
        self.failed_call: str | None = None
        self.done: list[str] = []  # the writes that went through, in order

    def wrap(self, obj: Any, port: type) -> None:
        """Route every write method `port` declares on `obj` through the counter."""
        for name in write_methods(port):
            original = getattr(obj, name)

            def wrapper(*args: Any, __name: str = name, __orig: Any = original, **kw: Any) -> Any:
                if not self.fired and self.calls >= self.after:
                    self.fired = True
                    self.failed_call = __name
                    raise Crash(f"injected failure at {__name}")
                self.calls += 1
                self.done.append(__name)
                return __orig(*args, **kw)

            wrapper.crash_point = name  # type: ignore[attr-defined]
            setattr(obj, name, wrapper)

    def artifact_ports(self, ctx: Context) -> dict[str, Any]:
        """Registry and index factories whose clients' writes count (and fail) here too."""

        registry, index = ctx.registry, ctx.index

        def failing_registry(host: str, insecure: bool) -> Any:
            client = registry(host, insecure)
            self.wrap(client, RegistryWrites)
            return client

        def failing_index(config: Any) -> Any:
            client = index(config)
            self.wrap(client, IndexWrites)
            return client

        return {"registry": failing_registry, "index": failing_index}


def failing_ctx(p: Project, after: int) -> tuple[Context, FailingPorts]:
    """p's context with every port write counted, and the write after `after` failing once."""
    ctx = p.ctx()
    failing = FailingPorts(after)
    g = Git(ctx.git.root, ctx.git.git_dir)
    failing.wrap(g, GitWrites)
    failing.wrap(ctx.forge, ForgeWrites)
    crashed = dataclasses.replace(ctx, git=g, **failing.artifact_ports(ctx))
    # A crashed run's process is gone: its lease binds no later run on this host, as after a
    # real crash (the resume runs in this same test process, whose pid is alive).
    me = RunIdentity.current(g.identity())
    crashed.__dict__["me"] = dataclasses.replace(me, pid=_dead_pid())
    return crashed, failing


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def run_step(ctx: Context, step: str, args: Any) -> Any:
    return commands.run_step(ctx, step, args, dry_run=False, hooks=Hooks())


def count_writes(p: Project, step: str, args: Any) -> list[str]:
    """Run the step to its end on p (the twin), and name the port writes it made, in order."""
    ctx, counter = failing_ctx(p, NEVER)
    run_step(ctx, step, args)
    return counter.done


def crash_after(
    p: Project, step: str, args: Any, after: int, *, tolerate: tuple[type[Exception], ...] = ()
) -> tuple[Context, FailingPorts]:
    """Run the step on p with the write after `after` failing: the run's context, and what
    failed (`fired` false: the run made fewer writes and completed)."""
    ctx, failing = failing_ctx(p, after)
    try:
        run_step(ctx, step, args)
    except (Crash, *tolerate) as exc:
        assert failing.fired, f"after={after}: {exc!r} without an injected failure"
    return ctx, failing


@dataclass
class Attempt:
    """One crashed run: write k+1 failed on `project` (`ctx` is the crashed run's context)."""

    k: int
    project: Project
    ctx: Context
    failed_call: str

    @property
    def where(self) -> str:
        return f"k={self.k} ({self.failed_call})"

    def fresh_clone(self) -> Project:
        """Another machine: a plain clone of the crashed project's origin."""
        p = self.project
        return fresh_clone(p, p.base.parent / f"{p.base.name}-fresh")


def crash_each_write(
    start: Callable[[str], Project],
    step: str,
    args: Any,
    resume: Callable[[Attempt], None],
    *,
    writes: int | None = None,
    only: Iterable[int] | None = None,
    tolerate: tuple[type[Exception], ...] = (),
    limit: int = 60,
) -> list[str]:
    """Crash `step` after every write in turn, and resume each crash.

    `start(name)` builds the starting position (a copy of a template, or a new project) in a
    directory of that name; for k = 0, 1, ... the run on `start(f"k{k}")` has write k+1 fail
    (an injected `Crash`, or a `tolerate`d error it turned into), then `resume(attempt)` re-runs
    and compares. The loop ends with the first run that no failure reached: that k must equal
    `writes` (the twin's count) when given. `only` limits k to a range. Returns the failed writes.
    """
    crashed: list[str] = []
    for k in only if only is not None else itertools.count():
        assert k < limit, "the injected failure never stopped firing"
        p = start(f"k{k}")
        ctx, failing = crash_after(p, step, args, k, tolerate=tolerate)
        if not failing.fired:
            assert writes is None or k == writes, (k, writes)
            return crashed
        assert failing.failed_call is not None
        crashed.append(failing.failed_call)
        resume(Attempt(k, p, ctx, failing.failed_call))
    assert only is not None, "the injected failure never stopped firing"
    return crashed


def killed_in(
    p: Project, step: str, args: Any, method: str, first: Callable[..., Any] | None = None
) -> None:
    """Run the step on p, interrupted (KeyboardInterrupt: a signal) inside the git port's
    `method`, after `first(*its arguments)` did what that call had done by then."""
    ctx = p.ctx()

    def killed(*call: Any) -> Any:
        if first is not None:
            first(*call)
        raise KeyboardInterrupt

    setattr(ctx.git, method, killed)
    try:
        run_step(ctx, step, args)
    except KeyboardInterrupt:
        return
    raise AssertionError(f"{step} never called {method}")
