"""Alerts: a failing run tells people (a webhook post, the release line's GitHub issue), and the
next run that succeeds closes the issue.

Alerts are effects like any other: planned here from the failing run's context (the message, the
blockers, the state, the resume command, the run's URL), applied by the executor through the
handlers below. A failed alert is an outcome ("failed: …"), never a new error: the failure being
reported matters more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rcflow.errors import RcflowError
from rcflow.model.effects import CloseAlertIssue, Effect, OpenAlertIssue, SendAlert
from rcflow.model.plan import Plan

if TYPE_CHECKING:
    from rcflow.model.config import Config
    from rcflow.model.findings import Finding
    from rcflow.model.version import Version

# POSTs one JSON document; raises on a transport error or a non-2xx answer.
Webhook = Callable[[Mapping[str, Any]], None]


@runtime_checkable
class IssueTracker(Protocol):
    """The forge's issues (GitHub's): one open issue per title, labelled rcflow."""

    def report_issue(self, title: str, body: str) -> str: ...

    def resolve_issue(self, title: str, comment: str) -> str | None: ...


class AlertPorts(Protocol):
    """What the alert handlers reach: the forge, and the webhook (None: none is configured)."""

    @property
    def forge(self) -> object: ...

    @property
    def webhook(self) -> Webhook | None: ...


def issue_title(version: Version | None) -> str:
    """One issue per release line (1.4, 1.5 …): every failure of the line lands on it."""
    line = f"{version.major}.{version.minor}" if version else "next"
    return f"rcflow: the {line} release is failing"


def failure_plan(
    config: Config,
    forge: str,
    version: Version | None,
    *,
    message: str,
    blockers: Sequence[str] = (),
    state: str | None = None,
    resume: str | None = None,
    run_url: str | None = None,
    webhook: bool,
) -> Plan:
    """What a failure sends: the webhook post (when its variable is set), the issue (on GitHub).

    version: the release line the failure belongs to (None: no release yet, or not known).
    """
    alert = SendAlert(
        config.notify_webhook_env or "",
        message,
        tuple(blockers),
        state,
        resume,
        run_url,
    )
    effects: list[Effect] = [alert] if webhook and config.notify_webhook_env else []
    notes: list[str] = []
    if config.notify_issue and forge == "github":
        body = "\n".join(f"- {line}" for line in alert.lines()[1:])
        effects.append(OpenAlertIssue(issue_title(version), f"{message}\n\n{body}"))
    elif config.notify_issue:
        notes.append("[notify] issue needs the github forge: no issue was opened")
    return Plan("alert", state or "-", "", tuple(effects), notes=tuple(notes))


def recovery_plan(
    config: Config, forge: str, version: Version | None, *, step: str, run_url: str | None
) -> Plan:
    """A step that succeeded closes its release line's open issue, if there is one."""
    effects: tuple[Effect, ...] = ()
    if config.notify_issue and forge == "github":
        comment = f"`rcflow {step}` succeeded" + (f": {run_url}" if run_url else ".")
        effects = (CloseAlertIssue(issue_title(version), comment),)
    return Plan("alert", "-", "", effects)


# -- the pipeline alert issue of the scheduled `doctor --alert` --------------------------------

DOCTOR_ALERT_TITLE = "rcflow: the release pipeline needs attention"
DOCTOR_ALERT = "the pipeline alert issue"


def doctor_plan(found: Sequence[Finding], run_url: str | None) -> Plan:
    """Open (or comment on) the one pipeline alert issue while doctor finds an error, else close
    it."""
    errors = [f for f in found if f.severity == "error"]
    if not errors:
        comment = "`rcflow doctor` finds no error any more" + (f": {run_url}" if run_url else ".")
        return Plan(
            "doctor", "-", "", (CloseAlertIssue(DOCTOR_ALERT_TITLE, comment, DOCTOR_ALERT),)
        )
    lines = [f"`rcflow doctor` found {len(errors)} error(s) that would break a release:", ""]
    for f in errors:
        where = f" ({f.where})" if f.where else ""
        lines.append(f"- **{f.id}**{where}: {f.message}. Fix: {f.fix}")
    if run_url:
        lines += ["", f"Run: {run_url}"]
    lines += ["", "This issue is closed by the next `rcflow doctor` run that finds no error."]
    opening = OpenAlertIssue(DOCTOR_ALERT_TITLE, "\n".join(lines), DOCTOR_ALERT)
    return Plan("doctor", "-", "", (opening,))


# -- handlers: plain functions of the effect and the ports they reach ----------------------------


def send_alert(e: SendAlert, webhook: Webhook | None) -> str:
    if webhook is None:
        return f"skipped: ${e.webhook_env} is not set"
    try:
        webhook(e.payload())
    except Exception as exc:  # the URL may be in the message: only the error's type is said
        return f"failed: could not send the alert ({type(exc).__name__})"
    return "done"


def open_alert_issue(e: OpenAlertIssue, forge: object) -> str:
    if not isinstance(forge, IssueTracker):
        return "failed: [notify] issue needs the github forge: no issue was opened"
    try:
        url = forge.report_issue(e.title, e.body)
    except Exception as exc:
        return f"failed: could not update {e.name}: {_why(exc)}"
    return f"done: {url}"


def close_alert_issue(e: CloseAlertIssue, forge: object) -> str:
    if not isinstance(forge, IssueTracker):
        return "skipped: no issue tracker on this forge"
    try:
        closed = forge.resolve_issue(e.title, e.comment)
    except Exception as exc:
        return f"failed: could not update {e.name}: {_why(exc)}"
    return (
        f"skipped: no open {e.name.removeprefix('the ')}" if closed is None else f"done: {closed}"
    )


def _why(exc: Exception) -> str:
    # rcflow's own errors are written for people and carry no secret; anything else may.
    return str(exc) if isinstance(exc, RcflowError) else type(exc).__name__


def perform(e: Effect, ports: AlertPorts) -> str:
    """The executor's entry for the three alert effects."""
    if isinstance(e, SendAlert):
        return send_alert(e, ports.webhook)
    if isinstance(e, OpenAlertIssue):
        return open_alert_issue(e, ports.forge)
    if isinstance(e, CloseAlertIssue):
        return close_alert_issue(e, ports.forge)
    raise TypeError(f"not an alert effect: {e.kind}")
