"""The kinds of event the ledger records: one name for each, so a typo is a type error.

`EventKind` is a `StrEnum`: a member equals its string, so the ledger's JSON format (and every
ledger written before this enum existed) is unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    # bump
    BUMPED = "bumped"
    BUMP_REVERTED = "bump_reverted"
    # rc
    RC_TAGGED = "rc_tagged"
    RC_WITHDRAWN = "rc_withdrawn"
    # validate
    VALIDATION_DISPATCHING = "validation_dispatching"
    VALIDATION_DISPATCHED = "validation_dispatched"
    VALIDATION_NOT_DISPATCHED = "validation_not_dispatched"  # refused for certain: no run
    VALIDATION_PASSED = "validation_passed"
    VALIDATION_FAILED = "validation_failed"
    VALIDATE_COMPLETED = "validate_completed"
    # promote and rollback
    PROMOTING = "promoting"
    PROMOTED = "promoted"
    RETRACTED = "retracted"
    HOOK_SUCCEEDED = "hook_succeeded"
    HOOK_FAILED = "hook_failed"
    # images and packages
    IMAGE_RESOLVED = "image_resolved"  # rc: the RC tag's manifest digest
    IMAGE_PROMOTED = "image_promoted"  # promote: the final tag (and latest) at that digest
    IMAGE_TAG_MOVED = "image_tag_moved"  # rollback: latest back at the previous final's digest
    PACKAGE_PUBLISHED = "package_published"  # rc/promote: the dists on the index, verified
    # any step
    CHECK_WAIVED = "check_waived"
    STEP_FAILED = "step_failed"
    # the lease
    LEASE_ACQUIRED = "lease_acquired"
    LEASE_RELEASED = "lease_released"
    LEASE_BROKEN = "lease_broken"
    # promote with next_version: the development version committed after the final
    NEXT_VERSION = "next_version"
