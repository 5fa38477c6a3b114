"""The human view: rich text, results on stdout, progress and errors on stderr.

rich is imported only when something is drawn: a --json run never loads this module.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

    from rcflow.commands.run import InitResult, StepResult
    from rcflow.model.effects import Effect
    from rcflow.model.findings import Finding
    from rcflow.model.plan import Plan
    from rcflow.model.views import StatusView


def escape(text: str) -> str:
    """Make text safe inside rich markup (a bracket in a message must not become a style)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


class ConsoleView:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, str] = {}  # validation name -> what it is doing
        self._spinner: Status | None = None

    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(file=sys.stdout, highlight=False, soft_wrap=True)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(file=sys.stderr, highlight=False, soft_wrap=True)

    # -- progress --------------------------------------------------------------------------

    def plan(self, plan: Plan, *, dry_run: bool) -> None:
        head = "Plan (dry run, nothing will change)" if dry_run else "Plan"
        # A bump is about a version (its tag does not exist yet); the other steps about a tag.
        key = ("version", "tag") if plan.step == "bump" else ("tag", "version")
        subject = plan.subject.get(key[0]) or plan.subject.get(key[1]) or ""
        self.out.print(
            f"[bold]{head}[/]: "
            + escape(" ".join(p for p in ("rcflow", plan.step, str(subject)) if p))
            + (f" (state: {plan.state})" if plan.state != "-" else "")
        )
        for i, effect in enumerate(plan.effects, 1):
            self.out.print(f"  {i}. {escape(effect.describe())}")
        for note in plan.notes:
            self.out.print(f"  [dim]· {escape(note)}[/]")
        for blocker in plan.blockers:
            self.out.print(f"  [red]✗[/] {escape(blocker)}")

    def effect(self, effect: Effect, outcome: str) -> None:
        mark = (
            "[green]✓[/]"
            if outcome.startswith("done")
            else "[yellow]✗[/]"
            if outcome.startswith("failed")
            else "[dim]·[/]"
        )
        extra = "" if outcome == "done" else f" [dim]({escape(outcome)})[/]"
        with self._lock:
            self.err.print(f"{mark} {escape(effect.describe())}{extra}")

    def validation(self, name: str, what: str, detail: str) -> None:
        style = {"passed": "green", "failed": "red", "warning": "yellow"}.get(what, "cyan")
        with self._lock:
            self.err.print(f"  [{style}]{escape(name)} {what}[/] [dim]{escape(detail)}[/]")
            if what == "warning":  # says something about the run, not a new state of it
                pass
            elif what in ("passed", "failed", "stopped"):
                self._running.pop(name, None)
            else:
                self._running[name] = "" if what == "started" else what
            if self.err.is_terminal:
                self._live_progress()

    def _live_progress(self) -> None:
        """On a terminal, a spinner line names what is still running (CI logs get lines only)."""
        if not self._running:
            if self._spinner is not None:
                self._spinner.stop()
                self._spinner = None
            return
        text = "running " + ", ".join(
            f"{name} ({doing})" if doing else name for name, doing in sorted(self._running.items())
        )
        if self._spinner is None:
            self._spinner = self.err.status(text)
            self._spinner.start()
        else:
            self._spinner.update(text)

    # -- results ---------------------------------------------------------------------------

    def step_result(self, result: StepResult, view: StatusView) -> None:
        plan = result.plan
        if result.status == "done":
            self.out.print(f"[green]Already done[/]: {escape(plan.done or 'nothing to change')}.")
            for note in plan.notes:  # what the done plan still wants said (a config drift)
                self.out.print(f"  [dim]{escape(note)}[/]")
        elif result.status == "planned":
            self.plan(plan, dry_run=True)
            if plan.blockers:
                self.out.print(
                    f"Dry run: nothing was changed; {plan.step} would be refused "
                    f"({len(plan.blockers)} blocker(s) above)."
                )
            else:
                self.out.print("Dry run: nothing was changed.")
        elif result.status == "declined":
            self.out.print("Cancelled: nothing was changed.")
        elif result.status == "failed":
            failed = [o for o in result.results if not o.passed]
            for o in failed:
                where = f"log: {o.log}" if o.log else (o.url or o.kind)
                self.out.print(
                    f"[red]{escape(o.name)} failed[/] ({escape(o.detail)}); {escape(where)}"
                )
        what = view.subject or "no release"
        nxt = ", ".join(f"rcflow {n}" for n in view.next) or "nothing"
        self.out.print(f"State: [bold]{view.state}[/] ({escape(str(what))}). Next: {escape(nxt)}.")

    def init_result(self, result: InitResult) -> None:
        if result.status == "done":
            self.out.print(f"[green]Already done[/]: {escape(result.plan.done)}.")
        elif result.status == "planned":
            self.plan(result.plan, dry_run=True)
            self.out.print("Dry run: nothing was changed.")
        elif result.status == "declined":
            self.out.print("Cancelled: nothing was changed.")
            return
        self.out.print("Next steps:")
        for line in result.next_steps:
            self.out.print(f"  - {escape(line)}")

    def findings(self, found: Sequence[Finding]) -> None:
        # `rcflow doctor` in a pipe or a scheduled job (no terminal) writes the text its markup
        # stands for without loading rich (DESIGN §13).
        plain = None
        if _plain_stdout() and not any("[" in f.id for f in found):
            plain = _as_rich_writes(_finding_lines(found, markup=False))
        if plain is None:
            for line in _finding_lines(found, markup=True):
                self.out.print(line)
        else:
            sys.stdout.write(plain)
            sys.stdout.flush()

    def status(self, view: StatusView) -> None:
        p = self.out.print
        p(f"Last release: [bold]{escape(str(view.version or 'none'))}[/]")
        if view.target:
            p(f"In flight:    [bold]{escape(view.target)}[/]")
        elif view.files_dev:
            p(f"Files:        on the way to {escape(view.files_dev)} (a development version)")
        p(f"State:        [bold]{view.state}[/]")
        if len(view.stages) > 1:
            for line in _ladder_lines(view):
                p(line)
        for c in view.candidates:
            where = (
                "here and on " + view.remote
                if c["local"] and c["remote"]
                else ("on " + view.remote if c["remote"] else "only here")
            )
            p(
                f"  {escape(c['tag'])} at {c['sha'][:7]} ({escape(where)}; "
                f"{escape(_release_words(c['release']))})"
            )
            for r in c["validations"]:
                mark = "[green]passed[/]" if r["passed"] else "[red]failed[/]"
                if r["expired"]:
                    mark = "[yellow]passed, expired (older than max_age)[/]"
                req = "" if r["required"] else " (optional)"
                how = "" if r["kind"] == "command" else f" {r['kind']} {r['conclusion'] or ''}"
                url = f" {r['url']}" if r["url"] else ""
                p(f"    {escape(r['name'])}: {mark}{req} {escape(r['time'])}{escape(how + url)}")
            for r in c["running"]:
                where = escape(r["since"] + (f" {r['url']}" if r["url"] else ""))
                p(
                    f"    {escape(r['name'])}: [cyan]dispatched[/] {where}"
                    " (`rcflow validate` waits for it)"
                )
        sync = "in sync" if view.in_sync else "[yellow]out of sync[/]"
        words = _SYNC_WORDS.get(view.branch_sync or "")
        if words:
            sync = f"[yellow]{escape(words.format(**view.to_json()))}[/]"
        p(f"Remote:       {escape(view.remote)} ({sync})")
        forge = view.forge
        if forge["error"]:
            error = escape(forge["error"])
            p(f"Forge:        {forge['name']} ([yellow]cannot be read[/]: {error})")
        elif view.tag and not view.candidates:
            words = _release_words(forge["release"])
            p(f"Forge:        {forge['name']} ({escape(view.tag)}: {escape(words)})")
        else:
            p(f"Forge:        {forge['name']}")
        for drift in forge["drift"]:
            p(f"[yellow]![/] {escape(drift)}")
        for line in _artifact_lines(view.artifacts):
            p(line)
        if view.lease:
            p(f"Lease:        held by {escape(view.lease['holder'])}")
        for problem in view.problems:
            p(f"[yellow]![/] {escape(problem)}")
        p(f"Next:         {escape(', '.join('rcflow ' + n for n in view.next))}")
        if len(view.stages) > 1 and view.moves:
            p(f"Ladder moves: {escape(', '.join('rcflow ' + n for n in view.moves))}")

    def log(self, rows: Iterable[Mapping[str, Any]], *, more: Callable[[], bool]) -> None:
        """One plain line per event as it is read (no rich: 70,000 lines must not cost 70,000
        renders); `more()` after the rows: whether older events were left out."""
        out = sys.stdout
        empty = True
        for r in rows:
            empty = False
            out.write(log_line(r) + "\n")
        if empty:
            out.write("The ledger is empty.\n")
        out.flush()
        if more():
            self.err.print("Older events are not shown: `rcflow log --limit N` or `--all`.")

    def error(
        self,
        message: str,
        blockers: Sequence[str],
        hint: str | None,
        state: str | None,
        resume: str | None,
    ) -> None:
        self.err.print(f"[red]error[/]: {escape(message)}")
        for b in blockers:
            self.err.print(f"  [red]✗[/] {escape(b)}")
        if hint:
            self.err.print(f"  hint: {escape(hint)}")
        if state:
            self.err.print(
                f"  state: {escape(state)}" + (f"; resume with: {escape(resume)}" if resume else "")
            )


