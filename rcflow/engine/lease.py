"""The release lease, in one place: when a lease binds, how long this run's lasts, taking it
(breaking a dead or expired one), and releasing it.

The lease is a ledger event (`lease_acquired`, `lease_released`, `lease_broken`); who holds it is
read by `rcflow.model.ledger.current_lease` (status and classify need it, and the model cannot
import the engine). A mutating run takes the lease after its plan is confirmed
and releases it after its last effect, whatever happened.

No push of its own for either (issue 14: a push costs 60-330 ms on a big repository).

- *Taking* appends `lease_acquired` (after `lease_broken`, when it breaks one) without pushing:
  it rides with the run's first push, which the executor makes before the first effect that
  reaches beyond the ledger (`Executor.perform` flushes before a "world" effect; a "remote"
  effect carries it in its own atomic push). So the lease is on the remote before anything
  another run or a resume can see: a tag or branch pushed lands in the same atomic push as the
  lease, and a local commit or tag, a build, the forge, a registry, a command come after it.
  Before that push the run has only appended ledger events in memory, so a compare-and-swap
  that fails there (another run appended since this one looked) leaves nothing anywhere, as
  the lease's own push failing used to: `outrun` tells, and the step looks again exactly as
  before (`again`: stop on a live lease, stop if the plan changed, else take it anew).
- *Not further*: the first push of `bump` or `rc` follows effects on the clone alone (version
  files, a commit, a local tag). Taking the lease in that push would save one more, but a run
  that loses the race would then keep a commit or tag made without ever holding the lease
  (today it changes nothing, even locally), and a crash after such an effect would leave it
  unguarded against other hosts until its resume; so the lease goes first there.
- *Releasing*: when a step's last effect beyond the ledger is a push to the release's remote
  (or a write of the local forge, whose commit travels in such a push), that atomic push
  carries the events of the ledger-only and local-forge effects after it and `lease_released`
  (`Executor.apply`'s `close`, `Executor._ride`; refused, it takes them back, drops the
  forge's held writes and the failure path releases the lease as after any failed effect);
  otherwise the release is the run's last push, with whatever is pending. A run whose lease
  never reached the remote and that recorded nothing releases nothing: it pushes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from rcflow.engine.executor import LedgerWriter
from rcflow.errors import ConflictError, LeaseHeldError, RcflowError
from rcflow.model import ledger
from rcflow.model.config import Config
from rcflow.model.events import EventKind
from rcflow.model.ledger import LEDGER_REF, Lease, RunIdentity, current_lease
from rcflow.model.plan import Plan
from rcflow.model.snapshot import Snapshot
from rcflow.ports.git import Repository

__all__ = [
    "acquire_lease",
    "again",
    "lease_is_live",
    "outrun",
    "pid_alive",
    "release_lease",
    "released",
    "take",
    "taken",
]


def lease_is_live(lease: Lease, *, now: float, me: RunIdentity, pid_alive: bool) -> bool:
    """A lease binds others until it expires — unless its holder is provably gone.

    On the holder's own host a dead pid proves the run crashed (the rule git uses for gc.pid),
    so a maintainer re-running after a crash resumes at once; a CI re-run of the same workflow
    run (same run id) is the same run resuming.
    """
    if lease.run == me.run:
        return False
    if now >= lease.expires:
        return False
    return not (lease.host == me.host and not pid_alive)


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire_lease(
    writer: LedgerWriter,
    snapshot: Snapshot,
    *,
    command: str,
    ttl: float,
    break_lease: bool,
) -> str | None:
    """Take the release lease, or raise LeaseHeldError naming the holder. Returns a note.

    Appended, not pushed: the run's first push carries it (see the module's docstring)."""
    me = writer.me
    held = current_lease(snapshot.ledger)
    note = None
    if held is not None:
        live = lease_is_live(held, now=snapshot.now, me=me, pid_alive=pid_alive(held.pid))
        if live and not break_lease:
            until = ledger.now_iso(held.expires)
            raise LeaseHeldError(
                f"{held.describe()} holds the release lease until {until}",
                hint=f"wait for it to finish, or if it is dead: rcflow {command} --break-lease",
            )
        if live or snapshot.now < held.expires:
            # Pushed with the acquisition: no run sees the lease broken and not taken.
            writer.append(EventKind.LEASE_BROKEN, held.run, {"by": me.run}, defer=True)
            note = f"broke the lease of {held.describe()}"
        else:
            note = f"took over the expired lease of {held.describe()}"
    writer.append(
        EventKind.LEASE_ACQUIRED,
        me.run,
        {"host": me.host, "pid": me.pid, "expires": snapshot.now + ttl, "command": command},
        defer=True,
    )
    return note


def release_lease(writer: LedgerWriter, *, defer: bool = False) -> None:
    """Append `lease_released`; pushed at once with what is pending, or (`defer`) by the push
    the caller makes next (the step's last effect's: `Executor.apply`'s `close`)."""
    writer.append(EventKind.LEASE_RELEASED, writer.me.run, {}, defer=defer)


def _own(writer: LedgerWriter, kind: str) -> bool:
    """Whether this run's newest lease event is of `kind` and on the remote (pushed)."""
    for event in reversed(writer.events):
        if event.key == writer.me.run and event.kind.startswith("lease_"):
            return event.kind == kind and not any(e is event for e in writer.pending)
    return False


def taken(writer: LedgerWriter) -> bool:
    """The run's lease is on the remote: its acquisition was pushed, its release not yet."""
    return _own(writer, EventKind.LEASE_ACQUIRED)


def released(writer: LedgerWriter) -> bool:
    """The run's lease was given back on the remote (its release rode with the last effect)."""
    return _own(writer, EventKind.LEASE_RELEASED)


def outrun(writer: LedgerWriter, exc: BaseException) -> bool:
    """`exc` is the remote refusing the push that carried this run's lease because another run
    appended since this one looked: nothing of this run landed, and nothing but ledger events
    in memory was done (every other effect comes after that push, or is in it)."""
    if not isinstance(exc, ConflictError) or isinstance(exc, LeaseHeldError):
        return False
    mine = writer.latest_kind(writer.me.run)
    if mine != EventKind.LEASE_ACQUIRED or taken(writer):
        return False
    try:
        tip = writer.git.remote_ref(writer.remote, LEDGER_REF)
    except RcflowError:
        return False
    return tip != writer.tip


def again(
    snapshot: Snapshot,
    plan: Plan,
    me: RunIdentity,
    replan: Callable[[Snapshot], Plan],
) -> None:
    """After `outrun`, on a new look: stop if another run holds the lease now, or if the plan
    changed (the run does not apply what the user did not confirm); else the run takes the
    lease anew and applies its plan."""
    step = plan.step
    held = current_lease(snapshot.ledger)
    if held and lease_is_live(held, now=snapshot.now, me=me, pid_alive=pid_alive(held.pid)):
        raise LeaseHeldError(
            f"{held.describe()} took the release lease first: nothing was applied",
            untouched=True,
            hint=f"wait for it to finish, then re-run rcflow {step}",
        )
    if [e.describe() for e in replan(snapshot).effects] != [e.describe() for e in plan.effects]:
        raise ConflictError(
            "the release changed while this run was starting: nothing was applied",
            untouched=True,
            hint=f"re-run rcflow {step} to see the new plan",
        )


def take(
    git: Repository,
    config: Config,
    snapshot: Snapshot,
    plan: Plan,
    me: RunIdentity,
    *,
    ttl: float,
    break_lease: bool,
) -> tuple[LedgerWriter, str | None]:
    """A writer on `snapshot`'s ledger with the lease for plan taken in it (not yet pushed: the
    run's first push carries it), and a note when it broke or took over another's.

    `ttl` is the step's own (`Step.lease_ttl`). LeaseHeldError when another live run holds it.
    """
    writer = LedgerWriter(
        git,
        config.remote,
        snapshot.ledger_tip,
        snapshot.ledger,
        me,
        spelling=(config.tag_prefix, config.rc_token),
        head=snapshot.head,
    )
    note = acquire_lease(writer, snapshot, command=plan.step, ttl=ttl, break_lease=break_lease)
    return writer, note
