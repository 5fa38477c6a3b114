"""`rcflow rc` on GitHub whose upload is cut off midway, then resumed here or in a fresh clone.

GitHub keeps an asset whose upload was cut off, unfinished (its state is not `uploaded`), and
that asset blocks its name: the resumed run must not count it as uploaded, must remove it, and
must upload the staged bytes whole (or, in a fresh clone, a new build's).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pytest

from rcflow.ports.forge import CHECKSUMS, parse_checksums
from tests.support.project import fresh_clone
from tests.support.scenario import at

BIG = (
    '[assets]\nfiles = ["dist/*"]\n'
    'build = "mkdir -p dist && head -c 3145733 /dev/urandom > dist/app.bin'
    ' && echo $RCFLOW_PEP440 > dist/v.txt"\n'
    '[[validate]]\nname = "unit"\nrun = "true"\n'
)
RC = "v1.4.0-rc.1"


@pytest.mark.parametrize("where", ["here", "fresh clone"])
def test_an_rc_interrupted_mid_upload_resumes_and_uploads_each_asset_whole(
    make_github_project: Any, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from rcflow.adapters import github

    p, server = make_github_project(BIG)
    server.add_release("v1.3.0", name="1.3.0", body="first release")
    at(p, "bumped")
    monkeypatch.setattr(github, "_WINDOW", 1 << 20)  # app.bin goes in 4 windows
    real = github._FileBody.read
    asked = [0]

    def interrupted(self: Any, amount: int = -1) -> memoryview:
        asked[0] += 1
        if asked[0] == 3:  # two windows sent: Ctrl-C
            raise KeyboardInterrupt
        return real(self, amount)

    with monkeypatch.context() as m:
        m.setattr(github._FileBody, "read", interrupted)
        assert p.cli("rc").exit_code == 130
    assert [t for t in threading.enumerate() if t.name.startswith("rcflow:")] == []
    server.wait_for_cut_bodies(1)
    rc = server.release_by_tag(RC)
    assert rc is not None and [(a.name, a.state) for a in rc.assets] == [("app.bin", "open")]

    q = p if where == "here" else fresh_clone(p, p.base.parent / f"{p.base.name}-fresh")
    assert q.cli("rc").exit_code == 0

    assert all(a.state == "uploaded" for a in rc.assets)
    data = {a.name: bytes(a.data) for a in rc.assets}
    sums = parse_checksums(data.pop(CHECKSUMS).decode())
    assert sums == {name: hashlib.sha256(b).hexdigest() for name, b in data.items()}
    assert sorted(sums) == ["app.bin", "v.txt"] and len(data["app.bin"]) == 3145733
    assert q.cli("rc").exit_code == 0  # and once more: nothing left to do
    assert [a.state for a in rc.assets] == ["uploaded"] * 3
