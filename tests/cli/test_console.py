"""`rcflow doctor` without a terminal writes its findings without rich: the same bytes rich
would write (`cli.console._as_rich_writes`), held here to rich's own output."""

from __future__ import annotations

import io
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rcflow.cli import console
from rcflow.model.findings import Finding

_NASTY = (
    "plain",
    ".github/workflows/ci.yml:12: uses: actions/checkout@v4",
    "an :smile: and :warning-text: and :12: code",
    "[bold]not a style[/] [x] [/] [#fff on red]",
    "bell\a back\b vt\v ff\f cr\r esc\x1b[31m red",
    "wide ✗ 漢字 émoji 🚀",
    "",
)


def _rich(found: list[Finding], monkeypatch: pytest.MonkeyPatch) -> str:
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    monkeypatch.setattr(console, "_plain_stdout", lambda: False)  # draw with rich
    console.ConsoleView().findings(found)
    return buf.getvalue()


def _plain(found: list[Finding], monkeypatch: pytest.MonkeyPatch) -> str:
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    monkeypatch.setattr(console, "_plain_stdout", lambda: True)
    view = console.ConsoleView()
    view.findings(found)
    texts = [t for f in found for t in (f.message, f.fix, f.where or "")]
    # rich's console is made only for a tab or a backslash (`_as_rich_writes`)
    assert ("out" in view.__dict__) is any("\t" in t or "\\" in t for t in texts)
    return buf.getvalue()


@pytest.mark.parametrize("text", _NASTY)
def test_findings_without_rich_are_what_rich_writes(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = [
        Finding("workflow.tag-trigger", "error", text, f"fix {text}", where="ci.yml:3"),
        Finding("git.dirty", "warning", "x", text),
    ]
    assert _plain(found, monkeypatch) == _rich(found, monkeypatch)
    assert _plain([], monkeypatch) == _rich([], monkeypatch)


@given(st.text(alphabet=st.sampled_from(list("ab:[]/\\ \r\a\x1b-_smilewarning漢🚀"))))
def test_any_text_without_rich_is_what_rich_writes(text: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        found = [Finding("x.y", "warning", text, text, where=text or None)]
        assert _plain(found, mp) == _rich(found, mp)


@pytest.mark.parametrize("text", ["a\tb", "a\\", "C:\\[b]"])
def test_a_tab_or_a_backslash_is_left_to_rich(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    found = [Finding("x.y", "error", text, "fix")]
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    monkeypatch.setattr(console, "_plain_stdout", lambda: True)
    view = console.ConsoleView()
    view.findings(found)
    assert "out" in view.__dict__  # rich drew it
    assert buf.getvalue() == _rich(found, monkeypatch)


@pytest.mark.parametrize(
    ("env", "tty", "plain"),
    [
        ({}, False, True),
        ({}, True, False),
        ({"FORCE_COLOR": "1"}, False, False),
        ({"FORCE_COLOR": ""}, True, True),
        ({"TTY_COMPATIBLE": "1"}, False, False),
        ({"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}, True, True),
    ],
)
def test_plain_only_where_rich_sees_no_terminal(
    env: dict[str, str], tty: bool, plain: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    class Out(io.StringIO):
        def isatty(self) -> bool:
            return tty

    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdout", Out())
    assert console._plain_stdout() is plain
    assert Console(file=sys.stdout).is_terminal is not plain


def test_what_rich_takes_for_an_emoji_code_is_what_the_plain_path_assumes() -> None:
    """`console._no_emoji_code` skips rich's emoji table for line numbers: it holds rich's own
    pattern and every name of digits alone that the table has."""
    from rich import _emoji_replace
    from rich._emoji_codes import EMOJI

    pattern = _emoji_replace._emoji_replace.__defaults__[-1].__self__.pattern  # type: ignore[index,union-attr]
    assert pattern == console._EMOJI_CODE
    assert {name for name in EMOJI if name.isdecimal()} == console._DIGIT_EMOJI
    assert "" not in EMOJI


@pytest.mark.parametrize(
    "text",
    ["README.md:3: refers", "a.go:100: b", "x:1234:y", "::", "a:12-text: b", "a:7:8:9:", ":١:"],
)
def test_line_numbers_need_no_emoji_table_and_write_what_rich_writes(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = [Finding("stale-ref.github", "warning", text, "fix", where="README.md:3")]
    assert _plain(found, monkeypatch) == _rich(found, monkeypatch)
    # The table only where a name could be in it (100 and 1234 are).
    digits_only = not any(n in text for n in ("100", "1234", "١"))
    assert console._no_emoji_code(f"README.md:3: {text}") is digits_only


def test_doctor_text_with_line_numbers_loads_no_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    code = (
        "import sys\n"
        "from rcflow.cli import console\n"
        "from rcflow.model.findings import Finding\n"
        "console.ConsoleView().findings([Finding('stale-ref.github', 'warning',"
        " 'README.md:3: refers to github.com/old/x', 'fix: change it', where='README.md:3')])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich'), file=sys.stderr)\n"
    )
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "warning stale-ref.github README.md:3: README.md:3: refers" in done.stdout
    assert done.stderr.strip() == "[]"
