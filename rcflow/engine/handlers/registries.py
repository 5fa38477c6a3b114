"""Handlers for images on registries and dists on package indexes: each records what it did."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from rcflow.engine import registries as dists
from rcflow.engine.handlers.base import Outcome, Record, Scope, done, handles, skipped
from rcflow.errors import EffectError
from rcflow.model import ledger
from rcflow.model import registries as artifacts
from rcflow.model.effects import MoveImageTag, PromoteImage, PublishPackages, ResolveImage
from rcflow.model.events import EventKind


@handles(ResolveImage)
def resolve_image(x: Scope, e: ResolveImage) -> Outcome:
    key = artifacts.image_key(e.release, e.image)
    digest = artifacts.recorded_digest(x.events, EventKind.IMAGE_RESOLVED, key)
    if digest is not None:
        return skipped(f"already recorded ({digest[:19]}…)")
    registry, repository = x.registry(e.image, e.insecure)
    manifest = registry.resolve(repository, e.tag)
    if manifest is None and e.previous_final:
        raise EffectError(
            f"{e.image}:{e.tag} does not exist, so latest cannot go back to {e.release}",
            hint=f"push {e.image}:{e.tag} (the image of {e.release}), then re-run",
        )
    if manifest is None:
        raise EffectError(
            f"{e.image}:{e.tag} does not exist: push the RC's image before `rcflow rc`",
            hint=f"build and push {e.image}:{e.tag}, then re-run rcflow rc",
        )
    data = {
        "image": e.image,
        "tag": e.tag,
        "digest": manifest.digest,
        "media_type": manifest.media_type,
        "index": manifest.is_index,
    }
    return done(f"{manifest.digest[:19]}…", Record(EventKind.IMAGE_RESOLVED, key, data))


@handles(PromoteImage)
def promote_image(x: Scope, e: PromoteImage) -> Outcome:
    key = artifacts.image_key(e.release, e.image)
    if artifacts.recorded_digest(x.events, EventKind.IMAGE_PROMOTED, key) == e.digest:
        return skipped("already promoted and verified")
    registry, repository = x.registry(e.image, e.insecure)
    # Checks every tag before the first PUT (a conflict changes nothing), puts the manifest
    # fetched by digest, then verifies that every tag resolves to the digest.
    outcomes = registry.promote(repository, e.digest, e.tags, movable=e.movable)
    data = {
        "image": e.image,
        "tags": list(e.tags),
        "digest": e.digest,
        "rc": e.source,
        "outcomes": {o.target.rsplit(":", 1)[-1]: o.action for o in outcomes},
    }
    event = Record(EventKind.IMAGE_PROMOTED, key, data)
    moved = [o.target.rsplit(":", 1)[-1] for o in outcomes if o.action != "skipped"]
    if not moved:
        return skipped("every tag was already at the digest (verified)", event)
    return done(f"{', '.join(moved)} at {e.digest[:19]}… (verified)", event)


@handles(MoveImageTag)
def move_image_tag(x: Scope, e: MoveImageTag) -> Outcome:
    key = artifacts.image_key(e.release, e.image)
    events = x.events
    previous = artifacts.image_key(e.to, e.image)
    # No digest in the plan: the previous final's, as its ResolveImage just recorded it.
    digest = (
        e.digest
        or artifacts.recorded_digest(events, EventKind.IMAGE_PROMOTED, previous)
        or artifacts.recorded_digest(events, EventKind.IMAGE_RESOLVED, previous)
    )
    if not digest:
        raise EffectError(f"no digest of {e.image} is recorded for {e.to}; re-run to resolve it")
    e = dataclasses.replace(e, digest=digest)
    if artifacts.recorded_digest(events, EventKind.IMAGE_TAG_MOVED, key) == e.digest:
        return skipped("already moved back")
    registry, repository = x.registry(e.image, e.insecure)
    outcomes = registry.promote(repository, e.digest, (e.tag,), movable=(e.tag,))
    data = {"image": e.image, "tag": e.tag, "digest": e.digest, "to": e.to}
    event = Record(EventKind.IMAGE_TAG_MOVED, key, data)
    if all(o.action == "skipped" for o in outcomes):
        return skipped(f"{e.tag} was already at {e.to}'s digest", event)
    return done("", event)


@handles(PublishPackages)
def publish_packages(x: Scope, e: PublishPackages) -> Outcome:
    key = artifacts.package_key(e.release, e.index)
    if ledger.has(x.events, EventKind.PACKAGE_PUBLISHED, key):
        return skipped("already published")
    if x.ports.index is None:
        raise EffectError("no package index client is configured: nothing was published")
    index = x.ports.index(e.index)
    with tempfile.TemporaryDirectory(prefix="rcflow-dists-") as scratch:
        paths = dists.dist_files(
            x.git.git_dir, x.forge, e.source, e.index.files, e.version, Path(scratch)
        )
        if not paths:
            raise EffectError(
                f"{e.source} has no dists of version {e.version} matching "
                f"{', '.join(e.index.files)}: nothing was published",
                hint="check [python_package] files and what [assets] builds",
            )
        # Asks the index first: skips files there with the same sha256, refuses files there
        # with other bytes before uploading anything, uploads the rest, verifies them all.
        outcomes = index.publish(paths)
    uploaded = [o.target for o in outcomes if o.action == "uploaded"]
    data = {
        "index": e.index.upload_url,
        "rc": e.source,
        "version": e.version,
        "files": {o.target: o.sha256 for o in outcomes},
        "uploaded": uploaded,
    }
    event = Record(EventKind.PACKAGE_PUBLISHED, key, data)
    if not uploaded:
        return skipped(f"all {len(outcomes)} file(s) were on the index (verified)", event)
    return done(f"{len(uploaded)} of {len(outcomes)} file(s) uploaded (verified)", event)
