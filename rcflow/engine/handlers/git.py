"""Handlers for the effects on the repository: version files, commits, reverts, tags and pushes."""

from __future__ import annotations

from rcflow.engine.handlers.base import Outcome, Scope, done, handles, skipped
from rcflow.errors import ConflictError, EffectError
from rcflow.model.effects import (
    Commit,
    CreateTag,
    DeleteTag,
    PushBranch,
    PushTag,
    ResetBranch,
    RevertCommit,
    VerifyVersionOnlyDiff,
    WriteFile,
    WriteVersionFiles,
)

# -- files and commits -------------------------------------------------------------------------


@handles(WriteVersionFiles)
def write_version_files(x: Scope, e: WriteVersionFiles) -> Outcome:
    expected = dict(e.expected)
    pending: dict[str, str] = {}
    for path, new in e.contents:
        current = x.read(path)
        if current == new:
            continue
        if current != expected.get(path):
            raise ConflictError(f"{path} changed since the plan was made; re-run to re-plan")
        pending[path] = new
    if not pending:
        return skipped("the files already hold it")
    x.git.write_files(pending)
    return done()


@handles(WriteFile)
def write_file(x: Scope, e: WriteFile) -> Outcome:
    current = x.read(e.path)
    if current == e.content:
        return skipped("already there")
    if current is not None and not e.overwrite:
        raise ConflictError(f"{e.path} exists with other content", hint="rerun with --force")
    (x.git.root / e.path).parent.mkdir(parents=True, exist_ok=True)
    x.git.write_files({e.path: e.content})
    return done()


@handles(Commit)
def commit(x: Scope, e: Commit) -> Outcome:
    head = x.git.head()
    sha = head[0] if head else ""
    if sha != e.parent:
        if head and head[1] == (e.parent,) and head[2] == e.message.splitlines()[0]:
            return skipped(f"already committed as {sha[:7]}")
        raise ConflictError(f"HEAD moved to {sha[:7]} since the plan was made; re-run to re-plan")
    try:
        new = x.git.commit(e.paths, e.message)
    except EffectError:
        # The tree goes back to what it was: the resumed run writes the files again.
        x.git.restore_paths(e.paths)
        raise
    return done(new[:7])


@handles(VerifyVersionOnlyDiff)
def verify_version_only_diff(x: Scope, e: VerifyVersionOnlyDiff) -> Outcome:
    allowed: dict[str, list[tuple[str, str]]] = {}
    for path, old, new in e.allowed:
        allowed.setdefault(path, []).append((old, new))
    for path, removed, added in x.git.changed_lines(e.rc_sha, "HEAD"):
        swaps = allowed.get(path, [])
        if not any(removed.replace(old, new) == added and removed for old, new in swaps):
            shown = (removed or added).strip()[:80]
            raise ConflictError(
                f"the final commit differs from {e.rc_tag} beyond version strings "
                f"({path or 'a binary file'}: {shown!r}): nothing was tagged",
                hint="cut a new RC with `rcflow rc`",
            )
    return done("only version strings differ")


@handles(RevertCommit)
def revert_commit(x: Scope, e: RevertCommit) -> Outcome:
    head = x.git.head()
    if head and head[2] == e.message.splitlines()[0]:
        return skipped(f"already reverted in {head[0][:7]}")
    # Built aside, then one branch move: a crash never leaves a half-done revert behind.
    new = x.git.revert_commit(e.sha, e.message)
    dirty = x.git.status().dirty
    if dirty and x.git.texts_at(new, dirty) == {p: x.read(p) for p in dirty}:
        # What an older rcflow's `git revert --no-commit` left when it was killed: the work
        # tree already holds exactly the revert. Commit it by moving the branch under it.
        x.git.reset_mixed(new)
        return done(f"{new[:7]} (finished the revert left in the work tree)")
    x.git.reset_keep(new)
    return done(new[:7])


@handles(ResetBranch)
def reset_branch(x: Scope, e: ResetBranch) -> Outcome:
    head = x.git.head()
    target = x.git.resolve(e.to)
    if head and head[0] == target:
        return skipped("already reset")
    if not head or head[0] != e.drop:
        raise ConflictError(f"HEAD is no longer {e.drop[:7]}; re-run to re-plan")
    x.git.reset_keep(e.to)
    return done()


# -- tags and pushes ---------------------------------------------------------------------------


def _local_tag(x: Scope, name: str) -> str | None:
    refs = x.git.refs(f"refs/tags/{name}")
    return refs[0].commit if refs else None


@handles(CreateTag)
def create_tag(x: Scope, e: CreateTag) -> Outcome:
    target = e.target or (x.git.head() or ("",))[0]
    existing = _local_tag(x, e.name)
    if existing == target:
        return skipped("the tag exists at that commit")
    if existing is not None:
        raise ConflictError(f"tag {e.name} already exists at {existing[:7]}, not {target[:7]}")
    remote = x.git.remote_ref(x.remote, f"refs/tags/{e.name}")
    if remote is not None and remote != target:
        raise ConflictError(f"tag {e.name} exists on {x.remote} at {remote[:7]}, not {target[:7]}")
    x.git.create_tag(e.name, target, e.message)
    return done()


@handles(PushTag)
def push_tag(x: Scope, e: PushTag) -> Outcome:
    local = _local_tag(x, e.name)
    remote = x.git.remote_ref(e.remote, f"refs/tags/{e.name}")
    if remote is not None and (local is None or remote == local):
        return skipped("the remote has it")
    if remote is not None:
        raise ConflictError(
            f"tag {e.name} is at {remote[:7]} on {e.remote}, not {(local or '')[:7]}"
        )
    if local is None:
        raise EffectError(f"tag {e.name} does not exist here; re-run to re-plan")
    _push(x, e.remote, f"refs/tags/{e.name}:refs/tags/{e.name}", f"tag {e.name}")
    return done()


@handles(PushBranch)
def push_branch(x: Scope, e: PushBranch) -> Outcome:
    head = (x.git.head() or ("",))[0]
    remote = x.git.remote_ref(e.remote, f"refs/heads/{e.branch}")
    if remote == head:
        return skipped("the remote has it")
    _push(x, e.remote, f"HEAD:refs/heads/{e.branch}", f"branch {e.branch}")
    return done()


@handles(DeleteTag)
def delete_tag(x: Scope, e: DeleteTag) -> Outcome:
    if e.remote is None:
        if _local_tag(x, e.name) is None:
            return skipped("already gone")
        x.git.delete_tag(e.name)
        return done()
    if x.git.remote_ref(e.remote, f"refs/tags/{e.name}") is None:
        return skipped("already gone")
    _push(x, e.remote, f":refs/tags/{e.name}", f"the deletion of tag {e.name}")
    return done()


def _push(x: Scope, remote: str, refspec: str, what: str) -> None:
    try:
        x.push(remote, [refspec])
    except ConflictError:
        raise
    except EffectError as exc:
        # Refused (a hook, a protected ref) or unreachable: the ledger has the decision,
        # the remote not the write; the resume command finishes it once the remote takes it.
        if exc.hint is None:
            exc.hint = f"{what} did not reach {remote}: once {remote} accepts it, resume"
        raise
