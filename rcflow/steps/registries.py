"""What the steps plan for images and packages. Pure: the ledger says what is done.

- rc records each image's RC digest (and publishes the RC's dists with `publish_rc`);
- promote tags the recorded digest as the final (and `latest`), and publishes the dists;
- rollback of a release points `latest` back at the previous final's recorded digest.

Each piece is planned only while its event is missing, so a re-run after a crash plans the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rcflow.errors import VersionError
from rcflow.model import registries as artifacts
from rcflow.model.config import Config
from rcflow.model.ledger import Event
from rcflow.model.snapshot import Snapshot
from rcflow.model.version import Spelling, Version, parse

if TYPE_CHECKING:
    from rcflow.model.effects import (
        Effect,
    )


def _pep440(version: Version) -> str:
    return version.render(Spelling.PEP440)


def resolve_images(s: Snapshot, config: Config, rc_tag: str, version: Version) -> list[Effect]:
    """rc: record the digest of each image's RC tag, unless the ledger has it."""
    from rcflow.model.effects import ResolveImage

    return [
        ResolveImage(
            image.name, artifacts.image_tag(image, version, config), rc_tag, image.insecure
        )
        for image in config.images
        if not artifacts.recorded(
            s.ledger, artifacts.IMAGE_RESOLVED, artifacts.image_key(rc_tag, image.name)
        )
    ]


def rc_packages(s: Snapshot, config: Config, rc_tag: str, version: Version) -> list[Effect]:
    """rc with `publish_rc`: the RC's own dists, carrying its version."""
    from rcflow.model.effects import PublishPackages

    package = config.python_package
    if package is None or not package.publish_rc:
        return []
    if artifacts.recorded(
        s.ledger, artifacts.PACKAGE_PUBLISHED, artifacts.package_key(rc_tag, package)
    ):
        return []
    return [PublishPackages(rc_tag, rc_tag, _pep440(version), package)]


def promised(config: Config) -> dict[str, object]:
    """What a promotion decides to ship, recorded in its `promoting` event."""
    return {
        "images": [image.name for image in config.images],
        "packages": config.python_package is not None,
    }


def promote_artifacts(
    s: Snapshot,
    config: Config,
    tag: str,
    version: Version,
    rc_tag: str,
    decided: Event | None = None,
    *,
    pre_release: bool = False,
) -> tuple[list[Effect], list[str]]:
    """promote: retag each image's recorded RC digest, publish the RC's final dists.

    Returns the effects still missing and the blockers: an image whose RC digest was never
    recorded (configured after the RC was cut), an RC whose assets hold no dist of the final's
    version (an RC build that stamped its RC version into them). Finishing an interrupted
    promotion (`decided`: its `promoting` event), only what that decision promised is shipped:
    configuring an image later never ships it for a release that was already made.
    """
    from rcflow.model.effects import PromoteImage, PublishPackages

    images = list(config.images)
    package = config.python_package
    if pre_release and (package is None or not package.publish_rc):
        package = None  # a stage's dists are published only where pre-releases are
    if decided is not None:
        names = decided.data.get("images") or []
        images = [image for image in images if image.name in names]
        package = package if decided.data.get("packages") else None
    effects: list[Effect] = []
    refusals: list[str] = []
    for image in images:
        key = artifacts.image_key(tag, image.name)
        if artifacts.recorded(s.ledger, artifacts.IMAGE_PROMOTED, key):
            continue
        source = artifacts.image_key(rc_tag, image.name)
        # A pre-release promoted up the ladder got its digest by promotion, not by resolving.
        digest = artifacts.recorded_digest(
            s.ledger, artifacts.IMAGE_RESOLVED, source
        ) or artifacts.recorded_digest(s.ledger, artifacts.IMAGE_PROMOTED, source)
        if digest is None:
            refusals.append(
                f"{rc_tag} has no recorded digest for {image.name} (was the image configured "
                "after the RC was cut?): cut a new RC with `rcflow rc`"
            )
            continue
        final = artifacts.image_tag(image, version, config)
        movable = (artifacts.LATEST,) if image.latest and not pre_release else ()
        effects.append(
            PromoteImage(
                image.name, digest, (final, *movable), movable, tag, rc_tag, image.insecure
            )
        )
    if package is not None and not artifacts.recorded(
        s.ledger, artifacts.PACKAGE_PUBLISHED, artifacts.package_key(tag, package)
    ):
        wanted = _pep440(version)
        rel = s.releases.get(rc_tag)
        names = [a.name for a in rel.assets] if rel is not None else []
        if not any(artifacts.selects(n, package.files, wanted) for n in names):
            found = sorted({v for n in names if (v := artifacts.dist_version(n)) is not None}) or [
                "none"
            ]
            refusals.append(
                f"{rc_tag}'s release assets hold no dists of {wanted} matching "
                f"{', '.join(package.files)} (dist versions found: {', '.join(found)}): "
                "the final publishes the RC's own bytes, so the RC must build the final's version"
            )
        else:
            effects.append(PublishPackages(tag, rc_tag, wanted, package))
    return effects, refusals


