"""The only module that prints: human text (rich), one JSON document, GitHub Actions files.

Human progress and errors go to stderr, results to stdout; with --json stdout carries exactly one
JSON document and nothing else. Inside GitHub Actions every command also writes its outputs and
a job summary, and failures become `::error` annotations that carry the resume command.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from rcflow.errors import BlockedError, RcflowError
from rcflow.model.ledger import current_lease
from rcflow.model.version import tag_name

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

    from rcflow.commands.run import InitResult, StepResult
    from rcflow.model.config import Config
    from rcflow.model.effects import Effect
    from rcflow.model.findings import Finding
    from rcflow.model.ledger import Event
    from rcflow.model.plan import Plan
    from rcflow.model.snapshot import Snapshot
    from rcflow.model.states import Release


def escape(text: str) -> str:
    """Make text safe inside rich markup (a bracket in a message must not become a style)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def status_view(snap: Snapshot, release: Release, config: Config) -> dict[str, Any]:
    """The status as data: the JSON document, and what the human view is drawn from."""
    from rcflow.model.states import State, candidate_state, forge_drift, pending_dispatches

    prefix, token = config.tag_prefix, config.rc_token
    latest = release.latest
    if latest is not None:
        tag: str | None = latest.tag
    elif release.target is not None:
        tag = None
    elif release.last_final is not None:
        tag = tag_name(release.last_final, tag_prefix=prefix, rc_token=token)
    else:
        tag = None
    lease = current_lease(snap.ledger)
    branch_sync = _branch_sync(snap)
    in_sync = (
        snap.remote_reachable
        and branch_sync in ("in sync", None)
        and not any("here but" in p or "exists here" in p for p in release.problems)
    )
    return {
        "state": release.state.value,
        "version": str(release.last_final) if release.last_final else None,
        "target": str(release.target) if release.target else None,
        "rc": latest.number if latest else None,
        "tag": tag,
        "sha": latest.sha if latest else None,
        "next": list(release.next),
        "branch": snap.branch,
        "release_branch": snap.release_branch,
        "head": snap.head,
        "files_version": str(release.files_version) if release.files_version else None,
        "files_dev": str(release.files_dev) if release.files_dev else None,
        "in_sync": in_sync,
        "branch_sync": branch_sync,
        "remote": snap.remote,
        "remote_reachable": snap.remote_reachable,
        "problems": list(release.problems),
        "candidates": [
            {
                "tag": c.tag,
                "sha": c.sha,
                "local": c.local,
                "remote": c.remote,
                # passed every required validation, not merely "a validate run finished"
                "validated": candidate_state(c, config) is State.VALIDATED,
                "completed": c.completed,
                # whose [[validate]] judge it: the RC commit's committed configuration
                "validations_from": c.config_source,
                "release": _release_view(snap, c.tag),
                # Dispatched workflow runs with no result yet: `validate` re-attaches to them.
                "running": [
                    {
                        "name": name,
                        "since": e.time,
                        "url": e.data.get("url"),
                        "run_id": e.data.get("run_id"),
                    }
                    for name, e in sorted(pending_dispatches(snap.ledger, c.tag, c.sha).items())
                ],
                "validations": [
                    {
                        "name": r.name,
                        "passed": r.passed,
                        "required": r.required,
                        "time": r.time,
                        "duration": r.duration,
                        "detail": r.detail,
                        "kind": r.kind,
                        "url": r.url,
                        "conclusion": r.conclusion,
                        "expired": r.expired,
                        "ran": r.ran,
                    }
                    for r in c.results
                ],
            }
            for c in release.candidates
        ],
        "withdrawn": sorted(release.withdrawn_tags),
        "retracted": sorted(release.retracted),
        "forge": {
            "name": snap.forge,
            "error": snap.forge_error,
            "release": _release_view(snap, tag) if tag else None,
            "drift": list(forge_drift(snap, release, config)),
        },
        "lease": None
        if lease is None or lease.expires < snap.now
        else {"holder": lease.describe(), "expires": lease.expires},
        "artifacts": _artifacts_view(snap, tag) if tag else [],
    }


# The ledger events of images and packages (engine.registries names them; not imported here, so
# `status` does not load the artifact code).
_ARTIFACT_EVENTS = ("image_resolved", "image_promoted", "image_tag_moved", "package_published")


