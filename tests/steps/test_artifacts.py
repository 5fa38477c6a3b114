"""Images and packages through the lifecycle, against a real registry and a real index.

One distribution registry behind our bearer-token server (the GHCR / Docker Hub flow) and one
pypiserver, both on 127.0.0.1, per module; each test works in its own image repository and
Python project, so they share the servers. Requests are counted in the servers' own logs.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from realservers.images import OCI_INDEX, Pushed, Pusher
from realservers.pypi import PypiServer, build_wheel, start_pypiserver
from realservers.registry import RegistryServer, start_registry
from realservers.tokens import TokenServer, User

from rcflow.adapters.oci import Credentials, Registry
from rcflow.adapters.pyindex import DistFile, PackageIndex
from rcflow.commands import run as commands
from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.rollback import RollbackArgs
from rcflow.steps.validate import ValidateArgs
from tests.support.crash import Attempt, Crash, crash_each_write
from tests.support.ledger import events
from tests.support.project import Hooks, Project, copy_project

RC, FINAL = "v1.4.0-rc.1", "v1.4.0"
ADMIN = ("admin", "adm1n-pw")
RELEASER = ("releaser", "rel3ase-pw")
READER = ("reader", "r3ad-pw")
INDEX_USER, INDEX_PASSWORD = "uploader", "upl0ad-pw"
BUILD = Path(__file__).with_name("artifact_build.py")


# --- servers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifact-servers")


@pytest.fixture(scope="module")
def tokens(servers_dir: Path) -> Iterator[TokenServer]:
    server = TokenServer(
        users={
            ADMIN[0]: User(ADMIN[1], {"*": {"pull", "push", "delete"}}),
            RELEASER[0]: User(RELEASER[1], {"*": {"pull", "push"}}),
            READER[0]: User(READER[1], {"*": {"pull"}}),
        }
    )
    server.start(servers_dir)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def registry(servers_dir: Path, tokens: TokenServer) -> Iterator[RegistryServer]:
    server = start_registry(servers_dir / "registry", tokens=tokens)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pypi(servers_dir: Path) -> Iterator[PypiServer]:
    server = start_pypiserver(servers_dir / "pypi", {INDEX_USER: INDEX_PASSWORD})
    yield server
    server.stop()


class World:
    """One test's image repository and Python project on the shared servers."""

    def __init__(
        self, registry: RegistryServer, tokens: TokenServer, pypi: PypiServer, name: str
    ) -> None:
        self.registry, self.tokens, self.pypi = registry, tokens, pypi
        self.repo = f"acme/{name}"
        self.image = f"{registry.host}/{self.repo}"
        self.project = f"demo-{name}"
        self.prefix = "RCFLOW_REGISTRY_" + re.sub(r"[^A-Z0-9]", "_", registry.host.upper())

    @property
    def admin(self) -> Pusher:
        """Writes as an administrator would (the image build of the release pipeline)."""
        access = [{"type": "repository", "name": self.repo, "actions": ["pull", "push", "delete"]}]
        token = self.tokens.mint(ADMIN[0], access)
        return Pusher(self.registry.url, {"Authorization": f"Bearer {token}"})

    def manifest(self, tag: str) -> tuple[str, str, bytes] | None:
        """(digest, media type, bytes) of the tag, read as an administrator."""
        client = Registry(self.registry.host, Credentials(*ADMIN, source="admin"))
        found = client.resolve(self.repo, tag)
        return None if found is None else (found.digest, found.media_type, found.raw)

    def digest(self, tag: str) -> str | None:
        found = self.manifest(tag)
        return found[0] if found else None

    def index_files(self) -> dict[str, str]:
        index = PackageIndex(self.pypi.url, self.pypi.simple_url, INDEX_USER, INDEX_PASSWORD)
        return index.files(self.project)

    def puts(self) -> int:
        return self.registry.manifest_puts(self.repo)

    def uploads(self) -> list[str]:
        return [name for name in self.pypi.stored() if DistFile_project(name) == self.project]

    def config(self, *, latest: bool = True, build: str = "final", extra: str = "") -> str:
        command = f"{sys.executable} {BUILD} {self.project} {build}"
        return (
            f'[assets]\nfiles = ["dist/*"]\nbuild = {json.dumps(command)}\n'
            f'[[image]]\nname = "{self.image}"\nlatest = {str(latest).lower()}\n'
            f'[python_package]\nupload_url = "{self.pypi.url}"\n'
            f'simple_url = "{self.pypi.simple_url}"\nusername = "{INDEX_USER}"\n'
            '[[validate]]\nname = "unit"\nrun = "true"\n' + extra
        )

    def credentials(
        self,
        monkeypatch: pytest.MonkeyPatch,
        user: tuple[str, str] = RELEASER,
        index_password: str = INDEX_PASSWORD,
    ) -> None:
        monkeypatch.setenv(f"{self.prefix}_USERNAME", user[0])
        monkeypatch.setenv(f"{self.prefix}_PASSWORD", user[1])
        monkeypatch.setenv("RCFLOW_INDEX_PASSWORD", index_password)


