"""The one module that talks to git.

Reads go through a few batched `git` processes (the read path must stay near raw git's speed,
DESIGN §13); writes, pushes included, through one `git` process each. GitPython is imported on
first use only for a revert's plumbing and for streaming blobs (assets).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from rcflow.errors import (
    CommandError,
    ConflictError,
    EffectError,
    RcflowError,
    UsageError,
    command_cause,
)
from rcflow.ports import proc
from rcflow.ports.git import LogEntry, RefFact, RemoteFacts, StatusFact

if TYPE_CHECKING:
    import git as gitpython

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

# git's worktree bookkeeping (.git/worktrees) is not safe against concurrent changes: measured on
# git 2.39, twelve `worktree add` at once fail one round in three ("failed to read
# .git/worktrees/t9/commondir": each add reads every entry, another's half written). Adding the
# entry (`add --no-checkout`), removing it and pruning hold this lock; checkouts and deleting
# files do not (360 adds and removes raced that way without a failure).
_WORKTREE_ADMIN = threading.Lock()


def _git_env() -> dict[str, str]:
    # Stable, parseable output whatever the user's locale and pager settings.
    return {"LC_ALL": "C", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}


class Git:
    """A repository, read and written through `git` processes."""

    def __init__(self, root: Path, git_dir: Path) -> None:
        self.root = root
        self.git_dir = git_dir

    # -- reads -----------------------------------------------------------------------------

    def _run(self, *args: str, check: bool = True, input: str | None = None) -> proc.Result:
        return proc.run(("git", *args), cwd=self.root, env=_git_env(), check=check, input=input)

    @staticmethod
    def discover(path: Path) -> tuple[Path, Path]:
        """(work tree root, absolute git dir) for the repository containing path."""
        return discover_soon(path)()

    _STATUS = ("git", "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=no")
    _REFS = ("git", "for-each-ref", "--format=%(refname)%09%(objectname)%09%(*objectname)")
    # Every ref and what each annotated tag peels to, which git takes from packed-refs' peeled
    # lines: for-each-ref's %(*objectname) opens every tag object (15 ms for 2,000 tags).
    _PEELED_REFS = ("git", "show-ref", "--dereference")

    def status(self) -> StatusFact:
        return _parse_status(self._run(*self._STATUS[1:]).stdout)

    def first_look(
        self, remote: str, ref_patterns: Sequence[str], paths: Sequence[str], *, identity: bool
    ) -> tuple[StatusFact, list[RefFact], RemoteFacts, dict[str, str | None], str | None]:
        """The read path's independent facts, gathered by git processes running side by side."""
        calls = [
            proc.Call(self._STATUS),
            proc.Call(self._PEELED_REFS),
            proc.Call(("git", "ls-remote", "--symref", remote)),
        ]
        if paths:
            calls.append(
                proc.Call(("git", "cat-file", "--batch"), "".join(f"HEAD:{p}\n" for p in paths))
            )
        if identity:
            calls.append(proc.Call(("git", "var", "GIT_COMMITTER_IDENT")))
        results = proc.run_parallel(calls, cwd=self.root, env=_git_env())
        # `show-ref` exits 1, saying nothing, where no ref exists at all (a new repository).
        no_refs = results[1].returncode == 1 and not results[1].stdout and not results[1].stderr
        for r in results[: 1 if no_refs else 2]:
            if not r.ok:
                raise CommandError(r.argv, r.returncode, r.stdout, r.stderr)
        status = _parse_status(results[0].stdout)
        refs = _parse_peeled_refs(results[1].stdout, ref_patterns)
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
        # NUL-framed (-z, %x00): git refuses a NUL in a commit message, so no message byte can
        # split a record or a field (a 0x1e in a commit body once broke every step). The whole
        # message (%B) is split at its first newline: %s would join a first paragraph's lines,
        # and a conventional header is the first line only (`feat(parser` + newline + `): x`).
        args = ["log", "-z", "--format=%H%x00%B"]
        if reverse:
            args.append("--reverse")
        if max_count is not None:
            args.append(f"--max-count={max_count}")
        return _parse_log(self._run(*args, rev_range, "--").stdout)

    def head(self) -> tuple[str, tuple[str, ...], str] | None:
        """(sha, parents, subject) of HEAD, or None on an unborn branch."""
        result = self._run("log", "-1", "-z", "--format=%H%x00%P%x00%s", "HEAD", check=False)
        fields = result.stdout.split("\0")
        if not result.ok or len(fields) < 3 or not _is_sha(fields[0]):
            return None
        sha, parents, subject = fields[:3]
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

    def _write(self, *args: str) -> str:
        """A git command that changes something; EffectError (git's cause) when it fails.

        A plain `git` process like the reads: GitPython costs a step ~0.1 s to import and two
        `git version` processes, for what one argv does (it stays for a revert's plumbing and
        for streaming asset blobs).
        """
        result = self._run(*args, check=False)
        if not result.ok:
            cause = command_cause(result.stderr) or f"exit status {result.returncode}"
            raise EffectError(f"git {args[0]} failed: {cause}")
        return result.stdout.removesuffix("\n")

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
        """Push atomically; a rejection (non-fast-forward, remote ref changed) is a conflict.

        A refusal (a hook, a protected ref) names each refused ref, why, and what the remote
        said; a ref lock that stays on the remote is named as a stale lock, with its path.
        """
        for attempt in range(_LOCK_TRIES):
            result = self._run(
                "push", "--porcelain", "--atomic", "--no-verify", remote, *refspecs, check=False
            )
            if result.ok:
                return
            if _REF_LOCKED in result.stderr and attempt + 1 < _LOCK_TRIES:
                # Another push holds the ref's lock for a moment; a lock that stays is stale.
                time.sleep(_LOCK_WAIT)
                continue
            raise _push_error(remote, refspecs, result.stdout, result.stderr, result.returncode)

    def commit_tree(self, message: str, parent: str | None) -> str:
        args = ["commit-tree", EMPTY_TREE, "-m", message]
        if parent:
            args += ["-p", parent]
        return self._write(*args).strip()

    def update_ref(self, ref: str, new: str) -> None:
        self._write("update-ref", ref, new)

    def reset_keep(self, sha: str) -> None:
        self._write("reset", "--keep", sha)

    def worktree_add(self, path: Path, sha: str) -> None:
        # Safe from several threads at once: only git's bookkeeping is serialised (see
        # _WORKTREE_ADMIN); the checkout, the slow part, runs side by side.
        with _WORKTREE_ADMIN:
            self._write("worktree", "add", "--detach", "--force", "--no-checkout", str(path), sha)
        try:
            proc.run(("git", "reset", "--hard", "--quiet"), cwd=path, env=_git_env())
        except CommandError as exc:
            raise EffectError(f"checking out {sha[:7]} in {path}: {exc.message}") from exc

    def worktree_remove(self, path: Path) -> None:
        import shutil  # here: it loads the archive codecs (bz2, lzma), which status never needs

        # The files go first, side by side with other removals; then git forgets the worktree.
        shutil.rmtree(path, ignore_errors=True)
        with _WORKTREE_ADMIN:
            # Twice --force: a run killed inside `worktree add` leaves the new worktree locked
            # ("initializing"), and one --force refuses a locked worktree on every re-run.
            self._write("worktree", "remove", "--force", "--force", str(path))
            self._write("worktree", "prune")

    def read_blobs(self, specs: Sequence[str]) -> dict[str, str | None]:
        """Files at commits (`<sha>:<path>` each) in one `cat-file --batch`; None: absent."""
        if not specs:
            return {}
        result = self._run("cat-file", "--batch", input="".join(f"{s}\n" for s in specs))
        return _parse_batch(result.stdout, specs)

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

    def reset_mixed(self, sha: str) -> None:
        """Move the branch and the index to sha, keeping the work tree (and ending a revert)."""
        self._write("reset", "--quiet", "--mixed", sha)

    def texts_at(self, rev: str, paths: Sequence[str]) -> dict[str, str | None]:
        """The text of each path in commit rev (None: not there), by path."""
        texts = self.read_blobs([f"{rev}:{p}" for p in paths])
        return {p: texts[f"{rev}:{p}"] for p in paths}

    def revert_commit(self, sha: str, message: str) -> str:
        """A commit on HEAD that reverts sha, built with plumbing in a scratch index.

        The work tree, the index and the branch are untouched (the caller moves the branch in
        one step), so a crash leaves either nothing or, once the branch moved, the whole revert.
        """
        import git as gitpython

        scratch = self.git_dir / "rcflow" / "revert"
        scratch.mkdir(parents=True, exist_ok=True)
        index, patch = scratch / "index", scratch / "patch"
        env = {**_git_env(), "GIT_INDEX_FILE": str(index)}
        run = self._repo.git
        try:
            diff = run.diff("--binary", "--no-color", "--no-ext-diff", sha, f"{sha}^", env=env)
            patch.write_text(f"{diff}\n", encoding="utf-8")
            run.read_tree("HEAD", env=env)
            # Three-way, as `git revert` merges: later edits beside the version lines still apply.
            run.apply("--cached", "--3way", str(patch), env=env)
            tree = str(run.write_tree(env=env)).strip()
            head = str(run.rev_parse("HEAD", env=env)).strip()
            return str(run.commit_tree(tree, "-p", head, "-m", message, env=env)).strip()
        except gitpython.GitCommandError as exc:
            cause = command_cause(_unwrap(exc.stderr)) or exc.status
            raise EffectError(
                f"git could not revert {sha[:7]}: {cause}; nothing was changed here",
                hint=f"revert {sha[:7]} by hand (`git revert {sha[:7]}`), push it, then re-run",
            ) from exc
        finally:
            index.unlink(missing_ok=True)
            patch.unlink(missing_ok=True)

    def commit_tree_files(self, message: str, parent: str | None, files: Mapping[str, str]) -> str:
        """A commit of a tree holding exactly files (name -> text) on parent, on no ref: the
        ledger's checkpoint rides in its event's commit (`model.ledger.CHECKPOINT_FILE`)."""
        try:
            entries = []
            for name, text in sorted(files.items()):
                blob = self._run("hash-object", "-w", "--stdin", input=text).stdout.strip()
                entries.append(f"100644 blob {blob}\t{name}\n")
            tree = self._run("mktree", input="".join(entries)).stdout.strip()
        except CommandError as exc:
            raise EffectError(exc.message) from exc
        args = ["commit-tree", tree, "-m", message]
        if parent:
            args += ["-p", parent]
        return self._write(*args).strip()

    def log_stream(self, rev: str, *, reverse: bool = False) -> Iterator[LogEntry]:
        """`log` as `log(rev)` reads it, one entry at a time as git walks (closing the iterator
        stops git): the first page of a 70,000-commit ledger costs a page."""
        argv = ["git", "log", "-z", "--format=%H%x00%B", *(["--reverse"] if reverse else [])]
        fields = proc.stream([*argv, rev, "--"], cwd=self.root, env=_git_env())
        for sha in fields:
            message = next(fields, "")
            yield _parse_log(f"{sha}\0{message}\0")[0]


