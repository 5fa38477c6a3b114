from __future__ import annotations

import pytest

from rcflow.model.conventional import (
    PREAMBLE,
    Commit,
    ConventionalCommit,
    bump_part,
    parse_commit,
    prepend_changelog,
    render_changelog_section,
    summarize,
)
from rcflow.model.version import Version

SHA = "abc1234def5678"


def cc(
    type_: str,
    description: str,
    *,
    scope: str | None = None,
    breaking: bool = False,
    note: str | None = None,
) -> ConventionalCommit:
    return ConventionalCommit(SHA, type_, scope, breaking, description, note)


# --- parse_commit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("feat: add promote", "", cc("feat", "add promote")),
        ("fix(cli): exit 3 when blocked", "", cc("fix", "exit 3 when blocked", scope="cli")),
        ("Feat: upper-case type", "", cc("feat", "upper-case type")),
        ("FIX(Api): shout", "", cc("fix", "shout", scope="Api")),
        ("feat!: drop 3.10", "", cc("feat", "drop 3.10", breaking=True)),
        ("refactor(core)!: rename", "", cc("refactor", "rename", scope="core", breaking=True)),
        ("  docs: trailing spaces  ", "", cc("docs", "trailing spaces")),
        ("feat( ): empty scope", "", cc("feat", "empty scope")),
        (
            "feat: new config",
            "Longer text.\n\nBREAKING CHANGE: `tag_prefix` moved to [tags]\nRefs: #12",
            cc("feat", "new config", breaking=True, note="`tag_prefix` moved to [tags]"),
        ),
        (
            "fix: x",
            "BREAKING-CHANGE: the hyphen form\n  continues here\n\nnot part of it",
            cc("fix", "x", breaking=True, note="the hyphen form continues here"),
        ),
        (
            "perf!: y",
            "BREAKING CHANGE: note wins",
            cc("perf", "y", breaking=True, note="note wins"),
        ),
        ("chore: z", "BREAKING CHANGE:", cc("chore", "z", breaking=True)),
        # The token must be upper case and start a line.
        ("fix: a", "breaking change: lower\nnot a BREAKING CHANGE: here", cc("fix", "a")),
        ("fix: a", "BREAKING CHANGES: plural is not the token", cc("fix", "a")),
    ],
)
def test_parse_commit(subject: str, body: str, expected: ConventionalCommit) -> None:
    assert parse_commit(Commit(SHA, subject, body)) == expected


@pytest.mark.parametrize(
    "subject",
    [
        "Merge branch 'main' into feature",
        "Merge pull request #12 from org/fix-thing",
        "WIP",
        'Revert "feat: add promote"',
        "fixup! feat: add promote",
        "feat:no space",
        "feat: ",
        "feat:",
        ": nothing",
        "feat(scope: unclosed",
        "feat(a)(b): two scopes",
        "",
    ],
)
def test_parse_commit_not_conventional(subject: str) -> None:
    assert parse_commit(Commit(SHA, subject)) is None


# --- bump_part -------------------------------------------------------------------------------


def commits(*subjects: str) -> list[Commit]:
    return [Commit(f"{i:040x}", s) for i, s in enumerate(subjects)]


@pytest.mark.parametrize(
    ("subjects", "current", "expected"),
    [
        (("feat: a", "fix: b"), Version(1, 2, 3), "minor"),
        (("fix: b", "docs: c"), Version(1, 2, 3), "patch"),
        (("perf: b",), Version(1, 2, 3), "patch"),
        (("docs: c", "chore: d", "Merge branch 'x'", "refactor: e"), Version(1, 2, 3), None),
        ((), Version(1, 2, 3), None),
        (("feat!: a", "fix: b"), Version(1, 2, 3), "major"),
        (("chore!: drop python 3.10",), Version(1, 2, 3), "major"),
        (("Feat: upper",), Version(1, 2, 3), "minor"),
        # The 0.x rule: a breaking change only bumps minor.
        (("feat!: a",), Version(0, 9, 0), "minor"),
        (("fix!: a",), Version(0, 0, 1), "minor"),
        (("feat: a",), Version(0, 9, 0), "minor"),
        (("fix: a",), Version(0, 9, 0), "patch"),
        # No version at all: nothing says we are at 0.x.
        (("feat!: a",), None, "major"),
        (("fix: a",), None, "patch"),
    ],
)
def test_bump_part(
    subjects: tuple[str, ...], current: Version | None, expected: str | None
) -> None:
    assert bump_part(commits(*subjects), current) == expected


def test_bump_part_footer_breaking() -> None:
    items = [Commit("a" * 40, "fix: x", "BREAKING CHANGE: gone")]
    assert bump_part(items, Version(2, 0, 0)) == "major"
    assert bump_part(items, Version(0, 3, 0)) == "minor"
    assert bump_part(iter(items), Version(2, 0, 0)) == "major"


# --- changelog -------------------------------------------------------------------------------


EXAMPLE = [
    Commit(
        "1111111aaaa", "feat(cli)!: rename --rc to --candidate", "BREAKING CHANGE: use --candidate"
    ),
    Commit("2222222bbbb", "feat: promote an RC"),
    Commit("3333333cccc", "fix(git): fetch tags before planning"),
    Commit("4444444dddd", "perf: cache ls-remote"),
    Commit("5555555eeee", "refactor: split steps"),
    Commit("6666666ffff", "docs: explain the lease"),
    Commit("7777777aaaa", "chore: bump deps"),
    Commit("8888888bbbb", "ci: pin actions"),
    Commit("9999999cccc", "Merge branch 'main' into release"),
    Commit("aaaaaaadddd", "revert: undo thing"),
]

