"""The registry adapter against real distribution registries on 127.0.0.1 (no internet).

Three registries per module: token auth (our token server, the realistic case), htpasswd basic
auth, and none. Each test works in its own repository, so they share the servers.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from realservers.images import DOCKER_LIST, OCI_INDEX, OCI_MANIFEST, Pusher
from realservers.registry import RegistryServer, start_registry
from realservers.tokens import TokenServer, User

from rcflow.adapters.oci import (
    ANONYMOUS,
    DOCKER_HUB,
    Credentials,
    ImageRef,
    Registry,
    RegistryAccessError,
    access_hint,
    credentials_for,
    promote_image,
)
from rcflow.errors import BlockedError, ConflictError, UsageError

ADMIN = ("admin", "adm1n-pw")
RELEASER = Credentials("releaser", "rel3ase-pw", source="test releaser")
READER = Credentials("reader", "r3ad-pw", source="test reader")
RC, FINAL = "v1.4.0-rc.2", "v1.4.0"


@pytest.fixture(scope="module")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registries")


@pytest.fixture(scope="module")
def tokens(servers_dir: Path) -> Iterator[TokenServer]:
    server = TokenServer(
        users={
            ADMIN[0]: User(ADMIN[1], {"*": {"pull", "push", "delete"}}),
            "releaser": User("rel3ase-pw", {"*": {"pull", "push"}}),
            "reader": User("r3ad-pw", {"*": {"pull"}}),
        },
        refresh_tokens={"identity-token-of-releaser": "releaser"},
    )
    server.start(servers_dir)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token_registry(servers_dir: Path, tokens: TokenServer) -> Iterator[RegistryServer]:
    server = start_registry(servers_dir / "token", tokens=tokens)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def basic_registry(servers_dir: Path) -> Iterator[RegistryServer]:
    server = start_registry(servers_dir / "basic", htpasswd={ADMIN[0]: ADMIN[1], "ci": "ci-pw"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def open_registry(servers_dir: Path) -> Iterator[RegistryServer]:
    server = start_registry(servers_dir / "open")
    yield server
    server.stop()


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    return f"acme/{name[:40]}-{secrets.token_hex(3)}"


def token_pusher(registry: RegistryServer, tokens: TokenServer, repo: str) -> Pusher:
    access = [{"type": "repository", "name": repo, "actions": ["pull", "push"]}]
    token = tokens.mint(ADMIN[0], access)
    return Pusher(registry.url, {"Authorization": f"Bearer {token}"})


def basic_pusher(registry: RegistryServer) -> Pusher:
    raw = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    return Pusher(registry.url, {"Authorization": f"Basic {raw}"})


# --- references and credentials (no server) ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "repository", "tag"),
    [
        ("ghcr.io/acme/app", "ghcr.io", "acme/app", None),
        ("ghcr.io/acme/app:v1.4.0-rc.2", "ghcr.io", "acme/app", "v1.4.0-rc.2"),
        ("docker.io/acme/app", DOCKER_HUB, "acme/app", None),
        ("docker.io/nginx", DOCKER_HUB, "library/nginx", None),
        ("nginx:1.27", DOCKER_HUB, "library/nginx", "1.27"),
        ("acme/app", DOCKER_HUB, "acme/app", None),
        ("127.0.0.1:5000/acme/app", "127.0.0.1:5000", "acme/app", None),
        ("localhost/team/sub/app:rc", "localhost", "team/sub/app", "rc"),
    ],
)
def test_image_ref_parse(text: str, host: str, repository: str, tag: str | None) -> None:
    assert ImageRef.parse(text) == ImageRef(host, repository, tag)


@pytest.mark.parametrize("text", ["ghcr.io/Acme/App", "ghcr.io/acme/app@sha256:" + "0" * 64, "a:"])
def test_image_ref_parse_refuses(text: str) -> None:
    with pytest.raises(UsageError):
        ImageRef.parse(text)


def test_plain_http_only_on_loopback_or_when_asked() -> None:
    assert Registry("ghcr.io").base_url == "https://ghcr.io"
    assert Registry("127.0.0.1:5000").base_url == "http://127.0.0.1:5000"
    assert Registry("localhost:5000").base_url == "http://localhost:5000"
    assert Registry("registry.lan:5000", insecure=True).base_url == "http://registry.lan:5000"


def test_credentials_order(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    pair = base64.b64encode(b"hubuser:hub-pw").decode()
    config.write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": pair},
                    "https://registry.example.com/v2/": {"username": "u", "password": "p"},
                    "idp.example.com": {"identitytoken": "refresh-me"},
                    "ghcr.io": {"auth": base64.b64encode(b"cfg:cfg-pw").decode()},
                }
            }
        )
    )
    env = {
        "RCFLOW_REGISTRY_GHCR_IO_USERNAME": "host-user",
        "RCFLOW_REGISTRY_GHCR_IO_PASSWORD": "host-pw",
        "RCFLOW_REGISTRY_PASSWORD": "generic-pw",
        "GITHUB_TOKEN": "ghs_x",
    }
    assert credentials_for("ghcr.io", env, config).password == "host-pw"
    assert credentials_for("quay.io", env, config).password == "generic-pw"
    assert credentials_for("quay.io", env, config).username == "rcflow"
    github = credentials_for("ghcr.io", {"GITHUB_TOKEN": "ghs_x", "GITHUB_ACTOR": "me"}, config)
    assert (github.username, github.password, github.source) == ("me", "ghs_x", "GITHUB_TOKEN")
    assert credentials_for("ghcr.io", {}, config).password == "cfg-pw"
    hub = credentials_for("docker.io", {}, config)
    assert (hub.username, hub.password) == ("hubuser", "hub-pw")
    assert credentials_for(DOCKER_HUB, {}, config) == hub
    assert credentials_for("registry.example.com", {}, config).password == "p"
    assert credentials_for("idp.example.com", {}, config).identity_token == "refresh-me"
    assert credentials_for("quay.io", {}, config) == ANONYMOUS
    hub_env = {"RCFLOW_REGISTRY_DOCKER_IO_PASSWORD": "hub-env-pw"}
    assert credentials_for("docker.io", hub_env, config).password == "hub-env-pw"
    # The docker config is found through HOME (or DOCKER_CONFIG) when no path is given.
    assert credentials_for("ghcr.io", {"DOCKER_CONFIG": str(tmp_path)}).password == "cfg-pw"
    # Secrets never show in a repr (logs, tracebacks).
    assert "host-pw" not in repr(credentials_for("ghcr.io", env, config))


def test_ghcr_push_hint_names_the_fix() -> None:
    hint = access_hint("ghcr.io", "acme/app", ("pull", "push"))
    assert "packages: write" in hint
    assert "another owner" in hint


# --- resolve and promote (token auth: the bearer flow) ----------------------------------------


def test_resolve_rc_tag_to_its_digest(
    token_registry: RegistryServer, tokens: TokenServer, repo: str
) -> None:
    pushed = token_pusher(token_registry, tokens, repo).image(repo, RC)
    registry = Registry(token_registry.host, RELEASER)
    found = registry.resolve(repo, RC)
    assert found is not None
    assert (found.digest, found.media_type, found.raw) == (pushed.digest, OCI_MANIFEST, pushed.raw)
    assert registry.resolve(repo, "v9.9.9-rc.1") is None
    assert registry.resolve("acme/no-such-repo", RC) is None
    # The bearer flow: one challenge, then a pull token from the realm, reused.
    asked = [r.scopes for r in tokens.requests if r.subject == "releaser"]
    assert [f"repository:{repo}:pull"] in asked


@pytest.mark.parametrize(("docker", "media_type"), [(False, OCI_INDEX), (True, DOCKER_LIST)])
def test_promote_a_multi_arch_index_keeps_it_an_index(
    token_registry: RegistryServer, tokens: TokenServer, repo: str, docker: bool, media_type: str
) -> None:
    pushed = token_pusher(token_registry, tokens, repo).index(repo, RC, docker=docker)
    registry = Registry(token_registry.host, RELEASER)
    rc = registry.resolve(repo, RC)
    assert rc is not None and rc.is_index and rc.media_type == media_type

    outcomes = promote_image(registry, repo, rc.digest, [FINAL])

    assert [o.action for o in outcomes] == ["tagged"]
    final = Registry(token_registry.host, READER).resolve(repo, FINAL)
    assert final is not None
    assert (final.digest, final.media_type, final.raw) == (pushed.digest, media_type, pushed.raw)


def test_promote_retags_the_digest_and_a_rerun_is_a_no_op(
    token_registry: RegistryServer, tokens: TokenServer, repo: str
) -> None:
    pushed = token_pusher(token_registry, tokens, repo).image(repo, RC)
    registry = Registry(token_registry.host, RELEASER)
    registry.can_push(repo)
    puts_before = token_registry.manifest_puts(repo)

    first = promote_image(registry, repo, pushed.digest, [FINAL, "latest"], movable={"latest"})

    assert [(o.action, o.target.rsplit(":", 1)[1]) for o in first] == [
        ("tagged", FINAL),
        ("tagged", "latest"),
    ]
    for tag in (FINAL, "latest"):
        found = registry.resolve(repo, tag)
        assert found is not None
        assert (found.digest, found.media_type, found.raw) == (
            pushed.digest,
            OCI_MANIFEST,
            pushed.raw,
        )
    assert token_registry.manifest_puts(repo) == puts_before + 2

    # Again, from a fresh client (a new CI run): nothing to do, no PUT at all.
    again = promote_image(
        Registry(token_registry.host, RELEASER), repo, pushed.digest, [FINAL, "latest"]
    )
    assert [o.action for o in again] == ["skipped", "skipped"]
    assert token_registry.manifest_puts(repo) == puts_before + 2
    assert "already at" in again[0].describe()


def test_latest_is_moved_when_movable(
    token_registry: RegistryServer, tokens: TokenServer, repo: str
) -> None:
    pusher = token_pusher(token_registry, tokens, repo)
    pusher.image(repo, "latest")
    pushed = pusher.image(repo, RC)
    registry = Registry(token_registry.host, RELEASER)

    outcomes = promote_image(registry, repo, pushed.digest, [FINAL, "latest"], movable={"latest"})

    assert [o.action for o in outcomes] == ["tagged", "moved"]
    latest = registry.resolve(repo, "latest")
    assert latest is not None and latest.digest == pushed.digest


def test_a_final_tag_at_another_digest_is_a_conflict_and_nothing_changes(
    token_registry: RegistryServer, tokens: TokenServer, repo: str
) -> None:
    pusher = token_pusher(token_registry, tokens, repo)
    other = pusher.image(repo, FINAL)
    pushed = pusher.image(repo, RC)
    registry = Registry(token_registry.host, RELEASER)
    puts_before = token_registry.manifest_puts(repo)

    with pytest.raises(ConflictError) as caught:
        promote_image(registry, repo, pushed.digest, ["latest", FINAL], movable={"latest"})

    assert caught.value.untouched
    assert f"{FINAL} is at {other.digest}" in caught.value.message
    assert token_registry.manifest_puts(repo) == puts_before
    final = registry.resolve(repo, FINAL)
    assert final is not None and final.digest == other.digest
    assert registry.resolve(repo, "latest") is None


def test_promote_uses_the_recorded_digest_even_if_the_rc_tag_moved(
    token_registry: RegistryServer, tokens: TokenServer, repo: str
) -> None:
    pusher = token_pusher(token_registry, tokens, repo)
    recorded = pusher.image(repo, RC)
    pusher.image(repo, RC)  # someone re-pushed the RC tag after `rc` recorded its digest
    registry = Registry(token_registry.host, RELEASER)

    promote_image(registry, repo, recorded.digest, [FINAL])

    final = registry.resolve(repo, FINAL)
    assert final is not None and final.raw == recorded.raw


def test_pull_only_credentials_cannot_push_and_say_so(
    token_registry: RegistryServer, tokens: TokenServer, repo: str
) -> None:
    pushed = token_pusher(token_registry, tokens, repo).image(repo, RC)
    registry = Registry(token_registry.host, READER)

    with pytest.raises(RegistryAccessError) as caught:
        registry.can_push(repo)
    assert caught.value.message == (
        f"the credentials from test reader may not push to {token_registry.host}/{repo} "
        "(insufficient_scope)"
    )
    assert isinstance(caught.value, BlockedError) and caught.value.hint
    # The token server was asked for push and granted pull only.
    last = [r for r in tokens.requests if r.subject == "reader"][-1]
    assert last.scopes == [f"repository:{repo}:pull,push"]
    assert last.granted == [{"type": "repository", "name": repo, "actions": ["pull"]}]

    with pytest.raises(RegistryAccessError):
        promote_image(registry, repo, pushed.digest, [FINAL])
    assert token_registry.manifest_puts(repo) == 1  # the test's own RC push
    assert registry.resolve(repo, FINAL) is None


def test_wrong_password_is_refused_clearly_and_nothing_changes(
    token_registry: RegistryServer, tokens: TokenServer, repo: str
) -> None:
    pushed = token_pusher(token_registry, tokens, repo).image(repo, RC)
    wrong = Credentials("releaser", "not-the-password", source="RCFLOW_REGISTRY_PASSWORD")
    registry = Registry(token_registry.host, wrong)

    with pytest.raises(RegistryAccessError) as caught:
        promote_image(registry, repo, pushed.digest, [FINAL])

    message = caught.value.message
    assert message == (
        f"the credentials from RCFLOW_REGISTRY_PASSWORD may not pull from "
        f"{token_registry.host}/{repo} (token server answered 401)"
    )
    assert "not-the-password" not in message + str(caught.value.hint)
    assert Registry(token_registry.host, READER).resolve(repo, FINAL) is None


def test_identity_token_from_docker_config(
    token_registry: RegistryServer, tokens: TokenServer, repo: str, tmp_path: Path
) -> None:
    pushed = token_pusher(token_registry, tokens, repo).image(repo, RC)
    config = tmp_path / "config.json"
    auths = {f"http://{token_registry.host}": {"identitytoken": "identity-token-of-releaser"}}
    config.write_text(json.dumps({"auths": auths}))
    creds = credentials_for(token_registry.host, {}, config)
    registry = Registry(token_registry.host, creds)

    registry.can_push(repo)
    promote_image(registry, repo, pushed.digest, [FINAL])

    final = registry.resolve(repo, FINAL)
    assert final is not None and final.digest == pushed.digest


# --- basic auth (htpasswd) and no auth ---------------------------------------------------------


def test_basic_auth_with_credentials_from_env(basic_registry: RegistryServer, repo: str) -> None:
    pushed = basic_pusher(basic_registry).image(repo, RC)
    prefix = "RCFLOW_REGISTRY_127_0_0_1_" + basic_registry.host.rsplit(":", 1)[1]
    env = {f"{prefix}_USERNAME": "ci", f"{prefix}_PASSWORD": "ci-pw"}
    registry = Registry(basic_registry.host, credentials_for(basic_registry.host, env))

    registry.can_push(repo)
    outcomes = promote_image(registry, repo, pushed.digest, [FINAL])

    assert [o.action for o in outcomes] == ["tagged"]
    final = registry.resolve(repo, FINAL)
    assert final is not None and final.raw == pushed.raw


def test_basic_auth_with_credentials_from_docker_config(
    basic_registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    pushed = basic_pusher(basic_registry).image(repo, RC)
    docker = tmp_path / ".docker"
    docker.mkdir()
    pair = base64.b64encode(b"ci:ci-pw").decode()
    (docker / "config.json").write_text(
        json.dumps({"auths": {basic_registry.host: {"auth": pair}}})
    )
    creds = credentials_for(basic_registry.host, {"HOME": str(tmp_path)})
    assert creds.source.endswith(f"({basic_registry.host})")

    promote_image(Registry(basic_registry.host, creds), repo, pushed.digest, [FINAL])

    assert basic_registry.manifest_puts(repo) == 2


def test_basic_auth_refusals(basic_registry: RegistryServer, repo: str) -> None:
    pushed = basic_pusher(basic_registry).image(repo, RC)
    wrong = Registry(basic_registry.host, Credentials("ci", "wrong-pw", source="RCFLOW_X"))
    with pytest.raises(RegistryAccessError) as caught:
        promote_image(wrong, repo, pushed.digest, [FINAL])
    assert "RCFLOW_X may not pull from" in caught.value.message
    assert "wrong-pw" not in caught.value.message

    with pytest.raises(RegistryAccessError) as caught:
        Registry(basic_registry.host).can_push(repo)
    assert caught.value.message.endswith("needs credentials to push (HTTP 401); none were found")
    assert "RCFLOW_REGISTRY_127_0_0_1_" in str(caught.value.hint)
    assert basic_registry.manifest_puts(repo) == 1


def test_anonymous_registry(open_registry: RegistryServer, repo: str) -> None:
    pushed = Pusher(open_registry.url, {}).index(repo, RC)
    registry = Registry(open_registry.host)
    registry.can_push(repo)
    promote_image(registry, repo, pushed.digest, [FINAL])
    final = registry.resolve(repo, FINAL)
    assert final is not None and final.raw == pushed.raw


def test_a_recorded_digest_the_repository_lost_is_a_conflict(
    open_registry: RegistryServer, repo: str
) -> None:
    Pusher(open_registry.url, {}).image(repo, RC)
    with pytest.raises(ConflictError, match="has no manifest sha256:"):
        promote_image(Registry(open_registry.host), repo, "sha256:" + "ab" * 32, [FINAL])
