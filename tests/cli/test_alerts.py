"""Alerts: a failed or refused step POSTs a Slack-compatible JSON document to the webhook that
`[notify] webhook_env` names — a real HTTP server on 127.0.0.1 receives it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from tests.support.project import Project


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def configure(project: Project, extra: str = "") -> None:
    project.write("rcflow.toml", '[notify]\nwebhook_env = "RELEASE_WEBHOOK"\n' + extra)
    project.commit("chore: alerts")
    project.push()


def test_a_refused_step_is_posted_with_its_blockers(
    project: Project, webhook: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = webhook
    configure(project)
    monkeypatch.setenv("RELEASE_WEBHOOK", url)

    result = project.cli("promote")

    assert result.exit_code == 3
    [alert] = received
    assert alert["text"].startswith("rcflow failed: promote refused: nothing was changed")
    assert "no release in flight" in alert["text"]
    assert alert["rcflow"]["blockers"] == ["no release in flight: run `rcflow bump` first"]
    assert url not in result.stdout + result.stderr  # the URL carries credentials


def test_a_failed_validation_is_posted_with_the_resume_command(
    project: Project, webhook: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = webhook
    configure(project, '\n[[validate]]\nname = "unit"\nrun = "exit 3"\n')
    monkeypatch.setenv("RELEASE_WEBHOOK", url)
    assert project.cli("bump").exit_code == 0
    assert project.cli("rc").exit_code == 0

    result = project.cli("validate")

    assert result.exit_code == 1
    [alert] = received
    assert "validate failed: unit" in alert["text"]
    assert alert["rcflow"]["resume"].startswith("rcflow validate --yes")
    assert alert["rcflow"]["state"] == "rejected (v1.4.0-rc.1)"


def test_no_webhook_no_post_and_a_dead_webhook_is_only_a_note(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(project)
    assert project.cli("promote").exit_code == 3  # variable unset: nothing to send
    monkeypatch.setenv("RELEASE_WEBHOOK", "http://127.0.0.1:9/unreachable")
    result = project.cli("promote")
    assert result.exit_code == 3
    assert "could not send the alert" in result.stderr
    assert "127.0.0.1:9" not in result.stderr
