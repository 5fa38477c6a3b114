"""The one module that talks to git.

Reads go through a few batched `git` processes (the read path must stay near raw git's speed,
DESIGN §13); writes go through GitPython, imported on first use so status never pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcflow import proc
from rcflow.errors import CommandError, ConflictError, EffectError, UsageError

if TYPE_CHECKING:
    import git as gitpython

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

# Records in git's own output formats are split on control characters no text field can hold.
_RS = "\x1e"
_US = "\x1f"


@dataclass(frozen=True)
class RefFact:
    name: str  # full ref name: refs/tags/v1.4.0
    sha: str  # the object the ref points at (a tag object for annotated tags)
    commit: str  # the commit it peels to


@dataclass(frozen=True)
class StatusFact:
    head: str | None  # None on an unborn branch
    branch: str | None  # None when detached
    dirty: tuple[str, ...]  # tracked paths with staged or unstaged changes


@dataclass(frozen=True)
class RemoteFacts:
    reachable: bool
    error: str | None
    default_branch: str | None
    refs: Mapping[str, str]  # ref name -> peeled commit (tags) or object sha


@dataclass(frozen=True)
class LogEntry:
    sha: str
    subject: str
    body: str


def _git_env() -> dict[str, str]:
    # Stable, parseable output whatever the user's locale and pager settings.
    return {"LC_ALL": "C", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}


class Git:
    """A repository, read through `git` and written through GitPython."""

    def __init__(self, root: Path, git_dir: Path) -> None:
        self.root = root
        self.git_dir = git_dir

    # -- reads -----------------------------------------------------------------------------

    def _run(self, *args: str, check: bool = True, input: str | None = None) -> proc.Result:
        return proc.run(("git", *args), cwd=self.root, env=_git_env(), check=check, input=input)

    @staticmethod
    def discover(path: Path) -> tuple[Path, Path]:
        """(work tree root, absolute git dir) for the repository containing path."""
        result = proc.run(
            ("git", "rev-parse", "--show-toplevel", "--absolute-git-dir"),
            cwd=path,
            env=_git_env(),
            check=False,
        )
        if not result.ok:
            raise UsageError(f"{path}: not inside a git work tree")
        top, git_dir = result.stdout.splitlines()[:2]
        return Path(top), Path(git_dir)

    _STATUS = ("git", "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=no")
    _REFS = ("git", "for-each-ref", "--format=%(refname)%09%(objectname)%09%(*objectname)")

    def status(self) -> StatusFact:
        return _parse_status(self._run(*self._STATUS[1:]).stdout)

    def first_look(
        self, remote: str, ref_patterns: Sequence[str], paths: Sequence[str], *, identity: bool
    ) -> tuple[StatusFact, list[RefFact], RemoteFacts, dict[str, str | None], str | None]:
        """The read path's independent facts, gathered by git processes running side by side."""
        calls = [
            proc.Call(self._STATUS),
            proc.Call((*self._REFS, *ref_patterns)),
            proc.Call(("git", "ls-remote", "--symref", remote)),
        ]
        if paths:
            calls.append(
                proc.Call(("git", "cat-file", "--batch"), "".join(f"HEAD:{p}\n" for p in paths))
            )
        if identity:
            calls.append(proc.Call(("git", "var", "GIT_COMMITTER_IDENT")))
        results = proc.run_parallel(calls, cwd=self.root, env=_git_env())
        for r in results[:2]:
            if not r.ok:
                raise CommandError(r.argv, r.returncode, r.stdout, r.stderr)
        status = _parse_status(results[0].stdout)
        refs = _parse_refs(results[1].stdout)
        remote_facts = _parse_remote(results[2])
        files: dict[str, str | None] = dict.fromkeys(paths)
        if paths and status.head and results[3].ok:
            files = _parse_batch(results[3].stdout, paths)
        ident = _parse_identity(results[-1]) if identity else None
        return status, refs, remote_facts, files, ident

    def refs(self, *patterns: str) -> list[RefFact]:
        return _parse_refs(self._run(*self._REFS[1:], *patterns).stdout)

    def remote(self, remote: str) -> RemoteFacts:
        """Every ref on the remote, peeled, and its default branch: one `ls-remote`."""
        return _parse_remote(self._run("ls-remote", "--symref", remote, check=False))

    def has_objects(self, shas: Iterable[str]) -> set[str]:
        wanted = [s for s in shas if s]
        if not wanted:
            return set()
        out = self._run(
            "cat-file", "--batch-check=%(objectname) %(objecttype)", input="\n".join(wanted) + "\n"
        ).stdout
        return {line.split(" ")[0] for line in out.splitlines() if not line.endswith(" missing")}

    def fetch_objects(self, remote: str, refs: Sequence[str]) -> None:
        """Fetch the objects behind remote refs; no local ref is written, not even FETCH_HEAD."""
        if refs:
            self._run(
                "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--refmap=", remote, *refs
            )

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self._run("merge-base", "--is-ancestor", ancestor, descendant, check=False).ok

    def log(
        self, rev_range: str, *, max_count: int | None = None, reverse: bool = False
    ) -> list[LogEntry]:
        # %B and a split at the first newline: %s would join a first paragraph's lines, and a
        # conventional header is the first line only (`feat(parser` + newline + `): x` is none).
        args = ["log", f"--format=%H{_US}%B{_RS}"]
        if reverse:
            args.append("--reverse")
        if max_count is not None:
            args.append(f"--max-count={max_count}")
        out = self._run(*args, rev_range, "--").stdout
        entries = []
        for record in out.split(_RS):
            record = record.strip("\n")
            if not record:
                continue
            sha, message = record.split(_US, 1)
            subject, _, body = message.strip().partition("\n")
            entries.append(LogEntry(sha, subject.strip(), body.strip()))
        return entries

    def head(self) -> tuple[str, tuple[str, ...], str] | None:
        """(sha, parents, subject) of HEAD, or None on an unborn branch."""
        result = self._run("log", "-1", f"--format=%H{_US}%P{_US}%s", "HEAD", check=False)
        if not result.ok or not result.stdout.strip():
            return None
        sha, parents, subject = result.stdout.rstrip("\n").split(_US, 2)
        return sha, tuple(parents.split()), subject

    def resolve(self, rev: str) -> str | None:
        result = self._run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        return result.stdout.strip() or None if result.ok else None

    def remote_ref(self, remote: str, ref: str) -> str | None:
        """Where one ref points on the remote (peeled for tags), or None when it is absent."""
        out = self._run("ls-remote", remote, ref, f"{ref}^{{}}").stdout
        found: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            found[name] = sha
        return found.get(f"{ref}^{{}}") or found.get(ref)

    def config_value(self, key: str) -> str | None:
        result = self._run("config", "--get", key, check=False)
        return result.stdout.strip() or None if result.ok else None

    def identity(self) -> str | None:
        """`Name <email>` git would commit with, or None when git has no identity."""
        return _parse_identity(self._run("var", "GIT_COMMITTER_IDENT", check=False))

    def changed_lines(self, old: str, new: str) -> list[tuple[str, str, str]]:
        """(path, removed, added) line triples of a zero-context diff; ('', '', '') if binary."""
        out = self._run("diff", "--unified=0", "--no-color", "--no-ext-diff", old, new).stdout
        path = ""
        removed: list[str] = []
        added: list[str] = []
        triples: list[tuple[str, str, str]] = []

        def flush() -> None:
            for i in range(max(len(removed), len(added))):
                triples.append(
                    (
                        path,
                        removed[i] if i < len(removed) else "",
                        added[i] if i < len(added) else "",
                    )
                )
            removed.clear()
            added.clear()

        for line in out.splitlines():
            if line.startswith("diff --git"):
                flush()
            elif line.startswith("+++ "):
                path = line[6:] if line.startswith("+++ b/") else path
            elif line.startswith("--- "):
                path = line[6:] if line.startswith("--- a/") else path
            elif line.startswith("@@"):
                flush()
            elif line.startswith("Binary files"):
                triples.append((path, "", ""))
            elif line.startswith("-"):
                removed.append(line[1:])
            elif line.startswith("+"):
                added.append(line[1:])
        flush()
        return triples

    # -- writes ----------------------------------------------------------------------------

    @cached_property
    def _repo(self) -> gitpython.Repo:
        import git as gitpython

        return gitpython.Repo(self.root)

    def _write(self, *args: str, **kwargs: Any) -> str:
        import git as gitpython

        command = args[0].replace("-", "_")
        try:
            return str(getattr(self._repo.git, command)(*args[1:], env=_git_env(), **kwargs))
        except gitpython.GitCommandError as exc:
            stderr = str(exc.stderr or "").strip().removeprefix("stderr:").strip(" '\n")
            raise EffectError(f"git {args[0]} failed: {_last_line(stderr) or exc.status}") from exc

    def write_files(self, contents: Mapping[str, str]) -> None:
        """Write every file or none: each goes to a temp file first, then all are renamed."""
        staged: list[tuple[Path, Path]] = []
        try:
            for rel, text in contents.items():
                target = self.root / rel
                tmp = target.with_name(f".{target.name}.rcflow-tmp")
                # newline="" keeps the line endings the updater preserved.
                with tmp.open("w", encoding="utf-8", newline="") as fh:
                    fh.write(text)
                if target.exists():
                    os.chmod(tmp, target.stat().st_mode)
                staged.append((tmp, target))
            for tmp, target in staged:
                tmp.replace(target)
        finally:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)

    def commit(self, paths: Sequence[str], message: str) -> str:
        # -f: a configured version file may sit under an ignored directory (dist/chart/); only
        # these exact paths are added, so -f cannot pick up anything else.
        self._write("add", "-f", "--", *paths)
        self._write("commit", "--quiet", "--no-verify", "-m", message, "--", *paths)
        return self._write("rev-parse", "HEAD").strip()

    def create_tag(self, name: str, sha: str, message: str) -> None:
        self._write("tag", "--annotate", "--no-sign", "-m", message, name, sha)

    def delete_tag(self, name: str) -> None:
        self._write("tag", "--delete", name)

    def push(self, remote: str, refspecs: Sequence[str]) -> None:
        """Push atomically; a rejection (non-fast-forward, remote ref changed) is a conflict."""
        import git as gitpython

        try:
            self._repo.git.push(
                "--porcelain", "--atomic", "--no-verify", remote, *refspecs, env=_git_env()
            )
        except gitpython.GitCommandError as exc:
            text = f"{exc.stdout or ''}\n{exc.stderr or ''}"
            # "cannot lock ref": another push updated the ref while this one was being received
            # (the compare-and-swap lost on the remote's side, reported as "[remote rejected]").
            lost = ("[rejected]", "! ", "stale info", "cannot lock ref")
            if any(sign in text for sign in lost):
                raise ConflictError(
                    f"{remote} rejected {' '.join(refspecs)}: the remote changed since rcflow "
                    "looked"
                ) from exc
            raise EffectError(
                f"push to {remote} failed: {_last_line(str(exc.stderr or '')) or exc.status}"
            ) from exc

    def commit_tree(self, message: str, parent: str | None) -> str:
        args = ["commit-tree", EMPTY_TREE, "-m", message]
        if parent:
            args += ["-p", parent]
        return self._write(*args).strip()

    def update_ref(self, ref: str, new: str) -> None:
        self._write("update-ref", ref, new)

    def revert(self, sha: str, message: str) -> str:
        self._write("revert", "--no-edit", "--no-commit", sha)
        self._write("commit", "--quiet", "--no-verify", "-m", message)
        return self._write("rev-parse", "HEAD").strip()

    def reset_keep(self, sha: str) -> None:
        self._write("reset", "--keep", sha)

    def worktree_add(self, path: Path, sha: str) -> None:
        self._write("worktree", "add", "--detach", "--force", str(path), sha)

    def worktree_remove(self, path: Path) -> None:
        self._write("worktree", "remove", "--force", str(path))
        self._write("worktree", "prune")

    def restore_paths(self, paths: Sequence[str]) -> None:
        """Put paths back as HEAD has them, in the index and the work tree (a file HEAD does not
        have is removed): undoes a write whose commit failed. The blobs are read, not checked
        out, so this works while the index is locked by the very problem that failed the commit.
        """
        self._run("reset", "--quiet", "--", *paths, check=False)
        restored: dict[str, str] = {}
        for path in paths:
            if self._run("checkout", "HEAD", "--", path, check=False).ok:
                continue
            blob = self._run("cat-file", "blob", f"HEAD:{path}", check=False)
            if blob.ok:
                restored[path] = blob.stdout
            else:
                (self.root / path).unlink(missing_ok=True)
        if restored:
            self.write_files(restored)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def clone_mirror(source: str, dest: Path) -> None:
    proc.run(("git", "clone", "--quiet", "--mirror", source, str(dest)), env=_git_env())


