"""What puts a release and its assets on the forge, from whatever part of it is there already."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rcflow.model import ledger
from rcflow.model.config import Config
from rcflow.model.events import EventKind
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import Release, State
from rcflow.model.version import Spelling, Version, tag_name

if TYPE_CHECKING:
    from rcflow.model.effects import (
        Effect,
    )


def released_done(release: Release, config: Config) -> str | None:
    """When the version in the files is released already, the pre-release steps are done."""
    if release.state is State.RELEASED and release.last_final is not None:
        tag = tag_name(release.last_final, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
        return f"{release.last_final} is already released as {tag}"
    return None


def build_assets(config: Config, tag: str, sha: str | None, version: Version) -> list[Effect]:
    from rcflow.model.effects import BuildAssets

    a = config.assets
    if a is None:
        return []
    pep440 = version.render(Spelling.PEP440, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
    return [BuildAssets(tag, sha, str(version), pep440, a.build, a.files, a.timeout)]


def publish_release(
    s: Snapshot,
    config: Config,
    tag: str,
    title: str,
    notes: str,
    *,
    prerelease: bool,
    carry_from: str | None = None,
) -> list[Effect]:
    """What puts a release on the forge, from whatever part of it is already there.

    Always draft first, assets next, then publish: a published release may be immutable (GitHub's
    immutable releases), so nothing is added to it afterwards.
    """
    from rcflow.model.effects import CarryAssets, CreateRelease, PublishRelease, UploadAssets

    rel = s.releases.get(tag)
    if rel is not None and not rel.draft:
        if not prerelease and not rel.latest and not ledger.has(s.ledger, EventKind.PROMOTED, tag):
            # Published, but the run stopped before it became latest.
            return [PublishRelease(tag, latest=True)]
        return []
    effects: list[Effect] = []
    if rel is None:
        effects.append(CreateRelease(tag, title, notes, prerelease=prerelease, draft=True))
    if carry_from is not None:
        effects.append(CarryAssets(carry_from, tag))
    elif config.assets is not None:
        effects.append(UploadAssets(tag))
    effects.append(PublishRelease(tag, latest=not prerelease))
    return effects


def carry_blockers(s: Snapshot, source: str, target: str) -> list[str]:
    """Why the final's release could not get the RC's assets, known before anything is changed.

    The final tag is never pushed ahead of a release that cannot be made: an RC whose release
    is gone, or was never finished, refuses the promotion with what completes it. That every
    file its SHA256SUMS lists is there is proven by the preflight (it reads the file).
    """
    final = s.releases.get(target)
    if final is not None and not final.draft:
        return []  # published already: nothing is carried
    rc = s.releases.get(source)
    if rc is not None and not rc.draft:
        return []
    sha = s.tag_commit(source) or ""
    what = f"has no release {source}" if rc is None else f"has only a draft of {source}"
    if target in s.remote_tags:
        # An interrupted promotion pushed the final tag: an RC can no longer be finished.
        fix = f"restore {source}'s release on the forge, or retract {target} with `rcflow rollback`"
    elif sha and s.head == sha:
        fix = f"run `rcflow rc` to finish it ({source} tags HEAD), then promote"
    else:
        fix = f"withdraw it with `rcflow rollback {source}`, then cut a new RC with `rcflow rc`"
    return [f"the {s.forge} forge {what}, whose assets the final release carries: {fix}"]
