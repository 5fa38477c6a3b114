"""The release lease, in one place: when a lease binds, how long this run's lasts, taking it
(breaking a dead or expired one), and releasing it.

The lease is a ledger event (`lease_acquired`, `lease_released`, `lease_broken`); who holds it is
read by `rcflow.model.ledger.current_lease` (status and classify need it, and the model cannot
import the engine). A mutating run takes the lease after its plan is confirmed
and releases it after its last effect, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from rcflow.engine.executor import LedgerWriter
from rcflow.errors import ConflictError, LeaseHeldError, RcflowError
from rcflow.model import ledger
from rcflow.model.config import Config
from rcflow.model.events import EventKind
from rcflow.model.ledger import Lease, RunIdentity, current_lease
from rcflow.model.plan import Plan
from rcflow.model.snapshot import Snapshot
from rcflow.ports.git import Repository

__all__ = [
    "acquire_lease",
    "lease_is_live",
    "pid_alive",
    "release_lease",
    "take",
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
    """Take the release lease, or raise LeaseHeldError naming the holder. Returns a note."""
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
    )
    return note


def release_lease(writer: LedgerWriter) -> None:
    writer.append(EventKind.LEASE_RELEASED, writer.me.run, {})


def take(
    git: Repository,
    config: Config,
    snapshot: Snapshot,
    plan: Plan,
    me: RunIdentity,
    *,
    ttl: float,
    break_lease: bool,
    look_again: Callable[[], Snapshot],
    replan: Callable[[Snapshot], Plan],
) -> tuple[LedgerWriter, str | None]:
    """Take the lease for plan; when another run appended meanwhile, look again before deciding.

    `ttl` is the step's own (`Step.lease_ttl`); `look_again` observes anew; `replan` plans the
    step on a snapshot: if the plan changed, the run stops with nothing applied rather than apply
    what the user did not confirm.
    """
    step = plan.step
    shown = [e.describe() for e in plan.effects]
    for _ in range(3):
        writer = LedgerWriter(
            git,
            config.remote,
            snapshot.ledger_tip,
            snapshot.ledger,
            me,
            spelling=(config.tag_prefix, config.rc_token),
        )
        try:
            note = acquire_lease(writer, snapshot, command=step, ttl=ttl, break_lease=break_lease)
            return writer, note
        except LeaseHeldError:
            raise
        except ConflictError:
            snapshot = look_again()
            held = current_lease(snapshot.ledger)
            if held and lease_is_live(held, now=snapshot.now, me=me, pid_alive=pid_alive(held.pid)):
                raise LeaseHeldError(
                    f"{held.describe()} took the release lease first",
                    hint=f"wait for it to finish, then re-run rcflow {step}",
                ) from None
            again = replan(snapshot)
            if [e.describe() for e in again.effects] != shown:
                raise ConflictError(
                    "the release changed while this run was starting: nothing was applied",
                    untouched=True,
                    hint=f"re-run rcflow {step} to see the new plan",
                ) from None
        except BaseException:
            # A failure after the lease was pushed (updating the local ref) must not leave it held.
            if writer.latest_kind(me.run) == EventKind.LEASE_ACQUIRED:
                with contextlib.suppress(RcflowError):
                    release_lease(writer)
            raise
    raise ConflictError("the ledger kept changing; try again", hint=f"rcflow {step}")