def _artifacts_view(snap: Snapshot, tag: str) -> list[dict[str, Any]]:
    """What shipped where for tag: each image digest and package file the ledger recorded."""
    newest: dict[tuple[str, str], Event] = {}
    for e in snap.ledger:
        if e.kind in _ARTIFACT_EVENTS and (e.key == tag or e.key.startswith(tag + "/")):
            newest[(e.kind, e.key)] = e
    rows = []
    for e in newest.values():
        d = e.data
        row: dict[str, Any] = {"event": e.kind, "time": e.time}
        if e.kind == "package_published":
            row.update(index=d.get("index"), rc=d.get("rc"), files=dict(d.get("files") or {}))
        else:
            tags = d.get("tags") or [d.get("tag")]
            row.update(image=d.get("image"), tags=list(tags), digest=d.get("digest"))
            if e.kind == "image_promoted":
                row["rc"] = d.get("rc")
            elif e.kind == "image_tag_moved":
                row["to"] = d.get("to")
        rows.append(row)
    return rows


def _release_view(snap: Snapshot, tag: str) -> dict[str, Any] | None:
    rel = snap.releases.get(tag)
    if rel is None:
        return None
    return {
        "draft": rel.draft,
        "prerelease": rel.prerelease,
        "latest": rel.latest,
        "retracted": rel.retracted,
        "assets": sorted(a.name for a in rel.assets),
        "url": rel.url or None,
    }


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


def step_view(result: StepResult, config: Config) -> dict[str, Any]:
    view = status_view(result.snapshot, result.release, config)
    return {
        "step": result.step,
        "status": result.status,
        "plan": result.plan.to_json(),
        "applied": [
            {"description": a.effect.describe(), "outcome": a.outcome} for a in result.applied
        ],
        "validations": [
            {
                "name": o.name,
                "passed": o.passed,
                "detail": o.detail,
                "duration": o.duration,
                "log": o.log or None,
                "kind": o.kind,
                "url": o.url,
                "conclusion": o.conclusion,
            }
            for o in result.results
        ],
        **{k: view[k] for k in ("state", "version", "target", "rc", "tag", "next", "problems")},
    }