def _unwrap(text: object) -> str:
    """A command's output as GitPython's error carries it ("\\n  stderr: '<text>'")."""
    raw = str(text or "").strip()
    for label in ("stderr:", "stdout:"):
        if raw.startswith(label):
            raw = raw.removeprefix(label).strip()
            if len(raw) >= 2 and raw[0] == raw[-1] == "'":
                raw = raw[1:-1]
            break
    return raw


_REF_LOCKED = "': File exists"  # git's "Unable to create '….lock': File exists."
_LOCK_TRIES = 3
_LOCK_WAIT = 1.0  # seconds between tries
# Why a ref was rejected when another run changed it first (the compare-and-swap lost).
_LOST = ("non-fast-forward", "fetch first", "stale info", "already exists", "but expected")
# The reason git gives the other refs of an atomic push that failed for one of them.
_ATOMIC = ("atomic push failure", "atomic push failed", "atomic transaction failed")


def _push_error(
    remote: str, refspecs: Sequence[str], stdout: str, stderr: str, status: object
) -> RcflowError:
    rejected: list[tuple[str, str]] = []  # (ref, reason) from `--porcelain`'s "!" lines
    for line in stdout.splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and fields[0] == "!":
            summary = fields[2]
            reason = summary[summary.find("(") + 1 : summary.rfind(")")] if "(" in summary else ""
            rejected.append((fields[1].rsplit(":", 1)[-1], reason or summary))
    lock = re.search(r"Unable to create '([^']+\.lock)': File exists", stderr)
    if lock is not None:
        paths = _stale_locks(os.path.normpath(lock.group(1)), refspecs)
        shown = ", ".join(paths)
        many = len(paths) > 1
        return EffectError(
            f"{'stale locks' if many else 'a stale lock'} on {remote}: {shown} "
            f"{'exist' if many else 'exists'} (a push to {'them' if many else 'it'} was killed?): "
            "nothing was pushed",
            hint=f"if no push to {remote} is running, delete {shown} there, then re-run",
        )
    causes = [(ref, why) for ref, why in rejected if why not in _ATOMIC] or rejected
    if (
        any(sign in why for _, why in causes for sign in _LOST)
        or any("cannot lock ref" in why for _, why in causes)
        or "but expected" in stderr
    ):
        shown = ", ".join(f"{ref} ({why})" for ref, why in causes)
        return ConflictError(f"{remote} rejected {shown}: the remote changed since rcflow looked")
    said = [
        line.strip()[len("remote:") :].strip()
        for line in stderr.splitlines()
        if line.strip().startswith("remote:") and line.strip()[len("remote:") :].strip()
    ]
    told = f": {' / '.join(dict.fromkeys(said))}" if said else ""
    if causes:
        shown = ", ".join(f"{ref} ({why})" for ref, why in causes)
        return EffectError(f"{remote} refused {shown}{told}")
    cause = command_cause(stderr) or f"exit status {status}"
    return EffectError(f"push of {' '.join(refspecs)} to {remote} failed: {cause}")


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