def clone(source: str, dest: Path, branch: str | None = None) -> None:
    args = ["git", "clone", "--quiet"]
    if branch:
        args += ["--branch", branch]
    proc.run((*args, source, str(dest)), env=_git_env())


def run_git(cwd: Path, *args: str) -> str:
    """Plain git for the rehearsal sandbox set-up (init, config, add, commit)."""
    try:
        return proc.run(("git", *args), cwd=cwd, env=_git_env()).stdout
    except CommandError as exc:
        raise EffectError(exc.message) from exc


# -- parsers for the read path's output ------------------------------------------------------


def _parse_status(out: str) -> StatusFact:
    head: str | None = None
    branch: str | None = None
    dirty: list[str] = []
    entries = iter(out.split("\0"))
    for entry in entries:
        if entry.startswith("# branch.oid "):
            oid = entry.split(" ", 2)[2]
            head = None if oid == "(initial)" else oid
        elif entry.startswith("# branch.head "):
            name = entry.split(" ", 2)[2]
            branch = None if name == "(detached)" else name
        elif entry.startswith("1 "):
            dirty.append(entry.split(" ", 8)[8])
        elif entry.startswith("2 "):
            dirty.append(entry.split(" ", 9)[9])
            next(entries, None)  # the rename's original path
        elif entry.startswith("u "):
            dirty.append(entry.split(" ", 10)[10])
    return StatusFact(head, branch, tuple(dirty))