def latest_back(
    s: Snapshot, config: Config, previous_tag: str | None
) -> tuple[dict[str, str], list[str]]:
    """rollback of a release: {image: the previous final's digest} for each `latest` image.

    A previous final with no recorded digest (made before rcflow shipped images) maps to "": its
    tag is resolved on the registry at apply time, recorded, then `latest` goes there. Notes say
    which `latest` stays where it is (no previous final) and which tag gets resolved.
    """
    moves: dict[str, str] = {}
    notes: list[str] = []
    for image in config.images:
        if not image.latest:
            continue
        if not previous_tag:
            notes.append(f"{image.name}:{artifacts.LATEST} stays where it is (no earlier final)")
            continue
        digest = _previous_digest(s.ledger, previous_tag, image.name)
        if digest is None:
            notes.append(
                f"{image.name}:{artifacts.LATEST} goes back to {previous_tag}, whose digest is "
                "not recorded: its image tag is resolved on the registry and recorded first"
            )
        moves[image.name] = digest or ""
    return moves, notes


def _previous_digest(events: Iterable[Event], previous_tag: str, image: str) -> str | None:
    key = artifacts.image_key(previous_tag, image)
    events = tuple(events)
    return artifacts.recorded_digest(
        events, artifacts.IMAGE_PROMOTED, key
    ) or artifacts.recorded_digest(events, artifacts.IMAGE_RESOLVED, key)


def move_latest(s: Snapshot, config: Config, decided: Mapping[str, Any], tag: str) -> list[Effect]:
    """The `latest` moves a `retracted` decision (its data) promised that the ledger lacks."""
    from rcflow.model.effects import MoveImageTag, ResolveImage

    previous = str(decided.get("previous_tag") or "")
    moves = decided.get("images") or {}
    images = {image.name: image for image in config.images}
    effects: list[Effect] = []
    for name, promised_digest in sorted(moves.items()):
        key = artifacts.image_key(tag, name)
        digest = str(promised_digest or "") or _previous_digest(s.ledger, previous, name) or ""
        moved = artifacts.recorded(s.ledger, artifacts.IMAGE_TAG_MOVED, key)
        if moved is not None and (not digest or moved.data.get("digest") == digest):
            continue
        image = images.get(name)
        insecure = image.insecure if image is not None else False
        if not digest:
            version = parse_version(str(decided.get("previous") or ""))
            if image is None or version is None:
                continue  # the image is no longer configured: nothing to resolve it with
            effects.append(
                ResolveImage(
                    name,
                    artifacts.image_tag(image, version, config),
                    previous,
                    insecure,
                    previous_final=True,
                )
            )
        # An empty digest: the one the ResolveImage before it records.
        effects.append(MoveImageTag(name, artifacts.LATEST, digest, tag, previous, insecure))
    return effects


def parse_version(text: str) -> Version | None:
    try:
        return parse(text)
    except VersionError:
        return None