def _artifact_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for r in rows:
        if r["event"] == "package_published":
            files = r["files"]
            names = ", ".join(f"{n} ({str(d)[:12]}…)" for n, d in sorted(files.items()))
            lines.append(f"Package:      {escape(names)} on {escape(str(r['index']))}")
            continue
        digest = str(r["digest"] or "")[:19] + "…"
        tags = ", ".join(str(t) for t in r["tags"])
        if r["event"] == "image_resolved":
            what = f"{r['image']}:{tags} at {digest} (recorded at rc)"
        elif r["event"] == "image_promoted":
            what = f"{r['image']} {tags} at {digest} (promoted from {r['rc']}, verified)"
        else:
            what = f"{r['image']}:{tags} moved back to {r['to']} ({digest})"
        lines.append(f"Image:        {escape(what)}")
    return lines


def _release_words(rel: Mapping[str, Any] | None) -> str:
    if rel is None:
        return "no release"
    what = "draft" if rel["draft"] else ("prerelease" if rel["prerelease"] else "release")
    if rel["retracted"]:
        what = "retracted release"
    if rel["latest"]:
        what += ", latest"
    if rel["assets"]:
        what += f", {len(rel['assets'])} asset(s)"
    return what


_SYNC_WORDS = {
    "behind": "behind {remote}/{release_branch}: git pull --ff-only",
    "ahead": "ahead of {remote}/{release_branch}: commits not pushed yet",
    "diverged": "diverged from {remote}/{release_branch}: both have commits the other lacks",
    "missing": "{remote} has no branch {release_branch}",
}


