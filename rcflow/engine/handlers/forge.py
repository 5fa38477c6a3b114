"""Handlers for the effects on the forge: releases, their assets, latest, retraction."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rcflow.engine import release_assets as assets
from rcflow.engine.handlers.base import Outcome, Scope, done, handles, skipped
from rcflow.errors import ConflictError, EffectError
from rcflow.model.effects import (
    BuildAssets,
    CarryAssets,
    CreateRelease,
    DeleteRelease,
    MarkLatest,
    PublishRelease,
    RetractRelease,
    UploadAssets,
)


@handles(CreateRelease)
def create_release(x: Scope, e: CreateRelease) -> Outcome:
    existing = x.forge.releases().get(e.tag)
    if existing is not None:
        if existing.prerelease != e.prerelease and not existing.retracted:
            what = "prerelease" if existing.prerelease else "release"
            raise ConflictError(f"the forge already has {e.tag} as a {what}: nothing was changed")
        return skipped("the release exists" + (" (a draft)" if existing.draft else ""))
    x.forge.create_release(e.tag, e.title, e.notes, prerelease=e.prerelease, draft=e.draft)
    return done()


@handles(BuildAssets)
def build_assets(x: Scope, e: BuildAssets) -> Outcome:
    stage = assets.stage_dir(x.git.git_dir, e.tag)
    if assets.complete_on_forge(x.forge.releases().get(e.tag)):
        assets.discard(stage)  # a run that stopped right after its last upload left it
        return skipped("the release has its assets")
    names = assets.staged_files(stage)
    if names is not None:
        outcome = skipped("already built (staged in the git dir)")
    else:
        sha = e.sha or (x.git.head() or ("",))[0]
        env = {"RCFLOW_VERSION": e.version, "RCFLOW_TAG": e.tag, "RCFLOW_PEP440": e.pep440}
        names = assets.build(
            x.git,
            tag=e.tag,
            sha=sha,
            command=e.command,
            patterns=e.files,
            env=env,
            timeout=e.timeout,
        )
        outcome = done(f"{len(names)} file(s)")
    if x.forge.name == "local":
        # Before the RC is tagged: assets git cannot carry refuse the RC, not half of it.
        warnings = assets.git_size_policy(stage, names, e.tag)
        outcome = outcome.noting("".join(f"; warning: {w}" for w in warnings))
    return outcome


@handles(UploadAssets)
def upload_assets(x: Scope, e: UploadAssets) -> Outcome:
    releases = x.forge.releases()
    stage = assets.stage_dir(x.git.git_dir, e.tag)
    if assets.complete_on_forge(releases.get(e.tag)):
        assets.discard(stage)
        return skipped("the release has its assets")
    names = assets.staged_files(stage)
    if names is None:
        raise EffectError(
            f"the assets of {e.tag} are not staged here (built on another machine?)",
            hint="re-run `rcflow rc` to build them again",
        )
    uploaded = assets.upload_missing(x.forge, releases, e.tag, stage, names)
    # SHA256SUMS went last: the forge holds every byte now, so the stage's copy goes.
    assets.discard(stage)
    return done(f"{len(uploaded)} uploaded") if uploaded else skipped("all present")


@handles(CarryAssets)
def carry_assets(x: Scope, e: CarryAssets) -> Outcome:
    releases = x.forge.releases()
    target = releases.get(e.tag)
    if target is not None and not target.draft:
        return skipped("the release is published")
    with tempfile.TemporaryDirectory(prefix="rcflow-carry-") as scratch:
        carried = assets.carry(x.forge, releases, e.source, e.tag, Path(scratch))
    return done(f"{len(carried)} carried") if carried else skipped("nothing to carry")


@handles(PublishRelease)
def publish_release(x: Scope, e: PublishRelease) -> Outcome:
    rel = x.forge.releases().get(e.tag)
    if rel is None:
        raise EffectError(f"the forge has no release {e.tag} to publish; re-run to finish it")
    if not rel.draft and (rel.latest or not e.latest):
        return skipped("already published")
    x.forge.publish_release(e.tag, latest=e.latest)
    return done()


@handles(MarkLatest)
def mark_latest(x: Scope, e: MarkLatest) -> Outcome:
    rel = x.forge.releases().get(e.tag)
    if rel is None:
        return skipped("the forge has no such release")
    if rel.latest:
        return skipped("already the latest")
    x.forge.set_latest(e.tag)
    return done()


@handles(RetractRelease)
def retract_release(x: Scope, e: RetractRelease) -> Outcome:
    rel = x.forge.releases().get(e.tag)
    if rel is None or rel.retracted:
        return skipped("nothing to mark")
    x.forge.retract_release(e.tag, e.note)
    return done()


@handles(DeleteRelease)
def delete_release(x: Scope, e: DeleteRelease) -> Outcome:
    if e.tag not in x.forge.releases():
        return skipped("already gone")
    x.forge.delete_release(e.tag)
    return done()


# The effects whose only write is the forge's. On a forge that lets the executor hold its writes
# (`ports.forge.HeldWrites`: the local forge, on the ledger's remote) they travel in the run's
# next push, with the events recording them (`Executor._ride`). Building assets runs a command:
# not one of them.
FORGE_WRITES: frozenset[type] = frozenset(
    {
        CreateRelease,
        UploadAssets,
        CarryAssets,
        PublishRelease,
        MarkLatest,
        RetractRelease,
        DeleteRelease,
    }
)
