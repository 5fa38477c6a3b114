"""`rcflow rehearse`: run the rehearsal (`commands.rehearse`) and render what it reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rcflow.cli.guard import Options, OutputHooks, output

if TYPE_CHECKING:
    from rcflow.cli.output import Output
    from rcflow.commands.rehearse import Event


def rehearse(
    opts: Options, out: Output, *, demo: bool, part: str, keep: bool, skip: tuple[str, ...]
) -> int:
    from rcflow.commands import rehearse as rehearsal

    inner = out
    if opts.json:
        # The steps draw nothing; the one document is the rehearsal's own.
        inner = output(Options(json=True))
        inner.silent = True
    done = rehearsal.run(
        lambda event: render(inner, event),
        OutputHooks(inner, yes=True),
        source=None if demo else (opts.path or Path.cwd()),
        part=part,
        keep=keep,
        skip=skip,
    )
    if opts.json:
        out.document(
            {"rehearsal": "complete" if done.exit_code == 0 else "stopped", "steps": done.steps}
        )
    return done.exit_code


def render(out: Output, event: Event) -> None:
    from rcflow.cli.console import escape
    from rcflow.commands import rehearse as r

    if isinstance(event, r.Sandbox):
        if event.demo:
            out.say(f"[bold]rcflow demo[/]: a sample repository in {event.work}")
            out.say("pyproject.toml says 1.3.0, v1.3.0 is tagged, one `feat:` commit since.")
        else:
            out.say(
                f"[bold]Rehearsal[/] in {event.work} "
                "(origin: a bare copy; the real remote is untouched)"
            )
    elif isinstance(event, r.Status):
        if event.final:
            out.say("")
        out.status(event.snapshot, event.release, event.config)
    elif isinstance(event, r.StepStarted):
        out.say(f"\n[bold cyan]▶ {event.title}[/]  [dim]$ {escape(event.command)}[/]")
    elif isinstance(event, r.StepRefused):
        out.error(event.error)
    elif isinstance(event, r.StepEnded):
        out.step_result(event.result, event.config)
    elif isinstance(event, r.Stopped):
        out.say(f"[red]The rehearsal stopped at {event.step}[/] (state {event.state}).")
    elif isinstance(event, r.Ledger):
        out.say("\n[bold cyan]▶ the audit trail[/]  [dim]$ rcflow log[/]")
        out.log(event.events)
    elif isinstance(event, r.Complete):
        where = f"sandbox kept at {event.sandbox}" if event.kept else "the sandbox is removed."
        out.say(f"\n[green]Rehearsal complete[/]: {where}")