def _ladder_lines(view: StatusView) -> list[str]:
    """The ladder: each stage, its live pre-releases, their validations and soak time left."""
    from rcflow.model.config import format_duration

    lines = []
    for stage in view.stages:
        mark = " [bold](current)[/]" if stage["current"] else ""
        gates = ", ".join(stage["validations"]) or "no required validations"
        soak = f"; soak {format_duration(stage['soak'])}" if stage["soak"] else ""
        skip = "; may be skipped" if stage["skip_allowed"] else ""
        lines.append(f"  {escape(stage['name'])}{mark}: {escape(gates)}{soak}{skip}")
        for t in stage["tags"]:
            extra = ""
            if t["soak_left"] is not None and t["soak_left"] > 0:
                extra += f", soak {format_duration(t['soak_left'])} left"
            elif t["soak_left"] is not None and t["soak_left"] < 0:
                extra += ", soak start unknown"
            if t["carried"]:
                extra += f", carried over from a lower stage: {', '.join(t['carried'])}"
            lines.append(f"    {escape(t['tag'])} at {t['sha'][:7]}: {t['state']}{escape(extra)}")
    return lines


def log_line(r: Mapping[str, Any]) -> str:
    """One ledger event as `rcflow log` prints it (plain text)."""
    data = r["data"]
    detail = ""
    if r["kind"].startswith("validation_") or r["kind"] == "validate_completed":
        detail = f" sha={str(data.get('sha', ''))[:7]} {data.get('detail', '')}".rstrip()
        if data.get("ran"):
            detail += f" (ran: {data['ran']})"
    elif data.get("digest"):
        detail = f" {data.get('digest')}"
        if data.get("rc"):
            detail += f" from {data['rc']}"
    elif r["kind"] == "package_published":
        files = data.get("files") or {}
        detail = "".join(f" {n}@sha256:{d}" for n, d in sorted(files.items()))
        detail += f" from {data.get('rc')}"
    elif r["kind"] == "rc_tagged" and data.get("stage"):
        detail = f" stage={data['stage']} sha={str(data.get('sha', ''))[:7]}"
        if data.get("from"):
            detail += f" promoted from {data['from']}"
    elif r["kind"] == "step_failed":
        detail = f" {data.get('reason', '')}"
        if data.get("resume"):
            detail += f" (resume: {data['resume']})"
    elif r["kind"] == "check_waived":
        detail = f" by {data.get('by') or '--skip-check'}"
    elif data.get("sha"):
        detail = f" sha={str(data['sha'])[:7]}"
    url = f" {data['run_url']}" if data.get("run_url") else ""
    what = f"{r['key']}{detail}{url}"
    return f"{r['time']}  {r['actor']:<24} {r['kind']:<20} {what}"