def _parse_peeled_refs(out: str, patterns: Sequence[str]) -> list[RefFact]:
    """`show-ref --dereference`'s refs under patterns, as for-each-ref matches them (the whole
    name, or a prefix up to a slash; no pattern: every ref), in its order. A tag's `commit` is
    the commit it peels to through any number of tags, as `ls-remote` reports the remote's."""
    prefixes = tuple(f"{p.rstrip('/')}/" for p in patterns)
    names = set(patterns)
    shas: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, name = line.partition(" ")
        if name.endswith("^{}"):
            peeled[name[:-3]] = sha
        elif not patterns or name in names or name.startswith(prefixes):
            shas[name] = sha
    return [RefFact(name, sha, peeled.get(name, sha)) for name, sha in shas.items()]


def _parse_remote(result: proc.Result) -> RemoteFacts:
    if not result.ok:
        return RemoteFacts(False, command_cause(result.stderr) or "unreachable", None, {})
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


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def _parse_log(out: str) -> list[LogEntry]:
    """`git log -z --format=%H%x00%B`: sha and whole message, each ended by a NUL."""
    fields = out.split("\0")
    entries = []
    for i in range(0, len(fields) - 1, 2):
        sha, message = fields[i : i + 2]
        if not _is_sha(sha):
            raise EffectError(f"git log gave a record rcflow cannot read (at {sha[:40]!r})")
        # Not str.strip(): Python counts 0x1c-0x1f as whitespace, git does not.
        subject, _, body = message.strip(" \t\r\n").partition("\n")
        entries.append(LogEntry(sha, subject.strip(" \t\r"), body.strip(" \t\r\n")))
    return entries