def _parse_refs(out: str) -> list[RefFact]:
    facts = []
    for line in out.splitlines():
        name, sha, peeled = line.split("\t")
        facts.append(RefFact(name, sha, peeled or sha))
    return facts


def _parse_remote(result: proc.Result) -> RemoteFacts:
    if not result.ok:
        lines = result.stderr.strip().splitlines()
        return RemoteFacts(False, lines[-1] if lines else "unreachable", None, {})
    refs: dict[str, str] = {}
    default = None
    for line in result.stdout.splitlines():
        left, _, name = line.partition("\t")
        if left.startswith("ref: "):
            if name == "HEAD":
                default = left[5:].removeprefix("refs/heads/")
            continue
        if name.endswith("^{}"):
            refs[name[:-3]] = left  # the peeled commit wins over the tag object
        else:
            refs.setdefault(name, left)
    return RemoteFacts(True, None, default, refs)


def _parse_batch(raw: str, paths: Sequence[str]) -> dict[str, str | None]:
    # Sizes in headers count bytes; work on bytes so non-ASCII content slices correctly.
    data = raw.encode("utf-8")
    result: dict[str, str | None] = {}
    pos = 0
    for path in paths:
        end = data.index(b"\n", pos)
        header = data[pos:end].decode()
        pos = end + 1
        if header.endswith((" missing", " ambiguous")):
            result[path] = None
            continue
        size = int(header.rsplit(" ", 1)[1])
        result[path] = data[pos : pos + size].decode("utf-8", errors="replace")
        pos += size + 1
    return result


def _parse_identity(result: proc.Result) -> str | None:
    if not result.ok:
        return None
    ident = result.stdout.strip()
    return ident.rsplit(">", 1)[0] + ">" if ">" in ident else None
