"""GitHub preflight: the repository's name, the token, and the rules that would reject a tag.

Each of these broke a real release: a workflow still pushing to the old organisation after a
transfer, a token that expired over a weekend, a token without `contents: write`, a tag ruleset
that refused the release tag after the RC had been pushed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from rcflow.errors import RcflowError
from rcflow.model.events import EventKind
from rcflow.model.findings import Finding

EXPIRY_WARNING_DAYS = 14
# GitHub's header: "2026-12-01 12:00:00 UTC" (older tokens: "... +0000").
_EXPIRY = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")


class Facts(Protocol):
    """What the GitHub adapter answers (kept as a protocol: checks import no adapter)."""

    repository: str

    def repo_facts(self) -> Any: ...

    def rulesets(self) -> list[dict[str, Any]]: ...

    def immutable_releases(self) -> bool | None: ...


def findings(
    github: Facts,
    *,
    origin: str | None,
    create_tags: Sequence[str] = (),
    delete_tags: Sequence[str] = (),
    now: datetime | None = None,
    everything: bool = False,
) -> tuple[list[Finding], str | None]:
    """Findings about the repository and token, and the repository's canonical owner/repo.

    `create_tags`/`delete_tags`: the tags the step will create or delete on the remote.
    `everything` (doctor): also ask about what only a tag deletion needs, so a feature this
    GitHub lacks is named before a rollback meets it.

    A feature an older GitHub Enterprise Server or a plan does not offer (rulesets, immutable
    releases, the token-expiration header) is a warning naming what went unchecked: the step
    runs as it would without the check.
    """
    now = now or datetime.now(UTC)
    try:
        facts = github.repo_facts()
    except RcflowError as exc:
        status = getattr(exc, "status", None)
        ident = {401: "github.token-invalid", 403: "github.token-denied"}.get(
            status or 0, "github.unreachable"
        )
        if "no GitHub token" in exc.message:
            ident = "github.token-missing"
        fix = exc.hint or "check the token and the URL"
        return [Finding(ident, "error", exc.message, fix)], None

    found: list[Finding] = []
    canonical = str(facts.full_name)
    for name, where in ((github.repository, "configured"), (origin, "origin")):
        if name and name.lower() != canonical.lower():
            found.append(
                Finding(
                    "github.repo-moved",
                    "error",
                    f"{name} ({where}) was renamed or transferred: GitHub now calls it {canonical}",
                    f"git remote set-url origin https://github.com/{canonical}.git, update "
                    f"github_repository, and add {name!r} to previous_names",
                )
            )
            break
    server = getattr(facts, "enterprise_version", None)
    found += _expiry(facts.token_expires, now)
    if facts.token_expires is None and server:
        # github.com sends the header for every token that expires; an older GHES never does.
        found.append(
            Finding(
                "github.token-expiry-unchecked",
                "warning",
                f"GitHub Enterprise Server {server} did not say when the token expires (no "
                "github-authentication-token-expiration header): its expiry was not checked",
                "make sure the token outlives the release",
            )
        )
    if not facts.can_push and (create_tags or delete_tags):
        found.append(
            Finding(
                "github.token-cannot-push",
                "error",
                f"the token cannot write to {canonical}",
                "give it contents: write (in a workflow: `permissions: contents: write`)",
            )
        )
    if create_tags or delete_tags:
        found += _ruleset_findings(github, create_tags, delete_tags)
    immutable: bool | None = False
    why = ""
    if delete_tags or everything:
        try:
            immutable = github.immutable_releases()
        except RcflowError as exc:
            immutable, why = None, f" ({exc.message})"
    if immutable is None:
        on = f"GitHub Enterprise Server {server}" if server else "GitHub"
        found.append(
            Finding(
                "github.immutable-unchecked",
                "warning",
                f"{on} does not say whether releases are immutable in {canonical}{why}: "
                "that a published release's tag can be deleted was not checked",
                "if the server has immutable releases, retract without --delete-tag",
            )
        )
    if delete_tags and immutable:
        found.append(
            Finding(
                "github.immutable-tag",
                "error",
                f"{canonical} has immutable releases: the tag of a published release "
                f"({', '.join(delete_tags)}) cannot be deleted",
                "retract without --delete-tag (the tag stays; the release is marked retracted)",
            )
        )
    return found, canonical


def _ruleset_findings(github: Facts, create: Sequence[str], delete: Sequence[str]) -> list[Finding]:
    try:
        rulesets = github.rulesets()
    except RcflowError as exc:
        status = getattr(exc, "status", None)
        tags = ", ".join([*create, *delete])
        if status in (403, 404):
            # 404: a GitHub Enterprise Server before 3.11 (no rulesets API); 403: a plan that
            # has no rulesets for this repository. The repository itself was just read.
            return [
                Finding(
                    "github.rulesets-unchecked",
                    "warning",
                    f"tag rulesets were not checked for {tags}: {exc.message}",
                    "this GitHub offers no rulesets API here; make sure no tag protection "
                    "refuses these tags",
                )
            ]
        return [
            Finding(
                "github.rulesets-unreadable",
                "error",
                f"tag rulesets could not be read for {tags}: {exc.message}",
                exc.hint or "resume when GitHub answers again",
            )
        ]
    return _rulesets(rulesets, create, delete)


def _expiry(header: str | None, now: datetime) -> list[Finding]:
    if not header:
        return []
    match = _EXPIRY.search(header)
    if match is None:
        return []
    expires = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    left = expires - now
    if left.total_seconds() <= 0:
        return [
            Finding(
                "github.token-expired",
                "error",
                f"the GitHub token expired on {expires:%Y-%m-%d %H:%M} UTC",
                "create a new token and set GITHUB_TOKEN",
            )
        ]
    if left.days < EXPIRY_WARNING_DAYS:
        return [
            Finding(
                "github.token-expiring",
                "warning",
                f"the GitHub token expires on {expires:%Y-%m-%d %H:%M} UTC (in {left.days} day(s))",
                "renew it before the next release",
            )
        ]
    return []


def ref_matches(pattern: str, ref: str) -> bool:
    """GitHub's ruleset ref patterns: fnmatch with `*` inside a segment, `**` across them."""
    if pattern == "~ALL":
        return True
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, ref) is not None


