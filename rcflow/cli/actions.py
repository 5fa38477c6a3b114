"""Inside GitHub Actions: step outputs, the job summary, `::error` annotations and masks.

Outside Actions (no GITHUB_ACTIONS=true) every method here does nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rcflow.commands.run import StepResult
    from rcflow.model.views import StatusView


class Actions:
    def __init__(self, env: Mapping[str, str], *, json_mode: bool, note: Callable[[str], None]):
        self.env = env
        self.json_mode = json_mode
        self.note = note  # how a runner file that cannot be written is reported

    @property
    def active(self) -> bool:
        return self.env.get("GITHUB_ACTIONS") == "true"

    def mask(self, secrets: Iterable[str]) -> None:
        """Have the runner hide these values in every later log line.

        Written to stderr: with --json stdout carries one document, and the runner reads
        workflow commands from both streams.
        """
        if not self.active:
            return
        for secret in secrets:
            if secret and "\n" not in secret:
                sys.stderr.write(f"::add-mask::{secret}\n")
        sys.stderr.flush()

    def outputs(self, view: StatusView, result: StepResult | None, command: str = "status") -> None:
        """The step's outputs (state, version, tag, rc, released, plan) and a summary."""
        if not self.active:
            return
        outputs = {
            "state": view.state,
            "version": view.version or "",
            "tag": view.tag or "",
            "rc": view.rc or "",
            "released": str(view.state == "released").lower(),
            "plan": json.dumps(result.plan.to_json()) if result else "",
        }
        path = self.env.get("GITHUB_OUTPUT")
        if path:
            text = "".join(f"{k}<<RCFLOW_EOF\n{v}\nRCFLOW_EOF\n" for k, v in outputs.items())
            self._append("GITHUB_OUTPUT", path, text)
        lines = [f"### rcflow {result.step if result else command}", ""]
        if result:
            lines += [f"- {a.effect.describe()}: {a.outcome}" for a in result.applied]
        what = view.tag or view.version or "no release"
        lines.append(f"- state: **{view.state}** ({what})")
        self._summary("\n".join(lines) + "\n")

    def failure(
        self, message: str, blockers: Iterable[str], *, state: str | None, resume: str | None
    ) -> None:
        """An `::error` annotation (why, and how to resume) and a failure summary."""
        if not self.active:
            return
        blockers = list(blockers)
        text = "; ".join([message, *blockers]) + (f" — resume with: {resume}" if resume else "")
        # With --json, stdout carries one document only; the runner reads commands on stderr too.
        stream = sys.stderr if self.json_mode else sys.stdout
        stream.write(f"::error title=rcflow::{_annotation(text)}\n")
        stream.flush()
        lines = [f"- error: {message}", *(f"- blocked: {b}" for b in blockers)]
        if state:
            lines.append(f"- state: {state}")
        if resume:
            lines.append(f"- resume: `{resume}`")
        self._summary("### rcflow failed\n\n" + "\n".join(lines) + "\n")

    def _summary(self, text: str) -> None:
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if path:
            self._append("GITHUB_STEP_SUMMARY", path, text)

    def _append(self, name: str, path: str, text: str) -> None:
        # What the step did is done: a runner file that cannot be written is a note, not a crash.
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            self.note(f"could not write {name} ({path}): {exc.strerror or exc}")


def _annotation(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
