"""Git preflight: the work tree, the branch, the remote, an identity to commit and tag with."""

from __future__ import annotations

from collections.abc import Collection

from rcflow.model.findings import Finding
from rcflow.model.snapshot import Snapshot


def findings(
    s: Snapshot,
    *,
    clean: bool = True,
    on_branch: bool = True,
    head_pushed: bool = True,
    identity: bool = True,
    allow_dirty: Collection[str] = (),
) -> list[Finding]:
    """Every git precondition the step asks for that does not hold."""
    found: list[Finding] = []
    if not s.remote_reachable:
        found.append(
            Finding(
                "git.remote",
                "error",
                f"cannot reach {s.remote}: {s.remote_error}",
                f"check `git remote get-url {s.remote}` and your credentials",
            )
        )
    if s.head is None:
        found.append(Finding("git.empty", "error", "the repository has no commits", "commit first"))
        return found
    if clean:
        dirty = sorted(set(s.dirty) - set(allow_dirty))
        if dirty:
            shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
            found.append(
                Finding(
                    "git.dirty",
                    "error",
                    f"uncommitted changes in {shown}",
                    "commit or stash them",
                )
            )
    if on_branch and s.branch != s.release_branch:
        where = f"on {s.branch}" if s.branch else "on a detached HEAD"
        found.append(
            Finding(
                "git.branch",
                "error",
                f"{where}, not the release branch {s.release_branch}",
                f"git switch {s.release_branch}",
            )
        )
    if on_branch and s.remote_reachable and s.remote_branch is None:
        found.append(
            Finding(
                "git.remote-branch",
                "error",
                f"{s.remote} has no branch {s.release_branch}",
                f"git push -u {s.remote} {s.release_branch}",
            )
        )
    if on_branch and s.remote_ahead:
        found.append(
            Finding(
                "git.behind",
                "error",
                f"{s.remote}/{s.release_branch} has commits this clone lacks",
                f"git pull --ff-only {s.remote} {s.release_branch}",
            )
        )
    if head_pushed and s.remote_reachable and s.remote_branch and not s.head_on_remote:
        found.append(
            Finding(
                "git.unpushed",
                "error",
                f"HEAD {s.head[:7]} is not on {s.remote}/{s.release_branch}",
                f"git push {s.remote} {s.release_branch}",
            )
        )
    if s.shallow:
        found.append(
            Finding(
                "git.shallow",
                "error",
                "this is a shallow clone: history and tags are incomplete",
                "git fetch --unshallow --tags (in GitHub Actions: checkout with fetch-depth: 0)",
            )
        )
    if s.remote_tags and not s.local_tags:
        found.append(
            Finding(
                "git.tags",
                "warning",
                f"none of {s.remote}'s release tags are fetched here",
                f"git fetch --tags {s.remote} (in GitHub Actions: checkout with fetch-tags: true)",
            )
        )
    if identity and not s.identity:
        found.append(
            Finding(
                "git.identity",
                "error",
                "git has no identity to commit and tag with",
                'git config user.name "…" && git config user.email "…"',
            )
        )
    return found