def DistFile_project(filename: str) -> str:
    return re.sub(r"[-_.]+", "-", filename.split("-", 1)[0]).lower()


@pytest.fixture
def world(
    request: pytest.FixtureRequest,
    registry: RegistryServer,
    tokens: TokenServer,
    pypi: PypiServer,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:30]
    w = World(registry, tokens, pypi, f"{name}-{secrets.token_hex(3)}")
    w.credentials(monkeypatch)
    return w


def cut_rc(p: Project, w: World, *, image: str = "index") -> Pushed:
    """bump, push the RC's image (a multi-arch index by default), rc, validate."""
    assert p.step("bump", BumpArgs("auto")).status == "applied"
    pushed = w.admin.index(w.repo, RC) if image == "index" else w.admin.image(w.repo, RC)
    assert p.step("rc", RcArgs()).status == "applied"
    assert p.step("validate", ValidateArgs()).status == "applied"
    return pushed


def rc_sums(p: Project) -> dict[str, str]:
    """The RC's SHA256SUMS as the forge holds it (what validation saw)."""
    text = (p.forge_asset(RC, "SHA256SUMS") or b"").decode()
    return {line.split()[1]: line.split()[0] for line in text.splitlines()}


# --- the happy path ---------------------------------------------------------------------------


def test_promote_tags_the_rc_digest_publishes_the_rc_dists_and_a_rerun_changes_nothing(
    make_project: Any, world: World
) -> None:
    p = make_project(config=world.config())
    pushed = cut_rc(p, world)
    resolved = events(p, "image_resolved")
    assert [(e["key"], e["data"]["digest"], e["data"]["index"]) for e in resolved] == [
        (f"{RC}/{world.image}", pushed.digest, True)
    ]
    dists = {n: d for n, d in rc_sums(p).items() if n.endswith((".whl", ".tar.gz"))}
    assert len(dists) == 2
    assert world.index_files() == {}  # publish_rc is off: nothing at rc

    result = p.cli("promote")

    assert result.exit_code == 0, result.stderr
    # The final and latest are the RC's index, byte for byte: an index stays an index.
    for tag in (FINAL, "latest"):
        assert world.manifest(tag) == (pushed.digest, OCI_INDEX, pushed.raw)
    promoted = events(p, "image_promoted")
    assert [e["key"] for e in promoted] == [f"{FINAL}/{world.image}"]
    assert promoted[0]["data"]["digest"] == pushed.digest
    assert promoted[0]["data"]["rc"] == RC
    assert promoted[0]["data"]["tags"] == [FINAL, "latest"]
    # The index holds exactly the RC's dists, uploaded once, verified by the index's own sha256.
    assert world.index_files() == dists
    assert sorted(world.uploads()) == sorted(dists)
    (published,) = events(p, "package_published")
    assert published["key"] == f"{FINAL}/{world.pypi.url.split('/')[2]}"
    assert published["data"]["files"] == dists
    assert published["data"]["rc"] == RC
    # Images and packages ship before the final tag is created.
    kinds = p.kinds()
    assert kinds.index("image_promoted") < kinds.index("package_published")
    assert kinds.index("promoting") < kinds.index("image_promoted")
    assert p.remote_tags()[FINAL] == p.remote_tags()[RC]

    status = p.status()
    shown = {(a["event"], a.get("digest")) for a in status["artifacts"]}
    assert ("image_promoted", pushed.digest) in shown
    assert ("package_published", None) in shown
    human = p.cli("status").stdout
    assert f"{world.image} {FINAL}, latest at {pushed.digest[:19]}" in human
    assert f"promoted from {RC}, verified" in human
    log = p.cli("log").stdout
    assert "image_resolved" in log and "image_promoted" in log
    assert log.count(pushed.digest) == 2  # recorded at rc, promoted at the final: the same bytes

    puts, uploads, world_before, ledger = world.puts(), world.uploads(), p.world(), p.ledger()
    again = p.cli("promote")
    assert again.exit_code == 0, again.stderr
    assert "Already done" in again.stdout
    assert (world.puts(), world.uploads()) == (puts, uploads)  # no PUT, no upload
    assert (p.world(), p.ledger()) == (world_before, ledger)


