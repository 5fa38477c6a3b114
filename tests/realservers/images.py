"""Push test images over the registry HTTP API (blobs, manifests, multi-arch indexes).

Independent of rcflow's own client on purpose: the tests set the world up with plain requests.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Pushed:
    digest: str
    media_type: str
    raw: bytes


@dataclass
class Pusher:
    """Writes into one registry with fixed headers (e.g. an Authorization an admin would have)."""

    base_url: str
    headers: Mapping[str, str]

    def blob(self, repo: str, data: bytes) -> dict[str, object]:
        digest = sha256(data)
        start = requests.post(
            f"{self.base_url}/v2/{repo}/blobs/uploads/", headers=dict(self.headers), timeout=10
        )
        assert start.status_code == 202, start.text
        location = requests.compat.urljoin(self.base_url, start.headers["Location"])
        done = requests.put(
            location,
            params={"digest": digest},
            data=data,
            headers={**self.headers, "Content-Type": "application/octet-stream"},
            timeout=10,
        )
        assert done.status_code == 201, done.text
        return {"digest": digest, "size": len(data)}

    def manifest(self, repo: str, tag: str | None, media_type: str, document: object) -> Pushed:
        """PUT a manifest under tag, or by its digest when tag is None (an index's children)."""
        raw = json.dumps(document, indent=3).encode()  # indent: bytes no client would re-create
        response = requests.put(
            f"{self.base_url}/v2/{repo}/manifests/{tag or sha256(raw)}",
            data=raw,
            headers={**self.headers, "Content-Type": media_type},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        assert response.headers["Docker-Content-Digest"] == sha256(raw)
        return Pushed(sha256(raw), media_type, raw)

    def image(
        self, repo: str, tag: str | None, *, arch: str = "amd64", docker: bool = False
    ) -> Pushed:
        """A one-layer image (random layer, so each call is a new digest), tagged if tag given."""
        config_type, layer_type, manifest_type = (
            (DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST)
            if docker
            else (OCI_CONFIG, OCI_LAYER, OCI_MANIFEST)
        )
        layer = self.blob(repo, os.urandom(64))
        config = self.blob(
            repo,
            json.dumps(
                {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
            ).encode(),
        )
        document = {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, **config},
            "layers": [{"mediaType": layer_type, **layer}],
        }
        return self.manifest(repo, tag, manifest_type, document)

    def index(self, repo: str, tag: str, *, docker: bool = False) -> Pushed:
        """A multi-arch index of two platform images (amd64, arm64), tagged."""
        manifests = []
        for arch in ("amd64", "arm64"):
            child = self.image(repo, None, arch=arch, docker=docker)
            manifests.append(
                {
                    "mediaType": child.media_type,
                    "digest": child.digest,
                    "size": len(child.raw),
                    "platform": {"architecture": arch, "os": "linux"},
                }
            )
        media_type = DOCKER_LIST if docker else OCI_INDEX
        document = {"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}
        return self.manifest(repo, tag, media_type, document)