def _applies(ruleset: dict[str, Any], ref: str) -> bool:
    names = (ruleset.get("conditions") or {}).get("ref_name") or {}
    include = names.get("include") or []
    exclude = names.get("exclude") or []
    return any(ref_matches(p, ref) for p in include) and not any(
        ref_matches(p, ref) for p in exclude
    )


def _rulesets(
    rulesets: Iterable[dict[str, Any]], create: Sequence[str], delete: Sequence[str]
) -> list[Finding]:
    found: list[Finding] = []
    for ruleset in rulesets:
        if ruleset.get("target") != "tag":
            continue
        if ruleset.get("current_user_can_bypass") == "always":
            continue  # this token's actor is on the bypass list
        rules = {r.get("type") for r in ruleset.get("rules") or []}
        severity = "error" if ruleset.get("enforcement") == "active" else "warning"
        name = ruleset.get("name") or f"#{ruleset.get('id')}"
        for tags, rule, verb in ((create, "creation", "create"), (delete, "deletion", "delete")):
            blocked = [t for t in tags if rule in rules and _applies(ruleset, f"refs/tags/{t}")]
            if blocked:
                found.append(
                    Finding(
                        f"github.ruleset-{rule}",
                        severity,  # type: ignore[arg-type]
                        f"tag ruleset {name!r} forbids the token to {verb} {', '.join(blocked)}",
                        "add this token's actor (e.g. GitHub Actions) to the ruleset's bypass "
                        "list, or narrow its tag pattern",
                    )
                )
    return found


def dispatch_findings(events: Iterable[Any]) -> list[Finding]:
    """A warning when GitHub's last answer to a dispatch did not name the run it started.

    An older GitHub Enterprise Server answers 204 to `return_run_details`: rcflow then finds
    the run by the correlation id its run-name carries, which only works while it carries it.
    """
    last = next(
        (e for e in reversed(list(events)) if e.kind == EventKind.VALIDATION_DISPATCHED), None
    )
    if last is None or last.data.get("run_details") is not False:
        return []
    workflow = last.data.get("workflow") or "the workflow"
    return [
        Finding(
            "github.dispatch-run-details",
            "warning",
            f"GitHub did not name the run its dispatch of {workflow} started (no "
            "return_run_details on this server): rcflow finds runs by the correlation id in "
            "their run-name",
            f"keep ${{{{ inputs.rcflow_run_id }}}} in the run-name of {workflow}",
        )
    ]


def validation_forge_findings(validations: Iterable[Any], forge: str, source: str) -> list[Finding]:
    """Validations only GitHub can run (a workflow, checks, a deployment) on another forge.

    The configuration refuses them with an explicit ``forge = "local"``; a forge chosen from a
    remote that is not on GitHub is only known here, and `validate` would refuse them.
    """
    if forge == "github":
        return []
    return [
        Finding(
            "validate.needs-github",
            "error",
            f"{v.name} runs on GitHub ({v.kind}), but the forge is {forge}: nothing here can "
            + (
                f"read its deployments to {v.deployment}"
                if v.kind == "deployment"
                else "dispatch a workflow or read checks"
            ),
            f'set forge = "github" and github_repository = "owner/repo" in {source}',
            steps=frozenset({"rc", "validate"}),
        )
        for v in validations
        if v.on_github
    ]