def test_publish_rc_publishes_the_rc_dists_at_rc_and_the_final_ones_at_promote(
    make_project: Any, world: World
) -> None:
    p = make_project(
        config=world.config(latest=False, build="both").replace(
            "[python_package]\n", "[python_package]\npublish_rc = true\n"
        )
    )
    cut_rc(p, world, image="single")
    rc_files = world.index_files()
    assert sorted(rc_files) == sorted(n for n in rc_sums(p) if "1.4.0rc1" in n)
    (at_rc,) = events(p, "package_published")
    assert (at_rc["key"], at_rc["data"]["version"]) == (
        f"{RC}/{world.pypi.url.split('/')[2]}",
        "1.4.0rc1",
    )

    assert p.cli("promote").exit_code == 0
    assert world.digest("latest") is None  # latest = false
    finals = {n: d for n, d in rc_sums(p).items() if "-1.4.0." in n or "-1.4.0-" in n}
    assert len(finals) == 2
    assert world.index_files() == {**rc_files, **finals}


# --- preflight --------------------------------------------------------------------------------


def test_rc_without_its_image_is_refused_naming_the_image(make_project: Any, world: World) -> None:
    p = make_project(config=world.config())
    assert p.step("bump", BumpArgs("auto")).status == "applied"
    world_before, ledger = p.world(), p.ledger()

    result = p.cli("rc")

    assert result.exit_code == 3, result.stderr
    assert "rc refused by preflight: nothing was changed" in result.stderr
    assert f"image.rc-missing: {world.image}: the RC image {world.image}:{RC} does not exist" in (
        " ".join(result.stderr.split())
    )
    assert (p.world(), p.ledger()) == (world_before, ledger)
    # The pipeline learns the tag to build the image under from a dry run that waives the check.
    planned = p.cli("rc", "--dry-run", "--json", "--skip-check", "image.rc-missing")
    assert planned.exit_code == 0, planned.stderr
    assert planned.json()["plan"]["tag"] == RC
    assert (p.world(), p.ledger()) == (world_before, ledger)


