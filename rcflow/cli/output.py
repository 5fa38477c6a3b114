"""The only door to the terminal: each command's result goes out through one `Output`.

Human progress and errors go to stderr, results to stdout; with --json stdout carries exactly one
JSON document and nothing else. Inside GitHub Actions every command also writes its outputs and
a job summary, and failures become `::error` annotations that carry the resume command.

`Output` only chooses: the views come from `rcflow.model.views`, and the drawing is done by
`cli.console` (rich), `cli.jsondoc` (the documents), `cli.actions` (the runner's files) and
`cli.prompts` (questions). Printing never causes an effect: alerts are effects the engine runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from rcflow.cli import jsondoc
from rcflow.cli.actions import Actions
from rcflow.errors import BlockedError, RcflowError

# `rcflow.model.views` is loaded where a view is made: doctor's findings need none.

if TYPE_CHECKING:
    from rich.console import Console

    from rcflow.cli.console import ConsoleView
    from rcflow.commands.run import InitResult, StepResult
    from rcflow.model.config import Config
    from rcflow.model.effects import Effect
    from rcflow.model.findings import Finding
    from rcflow.model.ledger import Event
    from rcflow.model.plan import Plan
    from rcflow.model.snapshot import Snapshot
    from rcflow.model.states import Release


class Output:
    def __init__(self, *, json_mode: bool, env: Mapping[str, str] | None = None) -> None:
        from rcflow.cli import prompts

        self.json_mode = json_mode
        self.env = os.environ if env is None else env
        self.interactive = prompts.interactive(self.env)
        # A silent --json output draws nothing: its caller prints one document of its own.
        self.silent = False
        self.actions = Actions(self.env, json_mode=json_mode, note=self.note)

    # The console module (and rich) load only when something is drawn: --json never pays.
    @cached_property
    def console(self) -> ConsoleView:
        from rcflow.cli.console import ConsoleView

        return ConsoleView()

    @property
    def err(self) -> Console:
        return self.console.err

    # -- documents and lines ---------------------------------------------------------------

    def mask(self, secrets: Iterable[str]) -> None:
        """Inside GitHub Actions, have the runner hide these values in every later log line."""
        self.actions.mask(secrets)

    def document(self, doc: Mapping[str, Any]) -> None:
        if not self.silent:
            jsondoc.write(doc)

    def say(self, text: str) -> None:
        if not self.json_mode:
            self.console.out.print(text)

    def info(self, text: str) -> None:
        if not self.json_mode:
            self.console.err.print(text)

    def note(self, text: str) -> None:
        if not self.json_mode:
            from rcflow.cli.console import escape

            self.info(f"[dim]{escape(text)}[/]")

    def notice(self, text: str) -> None:
        """A line on stderr even in JSON mode: what a command did besides its document."""
        from rcflow.cli.console import escape

        self.console.err.print(escape(text))

    # -- plans, questions and progress -----------------------------------------------------

    def plan(self, plan: Plan, *, dry_run: bool) -> None:
        if not self.json_mode:
            self.console.plan(plan, dry_run=dry_run)

    def ask(self, question: str, default: str) -> str:
        """One question on a terminal; elsewhere the default, unasked."""
        if not self.interactive:
            return default
        from rcflow.cli import prompts

        return prompts.ask(self.err, question, default)

    def confirm(self, plan: Plan) -> bool:
        if not self.interactive:
            return True
        from rcflow.cli import prompts

        return prompts.confirm(self.err, plan)

    def effect(self, effect: Effect, outcome: str) -> None:
        if not self.json_mode:
            self.console.effect(effect, outcome)

    def validation(self, name: str, what: str, detail: str) -> None:
        """One line per change of a validation's state (started, dispatched, queued,
        in_progress, waiting, passed, failed): the CI log; a terminal also gets a live line."""
        if not self.json_mode:
            self.console.validation(name, what, detail)

    # -- results ---------------------------------------------------------------------------

    def step_result(self, result: StepResult, config: Config, *, resume: str | None = None) -> None:
        from rcflow.model.views import status_view

        view = status_view(result.snapshot, result.release, config)
        self.actions.outputs(view, result)
        if result.status == "failed":
            outcomes = [a.outcome for a in result.applied if a.outcome.startswith("failed")]
            what = view.subject
            self.actions.failure(
                f"{result.step} {'; '.join(outcomes) or 'failed'}",
                (),
                state=f"{view.state} ({what})" if what else view.state,
                resume=resume,
            )
        if self.json_mode:
            self.document(jsondoc.step(result, view))
        else:
            self.console.step_result(result, view)

    def init_result(self, result: InitResult) -> None:
        if self.json_mode:
            self.document(jsondoc.init(result))
        else:
            self.console.init_result(result)

    def findings(self, found: Sequence[Finding]) -> None:
        if self.json_mode:
            self.document(jsondoc.findings(found))
        else:
            self.console.findings(found)

    def status(self, snap: Snapshot, release: Release, config: Config) -> None:
        from rcflow.model.views import status_view

        view = status_view(snap, release, config)
        self.actions.outputs(view, None)
        if self.json_mode:
            self.document(view.to_json())
        else:
            self.console.status(view)

    def release_outputs(
        self, snap: Snapshot, release: Release, config: Config, command: str
    ) -> None:
        """For commands that are not release steps: the same GitHub outputs and summary."""
        from rcflow.model.views import status_view

        self.actions.outputs(status_view(snap, release, config), None, command)

    def log(self, events: Iterable[Event], *, limit: int | None = None) -> None:
        """Events as they are read, at most `limit`; one more than that says older ones exist."""
        seen = 0

        def rows() -> Iterator[dict[str, Any]]:
            nonlocal seen
            for event in events:
                seen += 1
                if limit is not None and seen > limit:
                    return
                yield jsondoc.log_row(event)

        def more() -> bool:
            return limit is not None and seen > limit

        if self.json_mode:
            if not self.silent:
                jsondoc.write_log(rows(), more)
        else:
            self.console.log(rows(), more=more)

    def error(
        self, err: RcflowError, *, state: str | None = None, resume: str | None = None
    ) -> None:
        blockers = err.blockers if isinstance(err, BlockedError) else ()
        if self.json_mode:
            self.document(jsondoc.error(err, blockers, state, resume))
        else:
            self.console.error(err.message, blockers, err.hint, state, resume)
        self.actions.failure(err.message, blockers, state=state, resume=resume)


def show_version(line: str) -> None:
    """`rcflow --version`'s line, as the parser's `typer.echo` writes it."""
    import sys

    sys.stdout.write(line + "\n")
    sys.stdout.flush()
