"""Conventional commits: parse them, pick the bump, render the changelog and tag message. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rcflow.model.version import Version
from rcflow.record import dataclass


@dataclass(frozen=True)
class Commit:
    """A commit as read from git."""

    sha: str
    subject: str
    body: str = ""


@dataclass(frozen=True)
class ConventionalCommit:
    sha: str
    type: str  # lower-cased: feat, fix, perf, docs, refactor, chore, ...
    scope: str | None
    breaking: bool  # "!" before ":" or a "BREAKING CHANGE:" / "BREAKING-CHANGE:" footer
    description: str
    breaking_note: str | None  # the BREAKING CHANGE footer's text on one line, if any


_SUBJECT = re.compile(
    r"(?P<type>[A-Za-z][A-Za-z0-9_-]*)"
    r"(?:\((?P<scope>[^()\r\n]*)\))?"
    r"(?P<bang>!)?"
    r": (?P<description>.*\S.*)"
)
# The spec requires the BREAKING CHANGE token in upper case, at the start of a footer line.
_BREAKING_FOOTER = re.compile(r"BREAKING[ -]CHANGE:(?P<text>.*)")
# A footer value runs until the next footer token (or a blank line, which ends the paragraph).
_FOOTER_TOKEN = re.compile(r"(?:[A-Za-z][A-Za-z0-9-]*|BREAKING CHANGE)(?:: | #)")

_NO_CHANGELOG = frozenset({"chore", "ci", "test", "build", "style"})
_SECTION_OF = {"feat": "Added", "fix": "Fixed", "perf": "Performance", "docs": "Documentation"}
_SECTION_ORDER = ("Added", "Fixed", "Performance", "Changed", "Documentation", "Other")
_BREAKING_HEADING = "⚠ BREAKING CHANGES"

PREAMBLE = (
    "# Changelog\n\nAll notable changes to this project are documented here. The format follows "
    "[Keep a Changelog](https://keepachangelog.com/en/1.1.0/).\n\n"
)
_HEADING = re.compile(r"## \[(?P<name>[^\]\r\n]*)\]")


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def _breaking_note(body: str) -> tuple[bool, str | None]:
    lines = body.splitlines()
    for i, line in enumerate(lines):
        m = _BREAKING_FOOTER.match(line)
        if m is None:
            continue
        parts = [m.group("text").strip()]
        for more in lines[i + 1 :]:
            if not more.strip() or _FOOTER_TOKEN.match(more):
                break
            parts.append(more.strip())
        note = " ".join(" ".join(parts).split())
        return True, note or None
    return False, None


def parse_commit(commit: Commit) -> ConventionalCommit | None:
    """The conventional reading of `commit`, or None ("Merge branch ...", "WIP", reverts)."""
    m = _SUBJECT.fullmatch(commit.subject.strip())
    if m is None:
        return None
    footer_breaking, note = _breaking_note(commit.body)
    scope = (m.group("scope") or "").strip() or None
    return ConventionalCommit(
        sha=commit.sha,
        type=m.group("type").lower(),
        scope=scope,
        breaking=m.group("bang") is not None or footer_breaking,
        description=m.group("description").strip(),
        breaking_note=note,
    )


def bump_part(commits: Iterable[Commit], current: Version | None) -> str | None:
    """The part to bump for `commits`: "major", "minor", "patch", or None (nothing releasable).

    A breaking change bumps "major", a feat "minor", a fix or perf "patch". While the project
    is at 0.x (`current.major == 0`, where `current` is the last final release, or the version
    in the files when there has been none), a breaking change bumps "minor" instead: 0.x makes
    no compatibility promise, and leaving 0.x is a decision to take explicitly, not a side
    effect of one commit. This is python-semantic-release's `major_on_zero = false` and
    commitizen's `major_version_zero`.
    """
    breaking = feat = fix = False
    for commit in commits:
        cc = parse_commit(commit)
        if cc is None:
            continue
        breaking = breaking or cc.breaking
        feat = feat or cc.type == "feat"
        fix = fix or cc.type in ("fix", "perf")
    if breaking:
        return "minor" if current is not None and current.major == 0 else "major"
    if feat:
        return "minor"
    if fix:
        return "patch"
    return None


@dataclass(frozen=True)
class Entry:
    sha: str
    scope: str | None
    text: str

    def markdown(self) -> str:
        prefix = f"**{self.scope}:** " if self.scope else ""
        return f"- {prefix}{' '.join(self.text.split())} ({self.sha[:7]})"


def grouped(commits: Sequence[Commit]) -> list[tuple[str, list[Entry]]]:
    """Commits as Keep a Changelog sections (breaking changes first); empty sections left out."""
    breaking: list[Entry] = []
    sections: dict[str, list[Entry]] = {name: [] for name in _SECTION_ORDER}
    for commit in commits:
        cc = parse_commit(commit)
        if cc is None:
            sections["Other"].append(Entry(commit.sha, None, _first_line(commit.subject)))
            continue
        if cc.breaking:
            breaking.append(Entry(cc.sha, cc.scope, cc.breaking_note or cc.description))
        if cc.type in _NO_CHANGELOG:
            continue
        section = _SECTION_OF.get(cc.type, "Changed")
        sections[section].append(Entry(cc.sha, cc.scope, cc.description))
    blocks = [(_BREAKING_HEADING, breaking)] + [(name, sections[name]) for name in _SECTION_ORDER]
    return [(name, entries) for name, entries in blocks if entries]


def render_changelog_section(
    version: Version, date: str, commits: Sequence[Commit], *, compare_url: str | None = None
) -> str:
    """One Keep a Changelog section for `version`, ending with a newline.

    With `compare_url`, a link reference definition for the heading follows the entries.
    """
    body = "\n".join(
        f"### {name}\n\n" + "".join(f"{e.markdown()}\n" for e in entries)
        for name, entries in grouped(commits)
    )
    text = f"## [{version}] - {date}\n\n" + (body or "- No notable changes.\n")
    if compare_url:
        text += f"\n[{version}]: {compare_url}\n"
    return text


def _heading_name(line: str) -> str | None:
    m = _HEADING.match(line)
    return None if m is None else m.group("name")


def prepend_changelog(existing: str | None, section: str) -> str:
    """`existing` with `section` as its newest release; everything else is kept byte for byte.

    An "## [Unreleased]" section stays on top. Returns `existing` unchanged when it already has a
    heading for the section's version, so re-running a step does not duplicate it.
    """
    if existing is None or not existing.strip():
        return PREAMBLE + section
    if "\r\n" in existing:
        section = section.replace("\r\n", "\n").replace("\n", "\r\n")
    newline = "\r\n" if "\r\n" in existing else "\n"
    lines = existing.splitlines(keepends=True)
    name = _heading_name(section)
    if name is not None and any(_heading_name(line) == name for line in lines):
        return existing
    for i, line in enumerate(lines):
        heading = _heading_name(line)
        if heading is not None and heading.strip().lower() != "unreleased":
            return "".join(lines[:i]) + section + newline + "".join(lines[i:])
    if existing.endswith(newline * 2):
        separator = ""
    elif existing.endswith(newline):
        separator = newline
    else:
        separator = newline * 2
    return existing + separator + section


def summarize(commits: Sequence[Commit]) -> str:
    """The annotated RC tag's message body: "abc1234 subject" per commit, in the order given."""
    if not commits:
        return "(no commits since the last release)"
    return "\n".join(f"{c.sha[:7]} {_first_line(c.subject)}" for c in commits)
