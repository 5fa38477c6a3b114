"""Stale references after a move: tracked text files still naming a previous owner/repo.

One `git grep` over the tracked text files (binary and untracked files are skipped by git) finds
the candidate lines with fixed strings; a precise pattern per form then decides, so look-alikes
(`docker.io/OWNER/app`, `src/OWNER/REPO.py`, `github.com/OWNER/REPO-tools`) are never reported.

Finding ids, one per form and line:

- ``stale-ref.github``  ``github.com/OWNER/REPO`` (https/ssh URLs, ``git@github.com:OWNER/REPO``,
  Go module paths, kustomize remote refs), followed by the end of the name;
- ``stale-ref.raw``     ``raw.githubusercontent.com/OWNER/REPO/``;
- ``stale-ref.pages``   ``OWNER.github.io/REPO``;
- ``stale-ref.ghcr``    ``ghcr.io/OWNER/…``, any image under a previous owner (only when the owner
  changed: a rename within one owner keeps its packages' namespace);
- ``stale-ref.action``  ``uses: OWNER/REPO@…`` or ``uses: OWNER/REPO/path@…`` (GitHub Actions).

Severity: "error" for any reference under ``.github/`` (workflows, actions, the release
machinery) and for ghcr and ``uses:`` references outside documentation (they break releases);
"warning" otherwise. Documentation is a ``.md``/``.rst``/``.txt``/``.adoc``/``.html`` file or
anything under ``docs/`` or ``doc/``.

Owner/repo names match case-insensitively, as GitHub resolves them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Literal

from rcflow.errors import CommandError
from rcflow.model.findings import Finding
from rcflow.ports import proc
from rcflow.record import dataclass

Kind = Literal["github", "raw", "pages", "ghcr", "action"]

_NAME = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]*)/([A-Za-z0-9_.-]+)")
# After a repository name: optional `.git`, trailing sentence dots, then no further name character
# (so `REPO-tools`, `REPOSITORY` and `REPO.js` are other repositories).
_END = r"(?=(?:\.git)?\.*(?![\w.-]))"
_HOST_START = r"(?<![\w.-])"  # not inside a longer host name (`notgithub.com`, `x.ghcr.io`)
_DOC_SUFFIXES = frozenset({".md", ".markdown", ".rst", ".txt", ".adoc", ".html", ".htm"})
_DOC_DIRS = frozenset({"docs", "doc"})


@dataclass(frozen=True)
class _Form:
    kind: Kind
    pattern: re.Pattern[str]
    old: str  # the previous owner/repo (or owner, for ghcr)
    new: str  # what replaces `old` in the matched text


@dataclass(frozen=True)
class _Hit:
    path: str
    line: int
    kind: Kind
    text: str
    fix: str


def findings(
    root: Path, current: str, previous: Sequence[str], *, allow: Sequence[str] = ()
) -> list[Finding]:
    """References in tracked text files under root to a previous name of this repository.

    current is "owner/repo" now; previous are earlier names; allow holds exact reference texts to
    leave alone, or "owner/repo" names not to report at all. Sorted by file, then line.
    """
    cur_owner, cur_repo = _split(current)
    allowed = {a.strip().casefold() for a in allow if a.strip()}
    names: list[tuple[str, str]] = []
    seen = {f"{cur_owner}/{cur_repo}".casefold()} | allowed
    for name in previous:
        owner, repo = _split(name)
        key = f"{owner}/{repo}".casefold()
        if key not in seen:
            seen.add(key)
            names.append((owner, repo))
    if not names:
        return []

    forms = _forms(names, cur_owner, cur_repo)
    needles = _needles(names, cur_owner)
    texts = [re.compile(re.escape(a), re.I) for a in sorted(allowed)]
    hits: dict[tuple[str, int, Kind], list[_Hit]] = {}
    for path, line, content in _grep(root, needles):
        for hit in _scan(path, line, content, forms, texts):
            hits.setdefault((hit.path, hit.line, hit.kind), []).append(hit)

    out: list[Finding] = []
    for (path, line, kind), group in sorted(hits.items()):
        stale = _unique(h.text for h in group)
        fixes = _unique(h.fix for h in group)
        out.append(
            Finding(
                f"stale-ref.{kind}",
                _severity(path, kind),
                f"refers to {', '.join(stale)}, a previous name of this repository",
                f"change it to {', '.join(fixes)}",
                f"{path}:{line}",
            )
        )
    return out


def _split(name: str) -> tuple[str, str]:
    m = _NAME.fullmatch(name.strip())
    if m is None:
        raise ValueError(f"{name!r} is not owner/repo")
    return m.group(1), m.group(2)


def _forms(names: Sequence[tuple[str, str]], cur_owner: str, cur_repo: str) -> list[_Form]:
    forms: list[_Form] = []
    new = f"{cur_owner}/{cur_repo}"
    ghcr_owners: list[str] = []
    for owner, repo in names:
        o, r = re.escape(owner), re.escape(repo)
        old = f"{owner}/{repo}"
        github = rf"{_HOST_START}(?P<ref>(?:www\.)?github\.com[:/]{o}/{r}){_END}"
        raw = rf"{_HOST_START}(?P<ref>raw\.githubusercontent\.com/{o}/{r})/"
        pages = rf"{_HOST_START}(?P<ref>{o}\.github\.io/{r}){_END}"
        action = rf"(?<![\w-])uses:[ \t]*[\"']?(?P<ref>{o}/{r}(?:/[^\s\"'@]*)?@[^\s\"'#]*)"
        forms += [
            _Form("github", re.compile(github, re.I), old, new),
            _Form("raw", re.compile(raw, re.I), old, new),
            _Form(
                "pages",
                re.compile(pages, re.I),
                f"{owner}.github.io/{repo}",
                f"{cur_owner}.github.io/{cur_repo}",
            ),
            _Form("action", re.compile(action, re.I), old, new),
        ]
        if owner.casefold() != cur_owner.casefold() and owner.casefold() not in ghcr_owners:
            ghcr_owners.append(owner.casefold())
            ghcr = rf"{_HOST_START}(?P<ref>ghcr\.io/{o}/(?:[\w./-]*[\w-])?)"
            # image names on ghcr.io are lowercase
            forms.append(
                _Form(
                    "ghcr",
                    re.compile(ghcr, re.I),
                    f"ghcr.io/{owner}/",
                    f"ghcr.io/{cur_owner.lower()}/",
                )
            )
    return forms


def _needles(names: Sequence[tuple[str, str]], cur_owner: str) -> list[str]:
    """Fixed strings every reportable line contains at least one of (the git grep prefilter)."""
    needles: list[str] = []
    for owner, repo in names:
        needles += [f"{owner}/{repo}", f"{owner}.github.io/{repo}"]
        if owner.casefold() != cur_owner.casefold():
            needles.append(f"ghcr.io/{owner}/")
    return _unique(needles)


def _grep(root: Path, needles: Sequence[str]) -> Iterator[tuple[str, int, str]]:
    """(path, line number, line) of each tracked text line containing any needle."""
    argv = [
        "git",
        "-c",
        "grep.patternType=basic",
        "grep",
        "--no-color",
        "--no-column",
        "--no-recurse-submodules",
        "--no-textconv",
        "--full-name",
        "-z",  # path NUL line NUL text LF: paths are never quoted, any byte survives
        "-n",
        "-I",
        "-i",
        "-F",
    ]
    for needle in needles:
        argv += ["-e", needle]
    argv.append("--")
    result = proc.run(argv, cwd=root, check=False)
    if result.returncode not in (0, 1):  # 1: nothing matched
        raise CommandError(result.argv, result.returncode, result.stdout, result.stderr)
    out = result.stdout
    pos, end = 0, len(out)
    while pos < end:
        path_end = out.find("\0", pos)
        line_end = out.find("\0", path_end + 1)
        if path_end < 0 or line_end < 0:
            break
        text_end = out.find("\n", line_end + 1)
        if text_end < 0:
            text_end = end
        path, number = out[pos:path_end], out[path_end + 1 : line_end]
        yield path, int(number), out[line_end + 1 : text_end]
        pos = text_end + 1


def _scan(
    path: str, line: int, content: str, forms: Sequence[_Form], allowed: Sequence[re.Pattern[str]]
) -> Iterator[_Hit]:
    for form in forms:
        for m in form.pattern.finditer(content):
            if _is_allowed(content, m.start("ref"), m.end("ref"), allowed):
                continue
            text = m.group("ref")
            fix = _replace(text, form.old, form.new)
            yield _Hit(path, line, form.kind, text, fix)


def _is_allowed(content: str, start: int, end: int, allowed: Sequence[re.Pattern[str]]) -> bool:
    """Whether an allow-listed text occurs on the line covering the match [start, end)."""
    return any(
        m.start() <= start and end <= m.end() for text in allowed for m in text.finditer(content)
    )


def _replace(text: str, old: str, new: str) -> str:
    at = text.casefold().find(old.casefold())
    return text if at < 0 else text[:at] + new + text[at + len(old) :]


def _severity(path: str, kind: Kind) -> Literal["error", "warning"]:
    p = PurePosixPath(path)
    if p.parts and p.parts[0] == ".github":
        return "error"
    is_doc = p.suffix.lower() in _DOC_SUFFIXES or (len(p.parts) > 1 and p.parts[0] in _DOC_DIRS)
    if kind in ("ghcr", "action") and not is_doc:
        return "error"
    return "warning"


def _unique(items: Iterator[str] | Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
