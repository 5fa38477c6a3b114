"""Remote URLs: which GitHub repository (``owner/repo``) a git remote points at.

Pure text, no network: the preflight, `init` and the forge choice all read a remote's name
from its URL, and none of them should need the GitHub adapter for it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SCP = re.compile(r"(?:[^@/]+@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^:]+)")
_OWNER_REPO = re.compile(
    r"/*(?P<owner>[A-Za-z0-9][A-Za-z0-9-]*)/(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?/*"
)
PUBLIC_HOSTS = ("github.com", "www.github.com")


def github_repo(url: str, hosts: tuple[str, ...] = PUBLIC_HOSTS) -> str | None:
    """``owner/repo`` when ``url`` is a remote on one of hosts (https, ssh or scp-like)."""
    url = url.strip()
    path: str | None = None
    scp = _SCP.fullmatch(url)
    if scp is not None and "://" not in url:
        if scp.group("host").lower() in hosts:
            path = scp.group("path")
    else:
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        host = (parts.hostname or "").lower()
        if parts.scheme in ("https", "http", "ssh", "git") and host in hosts:
            path = parts.path
    if path is None:
        return None
    match = _OWNER_REPO.fullmatch(path)
    if match is None:
        return None
    return f"{match.group('owner')}/{match.group('repo')}"