EXAMPLE_SECTION = """\
## [1.4.0] - 2026-11-29

### ⚠ BREAKING CHANGES

- **cli:** use --candidate (1111111)

### Added

- **cli:** rename --rc to --candidate (1111111)
- promote an RC (2222222)

### Fixed

- **git:** fetch tags before planning (3333333)

### Performance

- cache ls-remote (4444444)

### Changed

- split steps (5555555)
- undo thing (aaaaaaa)

### Documentation

- explain the lease (6666666)

### Other

- Merge branch 'main' into release (9999999)
"""


def test_render_changelog_section_exact() -> None:
    assert render_changelog_section(Version(1, 4, 0), "2026-11-29", EXAMPLE) == EXAMPLE_SECTION


def test_render_changelog_section_breaking_without_note_uses_description() -> None:
    text = render_changelog_section(Version(2, 0, 0), "2027-01-02", commits("fix(api)!: drop v1"))
    assert text == (
        "## [2.0.0] - 2027-01-02\n\n"
        "### ⚠ BREAKING CHANGES\n\n- **api:** drop v1 (0000000)\n\n"
        "### Fixed\n\n- **api:** drop v1 (0000000)\n"
    )


def test_render_changelog_section_nothing_notable() -> None:
    text = render_changelog_section(Version(1, 4, 1), "2026-12-01", commits("chore: x", "ci: y"))
    assert text == "## [1.4.1] - 2026-12-01\n\n- No notable changes.\n"
    assert render_changelog_section(Version(1, 4, 1), "2026-12-01", []) == text


def test_render_changelog_section_compare_url_and_rc() -> None:
    text = render_changelog_section(
        Version(1, 4, 0, 2),
        "2026-11-29",
        commits("fix: a"),
        compare_url="https://example.com/compare/v1.3.0...v1.4.0-rc.2",
    )
    assert text == (
        "## [1.4.0-rc.2] - 2026-11-29\n\n### Fixed\n\n- a (0000000)\n\n"
        "[1.4.0-rc.2]: https://example.com/compare/v1.3.0...v1.4.0-rc.2\n"
    )


SECTION = "## [1.4.0] - 2026-11-29\n\n### Added\n\n- x (1234567)\n"


def test_prepend_to_nothing_creates_the_file() -> None:
    expected = (
        "# Changelog\n\nAll notable changes to this project are documented here. The format "
        "follows [Keep a Changelog](https://keepachangelog.com/en/1.1.0/).\n\n" + SECTION
    )
    assert prepend_changelog(None, SECTION) == expected
    assert prepend_changelog("", SECTION) == expected
    assert expected == PREAMBLE + SECTION


def test_prepend_before_the_newest_release() -> None:
    existing = "# Changelog\n\nIntro.\n\n## [1.3.0] - 2026-10-01\n\n- old (7654321)\n\n[1.3.0]: u\n"
    assert prepend_changelog(existing, SECTION) == (
        "# Changelog\n\nIntro.\n\n"
        + SECTION
        + "\n## [1.3.0] - 2026-10-01\n\n- old (7654321)\n\n[1.3.0]: u\n"
    )


def test_prepend_keeps_unreleased_on_top() -> None:
    existing = (
        "# Changelog\n\n## [Unreleased]\n\n- pending  \n\n"
        "## [1.3.0] - 2026-10-01\n\n- old\n## [1.2.0] - 2026-09-01\n"
    )
    assert prepend_changelog(existing, SECTION) == (
        "# Changelog\n\n## [Unreleased]\n\n- pending  \n\n"
        + SECTION
        + "\n## [1.3.0] - 2026-10-01\n\n- old\n## [1.2.0] - 2026-09-01\n"
    )


def test_prepend_only_unreleased_appends() -> None:
    existing = "# Changelog\n\n## [unreleased]\n\n- pending\n"
    assert prepend_changelog(existing, SECTION) == existing + "\n" + SECTION


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ("# Changelog\n\nIntro.\n\n", "# Changelog\n\nIntro.\n\n" + SECTION),
        ("# Changelog\n\nIntro.\n", "# Changelog\n\nIntro.\n\n" + SECTION),
        ("# Changelog\n\nIntro.", "# Changelog\n\nIntro.\n\n" + SECTION),
    ],
)
def test_prepend_without_headings_appends(existing: str, expected: str) -> None:
    assert prepend_changelog(existing, SECTION) == expected


def test_prepend_is_idempotent() -> None:
    once = prepend_changelog(None, SECTION)
    assert prepend_changelog(once, SECTION) == once
    other = SECTION.replace("- x (1234567)", "- y (7654321)")
    assert prepend_changelog(once, other) == once
    # A different version with the same prefix is not the same heading.
    rc = "## [1.4.0-rc.1] - 2026-11-20\n\n- z\n"
    with_rc = prepend_changelog(None, rc)
    assert prepend_changelog(with_rc, SECTION) == PREAMBLE + SECTION + "\n" + rc


def test_prepend_keeps_crlf() -> None:
    existing = "# Changelog\r\n\r\n## [1.3.0] - 2026-10-01\r\n\r\n- old\r\n"
    assert prepend_changelog(existing, SECTION) == (
        "# Changelog\r\n\r\n"
        + SECTION.replace("\n", "\r\n")
        + "\r\n## [1.3.0] - 2026-10-01\r\n\r\n- old\r\n"
    )


# --- summarize -------------------------------------------------------------------------------


def test_summarize() -> None:
    items = [
        Commit("aaaaaaa1111", "feat: newest", "body is not included"),
        Commit("bbbbbbb2222", "Merge branch 'x'"),
    ]
    assert summarize(items) == "aaaaaaa feat: newest\nbbbbbbb Merge branch 'x'"


def test_summarize_empty() -> None:
    assert summarize([]) == "(no commits since the last release)"
