"""The context a command runs in, and the read-only views (status, log).

Kept apart from `commands` so that the read path imports no step, executor or validator:
`rcflow status` must stay near raw git's speed (DESIGN §13).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcflow.adapters.git import Git, TreeStore, discover_soon
from rcflow.errors import ConfigError
from rcflow.lazy_re import lazy
from rcflow.record import dataclass, field

# The configuration, observe and the forge load where they are used: `load_context` imports
# the configuration's modules while git finds the repository (DESIGN §13).
if TYPE_CHECKING:
    from rcflow.model.config import Config, PythonPackageConfig
    from rcflow.model.findings import Finding
    from rcflow.model.ledger import Event, RunIdentity
    from rcflow.model.plan import Plan
    from rcflow.model.registries import IndexFactory, RegistryFactory
    from rcflow.model.snapshot import Snapshot
    from rcflow.model.states import Release
    from rcflow.ports.forge import Forge, ReleaseFact
    from rcflow.ports.registry import PackageIndex, Registry
    from rcflow.preflight.facts import PreflightFacts

_SECTION = lazy(r'\s*\[\s*remote\s+"(?P<name>[^"]+)"\s*\]')
_URL = lazy(r"\s*url\s*=\s*(?P<url>.+?)\s*$")


@dataclass(frozen=True)
class Context:
    root: Path
    git_dir: Path
    config: Config
    git: Git
    forge: Forge
    # Registries and package indexes: the real ones (`open_registry`, `open_index`) unless a
    # test passes its own.
    registry: RegistryFactory = field(default_factory=lambda: open_registry)
    index: IndexFactory = field(default_factory=lambda: open_index)

    @cached_property
    def me(self) -> RunIdentity:
        """Who is acting; asked only by commands that write (one more git process)."""
        from rcflow.model.ledger import RunIdentity

        return RunIdentity.current(self.git.identity())


def load_context(path: Path, *, forge: str | None = None) -> Context:
    """The repository at path; `forge` overrides the configured one (rehearsals use "local")."""
    root, git_dir, load_config = _discover(path)
    config = load_config(root)
    git = Git(root, git_dir)
    return Context(root, git_dir, config, git, make_forge(config, git_dir, forge, git=git))


def _discover(path: Path) -> tuple[Path, Path, Callable[[Path], Config]]:
    """`Git.discover(path)`, with the configuration's reader loaded while git answers: its
    modules (tomllib's parser among them) take longer to import than git takes to run."""
    found = discover_soon(path)
    from rcflow.model.config import load_config

    root, git_dir = found()
    return root, git_dir, load_config


def make_forge(
    config: Config, git_dir: Path, override: str | None = None, *, git: Git | None = None
) -> Forge:
    url = remote_url(git_dir, config.remote)
    name = override or config.forge or _auto_forge(config, url)
    if name == "local":
        from rcflow.adapters.local_forge import FORGE_REF, LocalForge

        # Plumbing only (ls-tree, cat-file, hash-object, push) runs fine from the git dir.
        store = TreeStore(git or Git(git_dir, git_dir), config.remote, FORGE_REF)
        return LocalForge(store)
    from rcflow.adapters import github

    api = config.github_api_url or os.environ.get("GITHUB_API_URL") or github.PUBLIC_API
    repository = _github_repository(config, url, api)
    if not repository:
        raise ConfigError(
            f"{config.source}: forge 'github' cannot tell the repository from remote "
            f'{config.remote!r}: set github_repository = "owner/repo"'
        )
    return github.GitHubForge(repository, github.token_from_env(), api_url=api)


def _auto_forge(config: Config, url: str | None) -> str:
    if os.environ.get("GITHUB_REPOSITORY") or config.github_repository:
        return "github"
    if url is None or ("github" not in url.lower() and not config.github_api_url):
        return "local"  # without importing the GitHub adapter: `status` pays for every import
    from rcflow.adapters import github

    hosts = github.web_hosts(config.github_api_url or github.PUBLIC_API)
    return "github" if github.github_repo(url, hosts) else "local"


def remote_url(git_dir: Path, remote: str) -> str | None:
    """The remote's URL from the repository's own config file, without starting git.

    `status` must stay near git's own speed; one more git process for the URL is most of the
    margin. Includes and url rewrites are not followed: set `forge` explicitly if they matter.
    """
    common = git_dir
    commondir = git_dir / "commondir"
    if commondir.is_file():  # a linked worktree keeps its config in the main git dir
        common = (git_dir / commondir.read_text(encoding="utf-8").strip()).resolve()
    try:
        lines = (common / "config").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    section: str | None = None
    for line in lines:
        if line.lstrip().startswith("["):
            match = _SECTION.match(line)
            section = match.group("name") if match else None
        elif section == remote and (m := _URL.match(line)):
            return m.group("url").strip('"')
    return None


def status(ctx: Context) -> tuple[Snapshot, Release]:
    from rcflow.engine.observe import observe
    from rcflow.model.states import classify

    snap = observe(ctx.git, ctx.config, ctx.forge, with_commits=False)
    return snap, classify(snap, ctx.config)


def events(ctx: Context) -> tuple[Event, ...]:
    """The whole ledger, oldest first (commands read the checkpoint; this is the history)."""
    return tuple(ledger_page(ctx, limit=None, leases=True, oldest_first=True))


def open_registry(host: str, insecure: bool) -> Registry:
    """The registry at host with the credentials the environment or docker config gives.

    The adapters are imported when first used: a plan or a status never pays for them.
    """
    from rcflow.adapters.oci import Registry, credentials_for

    return Registry(host, credentials_for(host, os.environ), insecure=insecure)


def open_index(config: PythonPackageConfig) -> PackageIndex:
    """The package index with the password from the configured environment variable, or with
    a token minted through trusted publishing when the first upload (or its proof) needs one."""
    from rcflow.adapters.pyindex import (
        TOKEN_USERNAME,
        TRUSTED_SOURCE,
        PackageIndex,
        TrustedPublisher,
    )
    from rcflow.engine import registries

    if config.trusted_publishing:
        publisher = TrustedPublisher(
            config.upload_url,
            os.environ,
            # Read when the token is minted: the CLI sets it after this module is imported.
            on_token=lambda secret: registries.mask_secret(secret),
        )
        return PackageIndex(
            config.upload_url,
            config.simple_url,
            TOKEN_USERNAME,
            None,
            password_source=TRUSTED_SOURCE,
            minter=publisher.mint,
        )
    return PackageIndex(
        config.upload_url,
        config.simple_url,
        config.username,
        os.environ.get(config.password_env) or None,
        password_source=config.password_env,
    )


def discover(path: Path) -> tuple[Path, Path]:
    """(work tree root, absolute git dir) of the repository containing path."""
    return Git.discover(path)


def init_ports(root: Path, git_dir: Path) -> tuple[Git, Forge]:
    """What `init` writes through: the repository, and a forge it never touches."""
    from rcflow.adapters.local_forge import FORGE_REF, LocalForge

    git = Git(root, git_dir)
    return git, LocalForge(TreeStore(git, "origin", FORGE_REF))


def webhook(config: Config) -> Callable[[Mapping[str, Any]], None] | None:
    """The alert webhook `[notify] webhook_env` names, ready to post; None when it is not set.

    The URL stays inside the returned function: it carries credentials and is never shown.
    """
    url = os.environ.get(config.notify_webhook_env) if config.notify_webhook_env else None
    if not url:
        return None
    from rcflow.adapters import notify

    return functools.partial(notify.post_json, url)


# -- plain git for the rehearsal sandbox: set-up outside any context (init, clone, push) ---------


def sandbox_git(cwd: Path, *args: str) -> str:
    from rcflow.adapters import git

    return git.run_git(cwd, *args)


def repository_root(path: Path) -> Path:
    return Git.discover(path)[0]


def clone_mirror(url: str, dest: Path) -> None:
    from rcflow.adapters import git

    git.clone_mirror(url, dest)


def clone(url: str, dest: Path, branch: str | None = None) -> None:
    from rcflow.adapters import git

    git.clone(url, dest, branch)


# -- doctor where forge = "github" names no repository (issue 16) -------------------------------


def _github_repository(config: Config, url: str | None, api: str) -> str | None:
    """owner/repo: configured, from the remote's GitHub URL, or GITHUB_REPOSITORY (Actions)."""
    from rcflow.adapters import github

    return (
        config.github_repository
        or (github.github_repo(url, github.web_hosts(api)) if url else None)
        or os.environ.get("GITHUB_REPOSITORY")
    )


class UnnamedGitHub:
    """`forge = "github"` where no GitHub repository can be named: what doctor reads instead.

    A clone of the project off another host (a mirror, a bare copy) outside GitHub Actions cannot
    reach GitHub's facts; doctor runs every other check and says which it skipped. Its releases
    cannot be read (the snapshot's forge error, so no drift is made up from their absence) and
    it refuses every write: no step ever runs with it.
    """

    name = "github (repository unknown)"

    def __init__(self, config: Config, url: str | None) -> None:
        self.source = config.source
        self.remote = config.remote
        self.url = url

    @property
    def reason(self) -> str:
        where = f"({self.url})" if self.url else "(not set)"
        return (
            f'forge = "github", but remote {self.remote!r} {where} is no GitHub repository and '
            "GITHUB_REPOSITORY is not set"
        )

    def finding(self) -> Finding:
        from rcflow.model.findings import Finding

        return Finding(
            "forge.github-unknown",
            "warning",
            f"{self.reason}: the GitHub checks (token, rulesets, releases, the repository's "
            "name) did not run",
            "they run in GitHub Actions; here, set GITHUB_REPOSITORY=owner/repo (and "
            "GITHUB_TOKEN) or point the remote at github.com",
            self.source,
        )

    def _refuse(self) -> ConfigError:
        return ConfigError(f'{self.source}: {self.reason}: set github_repository = "owner/repo"')

    def releases(self) -> Mapping[str, ReleaseFact]:
        raise self._refuse()

    def download_asset(self, tag: str, name: str, dest: Path) -> str:
        raise self._refuse()

    def create_release(
        self, tag: str, title: str, notes: str, *, prerelease: bool, draft: bool
    ) -> None:
        raise self._refuse()

    def upload_asset(self, tag: str, path: Path, name: str, *, sha256: str | None = None) -> None:
        raise self._refuse()

    def copy_asset(self, source: str, tag: str, name: str, sha256: str) -> str:
        raise self._refuse()

    def delete_asset(self, tag: str, name: str) -> None:
        raise self._refuse()

    def publish_release(self, tag: str, *, latest: bool) -> None:
        raise self._refuse()

    def set_latest(self, tag: str) -> None:
        raise self._refuse()

    def retract_release(self, tag: str, note: str) -> None:
        raise self._refuse()

    def delete_release(self, tag: str) -> None:
        raise self._refuse()


def load_doctor_context(path: Path, *, strict: bool = False) -> Context:
    """`load_context` for doctor: where `forge = "github"` names no repository, the context
    carries an `UnnamedGitHub` (doctor reports it as a warning) instead of failing; `strict`
    (`doctor --alert`, which writes to GitHub) fails as every other command does."""
    root, git_dir, load_config = _discover(path)
    config = load_config(root)
    git = Git(root, git_dir)
    if not strict and config.forge == "github":
        from rcflow.adapters import github

        url = remote_url(git_dir, config.remote)
        api = config.github_api_url or os.environ.get("GITHUB_API_URL") or github.PUBLIC_API
        if not _github_repository(config, url, api):
            return Context(root, git_dir, config, git, UnnamedGitHub(config, url))
    return Context(root, git_dir, config, git, make_forge(config, git_dir, git=git))


# -- what the preflight checks read ----------------------------------------------------------


def preflight_facts(
    ctx: Context, snap: Snapshot, release: Release, plan: Plan | None = None
) -> PreflightFacts:
    """What the preflight checks read, for a step's plan or (no plan) for doctor.

    Built here rather than beside the step runner so that `doctor` does not import the
    executor and every effect handler; the checks' modules load when they run.
    """
    from rcflow.preflight.facts import PreflightFacts

    url = ctx.git.config_value(f"remote.{ctx.config.remote}.url") or ""
    return PreflightFacts(
        ctx.root,
        ctx.git_dir,
        ctx.config,
        snap,
        release,
        ctx.forge,
        url,
        plan=plan,
        registry=ctx.registry,
        index=ctx.index,
        dist_sums=functools.partial(_dist_sums, ctx.git_dir, ctx.forge),
    )


def _dist_sums(git_dir: Path, forge: Forge, source: str, scratch: Path) -> Mapping[str, str] | None:
    from rcflow.engine import registries

    return registries.dist_sums(git_dir, forge, source, scratch)


def ledger_page(
    ctx: Context, *, limit: int | None, leases: bool, oldest_first: bool
) -> Iterator[Event]:
    """The newest `limit` events (None: all), lease events only with `leases`, read as git walks
    the ledger, newest first unless oldest_first; one more than limit when older ones exist
    (what `rcflow log` says to page on with)."""
    from rcflow.engine.observe import history, ledger_tip

    tip = ledger_tip(ctx.git, ctx.config)
    if limit is not None and oldest_first:
        # The newest page, turned around: `limit + 1` events in memory, never the ledger.
        page = list(ledger_page(ctx, limit=limit, leases=leases, oldest_first=False))
        more, page = page[limit:], page[:limit]
        yield from reversed(page)
        yield from more
        return
    shown = 0
    for event in history(ctx.git, tip, oldest_first=oldest_first):
        if not leases and event.kind in LEASE_EVENTS:
            continue
        yield event
        shown += 1
        if limit is not None and shown > limit:
            return


# Every mutating run takes and releases the lease: half the ledger. `rcflow log --all` shows them.
LEASE_EVENTS = frozenset({"lease_acquired", "lease_released", "lease_broken"})