class Output:
    def __init__(self, *, json_mode: bool, env: Mapping[str, str] | None = None) -> None:
        self.json_mode = json_mode
        self.env = os.environ if env is None else env
        self.interactive = sys.stdin.isatty() and self.env.get("CI") != "true"
        self._lock = threading.Lock()
        self._running: dict[str, str] = {}  # validation name -> what it is doing
        # A silent --json output draws nothing: its caller prints one document of its own.
        self.silent = False
        # Called with (message, blockers, state, resume) when a command fails.
        self.on_failure: Callable[[str, list[str], str | None, str | None], None] | None = None
        self._spinner: Status | None = None

    # rich is imported only when something is drawn: a --json run never pays for it.
    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(file=sys.stdout, highlight=False, soft_wrap=True)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(file=sys.stderr, highlight=False, soft_wrap=True)

    # -- documents -------------------------------------------------------------------------

    def mask(self, secrets: Iterable[str]) -> None:
        """Inside GitHub Actions, have the runner hide these values in every later log line.

        Written to stderr: with --json stdout carries one document, and the runner reads
        workflow commands from both streams.
        """
        if self.env.get("GITHUB_ACTIONS") != "true":
            return
        for secret in secrets:
            if secret and "\n" not in secret:
                sys.stderr.write(f"::add-mask::{secret}\n")
        sys.stderr.flush()

    def document(self, doc: Mapping[str, Any]) -> None:
        if self.silent:
            return
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
        sys.stdout.flush()

    def say(self, text: str) -> None:
        if not self.json_mode:
            self.out.print(text)

    def info(self, text: str) -> None:
        if not self.json_mode:
            self.err.print(text)

    # -- plans and progress ----------------------------------------------------------------

    def plan(self, plan: Plan, *, dry_run: bool) -> None:
        if self.json_mode:
            return
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

    def ask(self, question: str, default: str) -> str:
        """One question on a terminal; elsewhere the default, unasked."""
        if not self.interactive:
            return default
        from rich.prompt import Prompt

        return Prompt.ask(question, console=self.err, default=default).strip()

    def confirm(self, plan: Plan) -> bool:
        if not self.interactive:
            return True
        from rich.prompt import Confirm

        return Confirm.ask(
            f"Apply these {len(plan.effects)} changes?", console=self.err, default=False
        )

    def effect(self, effect: Effect, outcome: str) -> None:
        if self.json_mode:
            return
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
        """One line per change of a validation's state (started, dispatched, queued,
        in_progress, waiting, passed, failed): the CI log; a terminal also gets a live line."""
        if self.json_mode:
            return
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

    def note(self, text: str) -> None:
        self.info(f"[dim]{escape(text)}[/]")

    def notice(self, text: str) -> None:
        """A line on stderr even in JSON mode: what a command did besides its document."""
        self.err.print(escape(text))

    # -- results ---------------------------------------------------------------------------

    def step_result(self, result: StepResult, config: Config, *, resume: str | None = None) -> None:
        view = step_view(result, config)
        self.github(view, result)
        if result.status == "failed":
            outcomes = [a.outcome for a in result.applied if a.outcome.startswith("failed")]
            what = view.get("tag") or view.get("target") or view.get("version")
            self._annotate(
                f"{result.step} {'; '.join(outcomes) or 'failed'}",
                (),
                state=f"{view['state']} ({what})" if what else str(view["state"]),
                resume=resume,
            )
        if self.json_mode:
            self.document(view)
            return
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
        self._state_line(view)

    def init_result(self, result: InitResult) -> None:
        if self.json_mode:
            self.document(
                {
                    "step": "init",
                    "status": result.status,
                    "plan": result.plan.to_json(),
                    "applied": [
                        {"description": a.effect.describe(), "outcome": a.outcome}
                        for a in result.applied
                    ],
                    "next_steps": result.next_steps,
                }
            )
            return
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
        errors = sum(f.severity == "error" for f in found)
        warnings = len(found) - errors
        if self.json_mode:
            self.document(
                {
                    "findings": [
                        {
                            "id": f.id,
                            "severity": f.severity,
                            "where": f.where,
                            "message": f.message,
                            "fix": f.fix,
                        }
                        for f in found
                    ],
                    "errors": errors,
                    "warnings": warnings,
                }
            )
            return
        for f in found:
            mark = "[red]✗ error[/]" if f.severity == "error" else "[yellow]! warning[/]"
            where = f"{f.where}: " if f.where else ""
            self.out.print(f"{mark} [bold]{f.id}[/] {escape(where + f.message)}")
            self.out.print(f"    fix: {escape(f.fix)}")
        if not found:
            self.out.print("[green]No findings[/]: nothing blocks a release.")
        else:
            self.out.print(f"{errors} error(s), {warnings} warning(s).")

    def _state_line(self, view: Mapping[str, Any]) -> None:
        what = view.get("tag") or view.get("target") or view.get("version") or "no release"
        nxt = ", ".join(f"rcflow {n}" for n in view["next"]) or "nothing"
        self.out.print(
            f"State: [bold]{view['state']}[/] ({escape(str(what))}). Next: {escape(nxt)}."
        )

    def status(self, snap: Snapshot, release: Release, config: Config) -> None:
        view = status_view(snap, release, config)
        self.github(view, None)
        if self.json_mode:
            self.document(view)
            return
        p = self.out.print
        p(f"Last release: [bold]{escape(str(view['version'] or 'none'))}[/]")
        if view["target"]:
            p(f"In flight:    [bold]{escape(view['target'])}[/]")
        elif view["files_dev"]:
            p(f"Files:        on the way to {escape(view['files_dev'])} (a development version)")
        p(f"State:        [bold]{view['state']}[/]")
        for c in view["candidates"]:
            where = (
                "here and on " + view["remote"]
                if c["local"] and c["remote"]
                else ("on " + view["remote"] if c["remote"] else "only here")
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
        sync = "in sync" if view["in_sync"] else "[yellow]out of sync[/]"
        words = _SYNC_WORDS.get(view["branch_sync"] or "")
        if words:
            sync = f"[yellow]{escape(words.format(**view))}[/]"
        p(f"Remote:       {escape(view['remote'])} ({sync})")
        forge = view["forge"]
        if forge["error"]:
            error = escape(forge["error"])
            p(f"Forge:        {forge['name']} ([yellow]cannot be read[/]: {error})")
        elif view["tag"] and not view["candidates"]:
            words = _release_words(forge["release"])
            p(f"Forge:        {forge['name']} ({escape(view['tag'])}: {escape(words)})")
        else:
            p(f"Forge:        {forge['name']}")
        for drift in forge["drift"]:
            p(f"[yellow]![/] {escape(drift)}")
        for line in _artifact_lines(view["artifacts"]):
            p(line)
        if view["lease"]:
            p(f"Lease:        held by {escape(view['lease']['holder'])}")
        for problem in view["problems"]:
            p(f"[yellow]![/] {escape(problem)}")
        p(f"Next:         {escape(', '.join('rcflow ' + n for n in view['next']))}")

    def release_outputs(
        self, snap: Snapshot, release: Release, config: Config, command: str
    ) -> None:
        """For commands that are not release steps: the same GitHub outputs and summary."""
        self.github(status_view(snap, release, config), None, command)

    def log(self, events: Iterable[Event]) -> None:
        rows: list[dict[str, Any]] = [
            {
                "time": e.time,
                "actor": e.actor,
                "kind": e.kind,
                "key": e.key,
                "run": e.run,
                "data": dict(e.data),
                "id": e.id,
            }
            for e in events
        ]
        if self.json_mode:
            self.document({"events": rows})
            return
        if not rows:
            self.out.print("The ledger is empty.")
        for r in rows:
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
            elif r["kind"] == "step_failed":
                detail = f" {data.get('reason', '')}"
                if data.get("resume"):
                    detail += f" (resume: {data['resume']})"
            elif r["kind"] == "check_waived":
                detail = f" by {data.get('by') or '--skip-check'}"
            elif data.get("sha"):
                detail = f" sha={str(data['sha'])[:7]}"
            url = f" {data['run_url']}" if data.get("run_url") else ""
            who = escape(r["actor"])
            what = escape(f"{r['key']}{detail}{url}")
            self.out.print(f"{r['time']}  {who:<24} {r['kind']:<20} {what}")

    # -- errors ----------------------------------------------------------------------------

    def error(
        self, err: RcflowError, *, state: str | None = None, resume: str | None = None
    ) -> None:
        blockers = err.blockers if isinstance(err, BlockedError) else ()
        if self.json_mode:
            self.document(
                {
                    "error": err.message,
                    "exit_code": int(err.exit_code),
                    "blockers": list(blockers),
                    "hint": err.hint,
                    "state": state,
                    "resume": resume,
                }
            )
        else:
            self.err.print(f"[red]error[/]: {escape(err.message)}")
            for b in blockers:
                self.err.print(f"  [red]✗[/] {escape(b)}")
            if err.hint:
                self.err.print(f"  hint: {escape(err.hint)}")
            if state:
                self.err.print(
                    f"  state: {escape(state)}"
                    + (f"; resume with: {escape(resume)}" if resume else "")
                )
        self._annotate(err.message, blockers, state=state, resume=resume)

    def _annotate(
        self, message: str, blockers: Iterable[str], *, state: str | None, resume: str | None
    ) -> None:
        """In GitHub Actions: an `::error` annotation (why, and how to resume) and a summary.

        Everywhere: the alert hook (a webhook), when one is set.
        """
        blockers = list(blockers)
        if self.on_failure is not None:
            self.on_failure(message, blockers, state, resume)
        if self.env.get("GITHUB_ACTIONS") != "true":
            return
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

    # -- GitHub Actions --------------------------------------------------------------------

    def github(
        self, view: Mapping[str, Any], result: StepResult | None, command: str = "status"
    ) -> None:
        if self.env.get("GITHUB_ACTIONS") != "true":
            return
        outputs = {
            "state": view.get("state"),
            "version": view.get("version") or "",
            "tag": view.get("tag") or "",
            "rc": view.get("rc") or "",
            "released": str(view.get("state") == "released").lower(),
            "plan": json.dumps(result.plan.to_json()) if result else "",
        }
        path = self.env.get("GITHUB_OUTPUT")
        if path:
            text = "".join(f"{k}<<RCFLOW_EOF\n{v}\nRCFLOW_EOF\n" for k, v in outputs.items())
            self._append("GITHUB_OUTPUT", path, text)
        lines = [f"### rcflow {result.step if result else command}", ""]
        if result:
            lines += [f"- {a.effect.describe()}: {a.outcome}" for a in result.applied]
        what = view.get("tag") or view.get("version") or "no release"
        lines.append(f"- state: **{view.get('state')}** ({what})")
        self._summary("\n".join(lines) + "\n")

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


_SYNC_WORDS = {
    "behind": "behind {remote}/{release_branch}: git pull --ff-only",
    "ahead": "ahead of {remote}/{release_branch}: commits not pushed yet",
    "diverged": "diverged from {remote}/{release_branch}: both have commits the other lacks",
    "missing": "{remote} has no branch {release_branch}",
}


def _branch_sync(snap: Snapshot) -> str | None:
    """HEAD against the remote release branch: in sync, ahead, behind, diverged or missing.

    None when it cannot be told (the remote is unreachable, or no commit is checked out).
    """
    if not snap.remote_reachable or snap.head is None:
        return None
    if snap.remote_branch is None:
        return "missing"
    if snap.remote_branch == snap.head:
        return "in sync"
    if snap.head_on_remote:
        return "behind"
    return "diverged" if snap.remote_ahead else "ahead"
