"""pypiserver from the project venv, and tiny wheels and sdists built by hand (no build backend)."""

from __future__ import annotations

import importlib.util
import io
import re
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from realservers import IN_CI, Process, free_port
from realservers.registry import htpasswd_line


@dataclass
class PypiServer:
    url: str  # upload URL; the simple API is at url + "simple/"
    packages: Path
    process: Process

    @property
    def simple_url(self) -> str:
        return self.url + "simple/"

    def stored(self) -> list[str]:
        """File names pypiserver logged as stored, in order (its own record of uploads)."""
        return re.findall(r"stored '([^']+)'", self.process.log())

    def stop(self) -> None:
        self.process.stop()


def start_pypiserver(
    directory: Path, users: dict[str, str], *, hash_algo: str = "sha256"
) -> PypiServer:
    """`pypi-server run` with uploads, downloads and listings behind htpasswd, never PyPI.

    `--disable-fallback`: a project it lacks is a 404, not a redirect to pypi.org (the tests
    must never reach the internet). The password file uses apr1-md5 (`htpasswd -m`), which
    passlib (pypiserver's htpasswd reader) verifies without the optional bcrypt package.
    """
    if importlib.util.find_spec("pypiserver") is None:  # the dev extra installs it
        message = "pypiserver is not installed (pip install -e '.[dev]')"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    packages = directory / "packages"
    packages.mkdir(parents=True)
    htpasswd = directory / "htpasswd"
    htpasswd.write_text("".join(htpasswd_line(u, p, "-m") for u, p in users.items()))
    port = free_port()
    argv = [
        *(sys.executable, "-m", "pypiserver", "run", "-v"),
        *("-i", "127.0.0.1", "-p", str(port)),
        *("-P", str(htpasswd), "-a", "update,download,list"),
        *("--disable-fallback", "--hash-algo", hash_algo, "--server", "wsgiref"),
        str(packages),
    ]
    process = Process(argv, directory / "pypiserver.log", cwd=directory)
    process.wait_listening(port)
    server = PypiServer(f"http://127.0.0.1:{port}/", packages, process)
    deadline = time.monotonic() + 10
    while requests.get(server.url + "health", timeout=5).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"pypiserver is not healthy: {process.log()[-2000:]}")
        time.sleep(0.05)
    return server


def metadata(name: str, version: str) -> str:
    return (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        "Summary: A test package\nRequires-Python: >=3.11\n"
        "Classifier: Programming Language :: Python :: 3\n"
        "Classifier: License :: OSI Approved :: MIT License\n"
        "Requires-Dist: requests>=2\n"
        "Description-Content-Type: text/markdown\n\n# Demo\n\nThe description.\n"
    )


def build_wheel(directory: Path, name: str, version: str, payload: str = "") -> Path:
    """A minimal valid wheel; a different payload gives the same file name with other bytes."""
    dist = re.sub(r"[-_.]+", "_", name).lower()
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    info = f"{dist}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{dist}/__init__.py", f"VALUE = {payload!r}\n")
        wheel.writestr(f"{info}/METADATA", metadata(name, version))
        wheel.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        )
        wheel.writestr(f"{info}/RECORD", "")
    return path


def build_sdist(directory: Path, name: str, version: str) -> Path:
    dist = re.sub(r"[-_.]+", "_", name).lower()
    path = directory / f"{dist}-{version}.tar.gz"
    top = f"{dist}-{version}"
    with tarfile.open(path, "w:gz") as sdist:
        for member, text in (
            (f"{top}/PKG-INFO", metadata(name, version)),
            (f"{top}/{dist}.egg-info/PKG-INFO", "Metadata-Version: 1.0\nName: decoy\n"),
            (f"{top}/pyproject.toml", f'[project]\nname = "{name}"\nversion = "{version}"\n'),
        ):
            data = text.encode()
            entry = tarfile.TarInfo(member)
            entry.size = len(data)
            sdist.addfile(entry, io.BytesIO(data))
    return path