def test_wrong_credentials_are_caught_before_any_tag_is_pushed(
    make_project: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = make_project(config=world.config())
    cut_rc(p, world, image="single")
    world.credentials(monkeypatch, user=READER, index_password="n0t-the-index-pw")
    world_before, ledger, puts = p.world(), p.ledger(), world.puts()

    result = p.cli("promote")

    assert result.exit_code == 3, result.stderr
    err = " ".join(result.stderr.split())
    assert "promote refused by preflight: nothing was changed" in err
    assert f"image.push-denied: {world.image}: the credentials from {world.prefix}_PASSWORD " in err
    assert "package.upload-denied: 127.0.0.1:" in err
    assert "refused the credentials from RCFLOW_INDEX_PASSWORD" in err
    assert READER[1] not in result.stderr and "n0t-the-index-pw" not in result.stderr
    assert (p.world(), p.ledger(), world.puts()) == (world_before, ledger, puts)
    assert world.digest(FINAL) is None
    assert world.index_files() == {}
    assert FINAL not in p.remote_tags()


def test_a_final_tag_at_another_digest_is_a_conflict_and_nothing_moves(
    make_project: Any, world: World
) -> None:
    p = make_project(config=world.config())
    cut_rc(p, world, image="single")
    stray = world.admin.image(world.repo, FINAL)
    world_before, ledger = p.world(), p.ledger()

    result = p.cli("promote")

    assert result.exit_code == 3, result.stderr
    assert "image.tag-conflict" in result.stderr
    assert stray.digest in result.stderr
    assert (p.world(), p.ledger()) == (world_before, ledger)

    # Waived, the executor still refuses before its first PUT: a conflict, nothing tagged.
    puts = world.puts()
    waived = p.cli("promote", "--skip-check", "image.tag-conflict")
    assert waived.exit_code == 4, waived.stderr
    assert f"{FINAL} is at {stray.digest}" in waived.stderr
    assert world.puts() == puts
    assert world.digest(FINAL) == stray.digest
    assert world.digest("latest") is None
    assert FINAL not in p.remote_tags()
    assert world.index_files() == {}


def test_the_index_holding_another_file_under_the_same_name_is_refused(
    make_project: Any, world: World, tmp_path: Path
) -> None:
    p = make_project(config=world.config())
    cut_rc(p, world, image="single")
    wheel = next(n for n in rc_sums(p) if n.endswith(".whl"))
    (tmp_path / "other").mkdir()
    other = build_wheel(tmp_path / "other", world.project, "1.4.0", payload="other bytes")
    assert other.name == wheel
    index = PackageIndex(world.pypi.url, world.pypi.simple_url, INDEX_USER, INDEX_PASSWORD)
    assert index.upload(DistFile.read(other)) == "uploaded"
    world_before, ledger, puts = p.world(), p.ledger(), world.puts()

    result = p.cli("promote")

    assert result.exit_code == 3, result.stderr
    err = " ".join(result.stderr.split())
    assert "package.conflict: 127.0.0.1:" in err
    assert f"the index already has {wheel} with sha256 {sha256(other)}" in err
    assert (p.world(), p.ledger(), world.puts()) == (world_before, ledger, puts)
    assert world.index_files() == {wheel: sha256(other)}  # never replaced, no .post1


def test_a_partial_upload_is_finished_by_uploading_only_the_rest(
    make_project: Any, world: World
) -> None:
    p = make_project(config=world.config())
    cut_rc(p, world, image="single")
    sums = rc_sums(p)
    wheel = next(n for n in sums if n.endswith(".whl"))
    sdist = next(n for n in sums if n.endswith(".tar.gz"))
    # A run that uploaded the wheel, then died (the same bytes: taken from the RC's assets).
    index = PackageIndex(world.pypi.url, world.pypi.simple_url, INDEX_USER, INDEX_PASSWORD)
    # rc removed its stage once the forge held every asset: the forge keeps the one copy.
    assert not (p.root / ".git" / "rcflow" / "assets" / RC).exists()
    staged = p.base / wheel
    staged.write_bytes(p.forge_asset(RC, wheel) or b"")
    assert index.upload(DistFile.read(staged)) == "uploaded"

    assert p.cli("promote").exit_code == 0

    assert world.uploads() == [wheel, sdist]
    assert world.index_files() == {wheel: sums[wheel], sdist: sums[sdist]}
    (published,) = events(p, "package_published")
    assert published["data"]["uploaded"] == [sdist]


def test_dists_of_the_rc_version_cannot_become_the_final(make_project: Any, world: World) -> None:
    p = make_project(config=world.config(build="rc"))
    cut_rc(p, world, image="single")

    result = p.cli("promote")

    assert result.exit_code == 3, result.stderr
    assert "hold no dists of 1.4.0 matching *.whl, *.tar.gz (dist versions found: 1.4.0rc1)" in (
        " ".join(result.stderr.split())
    )


# --- crashes ----------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reset_artifacts(w: World, rc: Pushed) -> None:
    """The registry and index as before the promotion: only the RC's image, no dists."""
    for tag in (FINAL, "latest"):
        digest = w.digest(tag)
        if digest is not None:
            # Deleting the manifest untags every tag on it (the RC's too): put the RC back after.
            response = requests.delete(
                f"{w.registry.url}/v2/{w.repo}/manifests/{digest}",
                headers=dict(w.admin.headers),
                timeout=10,
            )
            assert response.status_code == 202, response.text
    w.admin.manifest(w.repo, RC, rc.media_type, json.loads(rc.raw))
    assert w.digest(RC) == rc.digest and w.digest(FINAL) is None and w.digest("latest") is None
    for path in w.pypi.packages.iterdir():
        if DistFile_project(path.name) == w.project:
            path.unlink()


def outcome(p: Project, w: World) -> dict[str, Any]:
    """What a finished promotion leaves, comparable between copies (upload order aside)."""
    status = p.status()
    ledger = p.ledger()
    return {
        "remote_tags": p.remote_tags(),
        "kinds": p.kinds(),
        "images": {t: w.digest(t) for t in (RC, FINAL, "latest")},
        "image_promoted": [
            {k: e["data"][k] for k in ("image", "tags", "digest", "rc")}
            for e in ledger
            if e["kind"] == "image_promoted"
        ],
        "package_published": [
            {k: e["data"][k] for k in ("index", "rc", "files")}
            for e in ledger
            if e["kind"] == "package_published"
        ],
        "index": w.index_files(),
        "forge": p.world()["forge"],
        "state": {k: status[k] for k in ("state", "version", "tag", "next", "problems")},
    }


def test_crash_after_every_write_then_resume_matches_an_uninterrupted_run(
    make_project: Any, world: World, tmp_path: Path
) -> None:
    template = make_project(config=world.config())
    rc = cut_rc(template, world, image="single")
    twin = copy_project(template, tmp_path / "twin")
    assert twin.step("promote", PromoteArgs()).status == "applied"
    expected = outcome(twin, world)
    assert expected["images"] == {RC: rc.digest, FINAL: rc.digest, "latest": rc.digest}
    assert len(expected["index"]) == 2

    def start(name: str) -> Project:
        reset_artifacts(world, rc)
        return copy_project(template, tmp_path / name)

    def resume(crash: Attempt) -> None:
        p = crash.project
        rerun = p.cli("promote")

        assert rerun.exit_code == 0, (crash.where, rerun.stderr)
        got = outcome(p, world)
        assert got == expected, (crash.where, " ".join(got["kinds"]), " ".join(expected["kinds"]))
        shutil.rmtree(p.base)

    crashes = crash_each_write(start, "promote", PromoteArgs(), resume)
    # Every registry PUT and index upload was interrupted in turn, among the git and forge writes.
    assert crashes.count("put") == 2  # the final tag, latest
    assert crashes.count("upload") == 2  # the wheel, the sdist
    assert {"create_tag", "push", "commit_tree_files", "create_release"} <= set(crashes)


def test_crash_between_the_retag_and_its_verification_resumes_without_a_put(
    make_project: Any, world: World
) -> None:
    p = make_project(config=world.config())
    rc = cut_rc(p, world, image="single")
    ctx = p.ctx()
    puts_done = 0

    def registry(host: str, insecure: bool) -> Registry:
        from rcflow.commands.context import open_registry

        client = open_registry(host, insecure)
        put, resolve = client.put, client.resolve

        def counting_put(*args: Any) -> str:
            nonlocal puts_done
            puts_done += 1
            return put(*args)

        def crashing_resolve(*args: Any) -> Any:
            if puts_done == 2:  # both tags written; this is the verification
                raise Crash("injected failure at verification")
            return resolve(*args)

        client.put, client.resolve = counting_put, crashing_resolve  # type: ignore[method-assign]
        return client

    import dataclasses

    with pytest.raises(Crash):
        commands.run_step(
            dataclasses.replace(ctx, registry=registry),
            "promote",
            PromoteArgs(),
            dry_run=False,
            hooks=Hooks(),
        )
    assert world.digest(FINAL) == world.digest("latest") == rc.digest
    assert not events(p, "image_promoted")
    assert FINAL not in p.remote_tags()
    puts = world.puts()

    assert p.cli("promote").exit_code == 0

    assert world.puts() == puts  # both tags were already at the digest: skipped, verified
    (promoted,) = events(p, "image_promoted")
    assert promoted["data"]["outcomes"] == {FINAL: "skipped", "latest": "skipped"}
    assert p.remote_tags()[FINAL] == p.remote_tags()[RC]
    assert p.status()["state"] == "released"


# --- rollback ---------------------------------------------------------------------------------


def test_rollback_of_a_release_moves_latest_back_and_keeps_every_versioned_tag(
    make_project: Any, world: World
) -> None:
    p = make_project(config=world.config().split("[python_package]")[0])
    first = cut_rc(p, world, image="single")
    assert p.cli("promote").exit_code == 0
    p.write("feature.py", "def feature():\n    return 43\n")
    p.commit("feat: answer 43")
    p.push()
    assert p.step("bump", BumpArgs("auto")).status == "applied"
    second = world.admin.image(world.repo, "v1.5.0-rc.1")
    assert p.step("rc", RcArgs()).status == "applied"
    assert p.step("validate", ValidateArgs()).status == "applied"
    assert p.cli("promote").exit_code == 0
    assert world.digest("latest") == world.digest("v1.5.0") == second.digest

    result = p.cli("rollback", "--reason", "broken")

    assert result.exit_code == 0, result.stderr
    assert world.digest("latest") == first.digest
    assert world.digest("v1.5.0") == second.digest  # a versioned tag is never deleted
    assert world.digest(FINAL) == first.digest
    (moved,) = events(p, "image_tag_moved")
    assert (moved["key"], moved["data"]["digest"], moved["data"]["to"]) == (
        f"v1.5.0/{world.image}",
        first.digest,
        FINAL,
    )
    (retracted,) = events(p, "retracted")
    assert retracted["data"]["images"] == {world.image: first.digest}
    puts = world.puts()
    assert p.cli("rollback", "v1.5.0").exit_code == 0
    assert world.puts() == puts


def test_an_interrupted_rollback_moves_latest_when_finished(
    make_project: Any, world: World, tmp_path: Path
) -> None:
    """The decision is recorded first; a run that died before the PUT is finished by the next."""
    p = make_project(config=world.config().split("[python_package]")[0])
    first = cut_rc(p, world, image="single")
    assert p.cli("promote").exit_code == 0
    p.write("feature.py", "def feature():\n    return 43\n")
    p.commit("feat: answer 43")
    p.push()
    assert p.step("bump", BumpArgs("auto")).status == "applied"
    world.admin.image(world.repo, "v1.5.0-rc.1")
    for step, args in (("rc", RcArgs()), ("validate", ValidateArgs()), ("promote", PromoteArgs())):
        assert p.step(step, args).status == "applied"
    ctx = _fail_first(p.ctx(), "put")
    with pytest.raises(Crash):
        commands.run_step(ctx, "rollback", RollbackArgs(), dry_run=False, hooks=Hooks())
    assert p.kinds()[-1] == "retracted"
    assert p.status()["state"] == "retracted"

    assert p.cli("rollback").exit_code == 0
    assert world.digest("latest") == first.digest
    assert len(events(p, "image_tag_moved")) == 1


def test_rollback_to_a_final_made_before_rcflow_resolves_its_image_and_moves_latest_there(
    make_project: Any, world: World
) -> None:
    """v1.3.0 was released by hand: the registry has its image, the ledger no digest of it."""
    p = make_project(config=world.config().split("[python_package]")[0])
    old = world.admin.image(world.repo, "v1.3.0")
    new = cut_rc(p, world, image="single")
    assert p.cli("promote").exit_code == 0
    assert world.digest("latest") == new.digest

    plan = p.cli("rollback", "--dry-run")
    assert plan.exit_code == 0, plan.stderr
    assert "goes back to v1.3.0, whose digest is not recorded" in plan.stdout
    assert f"record the digest of {world.image}:v1.3.0 (resolved on the registry" in plan.stdout

    ctx = _fail_first(p.ctx(), "put")  # stopped after the digest was resolved and recorded
    with pytest.raises(Crash):
        commands.run_step(ctx, "rollback", RollbackArgs(), dry_run=False, hooks=Hooks())
    assert world.digest("latest") == new.digest
    (resolved,) = events(p, "image_resolved")[-1:]
    assert (resolved["key"], resolved["data"]["digest"]) == (f"v1.3.0/{world.image}", old.digest)

    result = p.cli("rollback")

    assert result.exit_code == 0, result.stderr
    assert world.digest("latest") == old.digest
    assert world.digest(FINAL) == new.digest  # a versioned tag stays
    (moved,) = events(p, "image_tag_moved")
    assert (moved["data"]["digest"], moved["data"]["to"]) == (old.digest, "v1.3.0")
    assert [e["key"] for e in events(p, "image_resolved")].count(f"v1.3.0/{world.image}") == 1
    puts = world.puts()
    again = p.cli("rollback")
    assert again.exit_code == 0 and "Already done" in again.stdout
    assert world.puts() == puts


def test_rollback_to_a_pre_rcflow_final_missing_from_the_registry_says_what_to_push(
    make_project: Any, world: World
) -> None:
    p = make_project(config=world.config().split("[python_package]")[0])
    new = cut_rc(p, world, image="single")
    assert p.cli("promote").exit_code == 0

    ledger = p.ledger()

    result = p.cli("rollback")

    assert result.exit_code == 3, result.stderr
    assert f"{world.image}:v1.3.0 does not exist, so latest cannot go back to v1.3.0" in (
        result.stderr
    )
    assert "nothing was changed" in result.stderr
    assert p.ledger() == ledger
    assert world.digest("latest") == new.digest
    old = world.admin.image(world.repo, "v1.3.0")
    assert p.cli("rollback").exit_code == 0
    assert world.digest("latest") == old.digest


def _fail_first(ctx: Any, name: str) -> Any:
    import dataclasses

    from rcflow.commands.context import open_registry

    def registry(host: str, insecure: bool) -> Registry:
        client = open_registry(host, insecure)

        def fail(*args: Any) -> Any:
            raise Crash(f"injected failure at {name}")

        setattr(client, name, fail)
        return client

    return dataclasses.replace(ctx, registry=registry)