def _finding_lines(found: Sequence[Finding], *, markup: bool) -> list[str]:
    """doctor's lines, as rich markup or as the text the markup stands for."""

    def style(name: str, text: str) -> str:
        return f"[{name}]{text}[/]" if markup else text

    lines = []
    for f in found:
        mark = style("red", "✗ error") if f.severity == "error" else style("yellow", "! warning")
        where = f"{f.where}: " if f.where else ""
        text = where + f.message
        lines.append(f"{mark} {style('bold', f.id)} {escape(text) if markup else text}")
        lines.append(f"    fix: {escape(f.fix) if markup else f.fix}")
    if not found:
        lines.append(f"{style('green', 'No findings')}: nothing blocks a release.")
    else:
        errors = sum(f.severity == "error" for f in found)
        lines.append(f"{errors} error(s), {len(found) - errors} warning(s).")
    return lines


# -- plain text without rich ------------------------------------------------------------------
#
# rich writing to a file that is not a terminal draws no style: what reaches the file is the
# text with its control codes (BEL, BS, VT, FF, CR) dropped and its `:emoji:` codes replaced
# (`rich.control`, `rich._emoji_replace`). `_as_rich_writes` does the same for text free of
# markup; tests/cli/test_console.py holds it to rich's own output.

_RICH_STRIPS = {0x07: None, 0x08: None, 0x0B: None, 0x0C: None, 0x0D: None}


def _plain_stdout() -> bool:
    """Whether rich would see stdout as no terminal (`rich.console.Console.is_terminal`)."""
    import os

    if sys.platform == "win32":
        return False  # rich's legacy Windows console has rules of its own
    env = os.environ
    compatible = env.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "0"
    if "FORCE_COLOR" in env:
        return env["FORCE_COLOR"] == ""
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return isatty is not None and not isatty()
    except ValueError:
        return True


def _as_rich_writes(lines: Sequence[str]) -> str | None:
    """What rich prints for these lines of plain text to a non-terminal; None where rich does
    more than drop control codes and replace emoji codes (a tab it expands by cell width, a
    backslash its markup may take as an escape)."""
    out = []
    for line in lines:
        if "\t" in line or "\\" in line:
            return None
        line = line.translate(_RICH_STRIPS)
        if line.count(":") >= 2 and not _no_emoji_code(line):
            from rich._emoji_replace import _emoji_replace

            line = _emoji_replace(line)
        out.append(line + "\n")
    return "".join(out)


# What rich's `_emoji_replace` takes for an emoji code (its own pattern), and the only names of
# digits alone in its table (tests/cli/test_console.py holds both to rich's).
_EMOJI_CODE = r"(:(\S*?)(?:(?:\-)(emoji|text))?:)"
_DIGIT_EMOJI = frozenset({"100", "1234"})


def _no_emoji_code(line: str) -> bool:
    """Whether rich would replace nothing in line without reading its emoji table (2,000 names,
    the most of a doctor's drawing): every candidate is a line number ("README.md:3: ...") or
    empty."""
    import re

    return all(
        (name == "" or (name.isdecimal() and name.isascii())) and name not in _DIGIT_EMOJI
        for _, name, _ in re.findall(_EMOJI_CODE, line)
    )
