"""The alert effects (a webhook post, the alert issue opened or closed): `rcflow.engine.alerts`
performs them; a failed alert is an outcome, never an error, since the failure it reports
matters more."""

from __future__ import annotations

from typing import Literal, cast

from rcflow.engine import alerts
from rcflow.engine.handlers.base import Outcome, Scope, handles
from rcflow.model.effects import CloseAlertIssue, Effect, OpenAlertIssue, SendAlert


def _outcome(text: str) -> Outcome:
    status, _, detail = text.partition(": ")
    if status not in ("done", "skipped", "failed"):
        return Outcome("done", text)
    return Outcome(cast("Literal['done', 'skipped', 'failed']", status), detail)


def _perform(scope: Scope, e: Effect) -> Outcome:
    return _outcome(alerts.perform(e, scope.ports))


@handles(SendAlert)
def send_alert(scope: Scope, e: SendAlert) -> Outcome:
    return _perform(scope, e)


@handles(OpenAlertIssue)
def open_alert_issue(scope: Scope, e: OpenAlertIssue) -> Outcome:
    return _perform(scope, e)


@handles(CloseAlertIssue)
def close_alert_issue(scope: Scope, e: CloseAlertIssue) -> Outcome:
    return _perform(scope, e)
