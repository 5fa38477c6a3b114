"""The workflow checks' findings, remembered per clone: a memo, never the truth (issue 14).

Parsing a repository's workflows (PyYAML, then every rule) is most of `rcflow doctor`'s time,
and the workflows rarely change between two runs. The findings are a function of what the
checks read — the workflow files, the small files their steps run (`read_small`), the
arguments, the checks' own code and PyYAML — so an entry keeps all of that, verbatim, and is
used only when every piece reads the same again; anything else (no entry, an unreadable, a
foreign or an outdated one) runs the checks and writes the entry anew. actionlint's verdict
also depends on its own configuration and on the linters it finds on PATH, which no entry can
vouch for: where there is an actionlint, the checks always run.

Light on purpose: `doctor` imports this module, not `workflows`, until the checks must run.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import rcflow
from rcflow.model.findings import Finding

WORKFLOW_DIR = ".github/workflows"

_SCHEMA = 1
_ENTRY = ("rcflow", "cache", "workflows.json")  # under the clone's git directory

# While the checks run for a memo: every `read_small` answer, by path (None: not recording).
_reads: dict[str, str | None] | None = None


def workflow_files(root: Path) -> list[Path]:
    directory = root / WORKFLOW_DIR
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())


def find_actionlint(root: Path) -> Path | None:
    """`<root>/.tools/bin/actionlint` (tools/install-ci-linters.sh), else `actionlint` on PATH."""
    local = root / ".tools" / "bin" / "actionlint"
    if local.is_file():
        return local
    found = _which("actionlint")
    return Path(found) if found else None


def _which(name: str) -> str | None:
    """`shutil.which(name)` for a bare command name, without importing `shutil`: it loads the
    archive codecs (bz2, lzma), more than a doctor's own scan costs (issue 14, item 5)."""
    if sys.platform == "win32":  # PATHEXT and the current directory: shutil's own rules
        import shutil

        return shutil.which(name)
    path = os.environ.get("PATH")
    if path is None:
        try:
            path = os.confstr("CS_PATH")
        except (AttributeError, ValueError):
            path = os.defpath
    seen = set()
    for directory in path.split(os.pathsep) if path else ():
        if directory in seen:
            continue
        seen.add(directory)
        candidate = os.path.join(directory, name)
        if (
            os.path.exists(candidate)
            and os.access(candidate, os.F_OK | os.X_OK)
            and not os.path.isdir(candidate)
        ):
            return candidate
    return None


def read_small(repo: Path | None, rel: str) -> str | None:
    """A file of the repository a workflow step runs, if it is there and under 1 MB."""
    if repo is None or ".." in rel.split("/") or rel.startswith("/"):
        return None
    text = _read_small(repo / rel)
    if _reads is not None:
        _reads[rel] = text
    return text


def _read_small(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > 1_000_000:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def findings(
    git_dir: Path,
    root: Path,
    args: Mapping[str, Any],
    check: Callable[[], list[Finding]],
) -> list[Finding]:
    """`check()`'s findings (the workflow checks run with `args`), from the memo when every
    input it read is unchanged; `args` must be JSON values (lists, not tuples)."""
    global _reads
    if find_actionlint(root) is not None:
        return check()
    files = _workflow_texts(root)
    if files is None:  # a file that is not UTF-8: its parse finding is not worth keeping
        return check()
    key = {"schema": _SCHEMA, "code": _code(), "args": dict(args), "files": files}
    entry_path = git_dir.joinpath(*_ENTRY)
    kept = _kept(entry_path, key, root)
    if kept is not None:
        return kept
    _reads = {}
    try:
        found = check()
        reads = _reads
    finally:
        _reads = None
    _write(entry_path, {**key, "reads": reads, "findings": [_dump(f) for f in found]})
    return found


def _workflow_texts(root: Path) -> dict[str, str] | None:
    texts = {}
    for path in workflow_files(root):
        try:
            texts[path.relative_to(root).as_posix()] = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    return texts


def _code() -> list[Any]:
    """What says the checks' code is the same: rcflow's version, and the size and time of the
    source files the findings come from (as Python's own bytecode cache checks them)."""
    from importlib.machinery import PathFinder

    here = Path(__file__).parent
    sources = [here / "workflows.py", here / "workflow_memo.py", here.parent / "model/findings.py"]
    spec = PathFinder.find_spec("yaml")
    if spec is not None and spec.origin:
        sources.append(Path(spec.origin))
    stamps: list[Any] = [rcflow.__version__, sys.version]
    for source in sources:
        try:
            st = source.stat()
            stamps.append([str(source), st.st_size, st.st_mtime_ns])
        except OSError:
            stamps.append([str(source), None, None])
    return stamps


def _kept(entry_path: Path, key: Mapping[str, Any], root: Path) -> list[Finding] | None:
    try:
        entry = json.loads(entry_path.read_text(encoding="utf-8"))
        if not isinstance(entry, dict) or any(entry.get(k) != v for k, v in key.items()):
            return None
        reads = entry["reads"]
        if any(_read_small(root / rel) != text for rel, text in reads.items()):
            return None
        return [_load(f) for f in entry["findings"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no entry, or not one this code wrote: the checks run


def _write(entry_path: Path, entry: Mapping[str, Any]) -> None:
    """Replace the entry whole (a reader never sees half of one); a clone that cannot be
    written to (read-only, full) just keeps no memo."""
    scratch = entry_path.with_name(f"{entry_path.name}.{os.getpid()}.tmp")
    try:
        entry_path.parent.mkdir(parents=True, exist_ok=True)
        scratch.write_text(json.dumps(entry), encoding="utf-8")
        os.replace(scratch, entry_path)
    except OSError:
        with contextlib.suppress(OSError):
            scratch.unlink(missing_ok=True)


def _dump(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "severity": f.severity,
        "message": f.message,
        "fix": f.fix,
        "where": f.where,
        "steps": None if f.steps is None else sorted(f.steps),
    }


def _load(d: Mapping[str, Any]) -> Finding:
    if d["severity"] not in ("error", "warning"):
        raise ValueError(d["severity"])
    steps = d["steps"]
    return Finding(
        str(d["id"]),
        d["severity"],
        str(d["message"]),
        str(d["fix"]),
        None if d["where"] is None else str(d["where"]),
        None if steps is None else frozenset(str(s) for s in steps),
    )