# -- files kept on a ref of the remote (the local forge's store) -----------------------------


class TreeStore:
    """Files kept as commits on one ref of the remote, written with git's plumbing only.

    Each write is a commit on the tip it was read from, pushed as a fast-forward: git's own
    rule makes it a compare-and-swap, as for the ledger. Trees are built in a temporary index,
    never the user's index, work tree or HEAD; the local copy of the ref is only a cache.
    """

    def __init__(self, git: Git, remote: str, ref: str) -> None:
        self.git = git
        self.remote = remote
        self.ref = ref

    @property
    def git_dir(self) -> Path:
        return self.git.git_dir

    def remote_tip(self) -> str | None:
        """Where the ref is on the remote now (one `ls-remote`); None when it does not exist."""
        result = self.git._run("ls-remote", self.remote, self.ref, check=False)
        if not result.ok:
            raise EffectError(
                f"cannot read {self.ref} on {self.remote}: "
                f"{command_cause(result.stderr) or 'error'}"
            )
        for line in result.stdout.splitlines():
            sha, _, name = line.partition("\t")
            if name == self.ref:
                return sha
        return None

    def entries(self, commit: str) -> dict[str, tuple[str, int]]:
        """Every file of commit's tree: path -> (blob sha, size). Fetches it when missing here."""
        args = ("ls-tree", "-r", "-l", "-z", "--full-tree", commit)
        result = self.git._run(*args, check=False)
        if not result.ok:
            self.git.fetch_objects(self.remote, [self.ref])
            result = self.git._run(*args, check=False)
            if not result.ok:
                raise EffectError(
                    f"{self.ref} at {commit[:7]} cannot be read: "
                    f"{command_cause(result.stderr) or 'missing objects'}"
                )
        # One regex pass over the whole listing (10,000 records: a third of the split-per-line
        # loop's time); anchored at each record's start, so a path cannot pose as a record.
        return {path: (sha, int(size)) for sha, size, path in _TREE_BLOB.findall(result.stdout)}

    def texts(self, blobs: Sequence[str]) -> dict[str, str]:
        """The text of each blob (UTF-8), read by one `cat-file --batch`."""
        if not blobs:
            return {}
        out = self.git._run("cat-file", "--batch", input="".join(f"{b}\n" for b in blobs)).stdout
        parsed = _parse_batch(out, list(blobs))
        return {b: t for b, t in parsed.items() if t is not None}

    def blob_to_file(self, blob: str, dest: Path) -> str:
        """A blob's bytes into dest, streamed (assets may be large and are never text); their
        sha256, computed in the same pass."""
        import git as gitpython

        from rcflow.ports.forge import HashingWriter

        tmp = dest.with_name(f".{dest.name}.rcflow-tmp")
        try:
            with tmp.open("wb") as fh:
                out = HashingWriter(fh)
                self.git._repo.git.cat_file("blob", blob, output_stream=out, env=_git_env())
            tmp.replace(dest)
        except gitpython.GitCommandError as exc:
            raise EffectError(f"git cat-file failed: {command_cause(_unwrap(exc.stderr))}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return out.hexdigest()

    def blob_sha256(self, blob: str) -> str:
        """The sha256 of a blob's bytes, streamed through the hash and kept nowhere."""
        import git as gitpython

        from rcflow.ports.forge import hashing_sink

        out = hashing_sink()
        try:
            self.git._repo.git.cat_file("blob", blob, output_stream=out, env=_git_env())
        except gitpython.GitCommandError as exc:
            raise EffectError(f"git cat-file failed: {command_cause(_unwrap(exc.stderr))}") from exc
        return out.hexdigest()

    def store_files(self, paths: Sequence[Path]) -> list[str]:
        """Write each file into the object store as is (no filters): their blob shas, in order."""
        if not paths:
            return []
        # Stored as is (zlib level 0): release assets are archives compressed already, and
        # deflating them again costs a pass over every byte for nothing.
        args = ["-c", "core.loosecompression=0", "hash-object", "-w", "--no-filters", "--"]
        args += [str(p) for p in paths]
        return self.git._run(*args).stdout.split()

    def store_texts(self, texts: Sequence[str]) -> list[str]:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="rcflow-store-") as tmp:
            paths = []
            for i, text in enumerate(texts):
                path = Path(tmp) / str(i)
                path.write_bytes(text.encode("utf-8"))
                paths.append(path)
            return self.store_files(paths)

    def commit(self, parent: str | None, changes: Mapping[str, str | None], message: str) -> str:
        """A commit of parent's tree with changes (path -> blob sha, or None to remove)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="rcflow-index-") as tmp:
            env = {**_git_env(), "GIT_INDEX_FILE": str(Path(tmp) / "index")}

            def run(*args: str, input: str | None = None) -> str:
                return proc.run(("git", *args), cwd=self.git.root, env=env, input=input).stdout

            try:
                if parent:
                    run("read-tree", parent)
                info = "".join(
                    f"100644 {blob}\t{path}\0" if blob else f"0 {'0' * 40}\t{path}\0"
                    for path, blob in sorted(changes.items())
                )
                run("update-index", "-z", "--index-info", input=info)
                tree = run("write-tree").strip()
            except CommandError as exc:
                raise EffectError(exc.message) from exc
        args = ["commit-tree", tree, "-m", message]
        if parent:
            args += ["-p", parent]
        return self.git._write(*args).strip()

    def push(self, commit: str) -> None:
        """Fast-forward the remote's ref to commit; ConflictError when it moved meanwhile."""
        import contextlib

        self.git.push(self.remote, [f"{commit}:{self.ref}"])
        # Pushed: the local copy is only a cache of where the remote is (offline status).
        with contextlib.suppress(EffectError):
            self.git.update_ref(self.ref, commit)

    def top(self, commit: str) -> dict[str, str]:
        """The entries at the root of commit's tree: name -> object sha (files and folders).
        Fetches the commit when missing here."""
        args = ("ls-tree", "-z", "--full-tree", commit)
        result = self.git._run(*args, check=False)
        if not result.ok:
            self.git.fetch_objects(self.remote, [self.ref])
            result = self.git._run(*args)
        found: dict[str, str] = {}
        for line in result.stdout.split("\0"):
            meta, _, name = line.partition("\t")
            if name:
                found[name] = meta.rsplit(" ", 1)[-1]
        return found

    def entries_at(self, commit: str, paths: Sequence[str]) -> dict[str, tuple[str, int]]:
        """`entries` of the given paths only: path -> (blob sha, size), absent ones left out."""
        if not paths:
            return {}
        # Paths come from records (an asset's digest): matched as spelled, never as patterns.
        args = ("--literal-pathspecs", "ls-tree", "-r", "-l", "-z", "--full-tree", commit, "--")
        result = self.git._run(*args, *paths, check=False)
        if not result.ok:
            raise EffectError(
                f"{self.ref} at {commit[:7]} cannot be read: "
                f"{command_cause(result.stderr) or 'missing objects'}"
            )
        return {path: (sha, int(size)) for sha, size, path in _TREE_BLOB.findall(result.stdout)}

    def commit_indexed(
        self,
        parent: str,
        changes: Mapping[str, str | None],
        message: str,
        folder: str | None,
        index: str,
        render: Callable[[str | None], str],
    ) -> str:
        """`commit`, and one more file, index: render's text for the id git gives folder's tree
        (a path ending in "/"; None: no folder) once changes are made. git hashes the trees the
        changes touched, from the parent's ids for the rest, so an index that names a folder of
        10,000 files costs what changed, not a walk of them all."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="rcflow-index-") as tmp:
            env = {**_git_env(), "GIT_INDEX_FILE": str(Path(tmp) / "index")}

            def run(*args: str, input: str | None = None) -> str:
                return proc.run(("git", *args), cwd=self.git.root, env=env, input=input).stdout

            try:
                run("read-tree", parent)
                info = "".join(
                    f"100644 {blob}\t{path}\0" if blob else f"0 {'0' * 40}\t{path}\0"
                    for path, blob in sorted(changes.items())
                )
                run("update-index", "-z", "--index-info", input=info)
                tree = run("write-tree", f"--prefix={folder}").strip() if folder else None
                text = render(tree)
                blob = run("hash-object", "-w", "--no-filters", "--stdin", input=text).strip()
                run("update-index", "-z", "--index-info", input=f"100644 {blob}\t{index}\0")
                top = run("write-tree").strip()
            except CommandError as exc:
                raise EffectError(exc.message) from exc
        return self.git._write("commit-tree", top, "-m", message, "-p", parent).strip()


# One blob of `git ls-tree -r -l -z`: "<mode> blob <sha> <padded size>\t<path>\0".
_TREE_BLOB = re.compile(r"(?<![^\0])[0-7]+ blob ([0-9a-f]+) +([0-9]+)\t([^\0]*)\0")


def discover_soon(path: Path) -> Callable[[], tuple[Path, Path]]:
    """`Git.discover(path)`, started now; the returned function waits for its answer (a caller
    loads what it needs next meanwhile)."""
    finish = proc.start(
        ("git", "rev-parse", "--show-toplevel", "--absolute-git-dir"), cwd=path, env=_git_env()
    )

    def found() -> tuple[Path, Path]:
        result = finish()
        if not result.ok:
            raise UsageError(f"{path}: not inside a git work tree")
        top, git_dir = result.stdout.splitlines()[:2]
        return Path(top), Path(git_dir)

    return found


def _stale_locks(named: str, refspecs: Sequence[str]) -> list[str]:
    """The lock git named, then every other ref lock beside it on a remote that is a path here.

    git names the first lock it cannot take. A killed atomic push leaves one lock per ref it
    held (tag, branch, ledger, forge), and the push that finds them is often not the one that
    was killed (a lease push finds the ledger's; the forge's waits for the next push): naming
    only this push's refs made a user delete, re-run and meet the next lock. The hint says to
    delete them only if no push to the remote is running, which holds for every lock alike.
    """
    refs = [spec.rpartition(":")[2].lstrip("+") for spec in refspecs]
    found = [named]
    for ref in refs:
        suffix = os.path.normpath(f"/{ref}.lock")
        if ref and named.endswith(suffix):
            root = named[: -len(suffix)]
            mine = [os.path.normpath(f"{root}/{other}.lock") for other in refs if other]
            others: list[str] = []
            for folder, _, files in os.walk(os.path.join(root, "refs")):
                others += [os.path.join(folder, f) for f in files if f.endswith(".lock")]
            packed = os.path.join(root, "packed-refs.lock")
            found += [path for path in mine if os.path.isfile(path)]
            found += sorted(others) + ([packed] if os.path.isfile(packed) else [])
            break
    return list(dict.fromkeys(found))
