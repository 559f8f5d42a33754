"""``jobs diff`` and ``jobs show --at`` with commits and versions, through the ``jobsync`` command."""

from __future__ import annotations

import pytest

from tests.e2e.test_cli import JOBS
from tests.helpers import Cli, GitRepo, assert_one_line_error

BACKUP_REF = "netops:jobs.ops.Backup"


@pytest.fixture
def commits(cli: Cli, repo: GitRepo) -> list[str]:
    """Backup discovered (v1) and changed (v2) by syncs, then pinned by alice (v3): the two commits."""
    found = []
    for description in ("Back up", "Back up v2"):
        repo.write("jobs/ops.py", JOBS.replace('"Back up"', f'"{description}"'))
        found.append(repo.commit(description))
        cli.ok("resync", repo.url, "--name", "netops", actor="daemon@vm")
    cli.ok("jobs", "override", "Backup", "description", "Pinned by ops")
    return found


class TestJobsDiff:
    def test_text_shows_both_ends_the_fields_and_the_events(self, cli: Cli, commits: list[str]) -> None:
        """From the first commit to now: one header line per end, each field old -> new, then the events."""
        lines = cli.ok("jobs", "diff", "Backup", commits[0][:7]).splitlines()
        assert lines[0].startswith("from v1  ") and lines[0].endswith(f"  commit {commits[0][:12]}")
        assert lines[1].startswith("to v3  ") and lines[1].endswith(f"  commit {commits[1][:12]}")
        assert "  description: Back up -> Pinned by ops" in lines
        assert "  description_override: false -> true" in lines
        assert "  description (in source): Back up -> Back up v2" in lines
        events = lines[lines.index("events:") + 1 :]
        headlines = [
            line.split()[3:] for line in events if not line.startswith(" ")
        ]  # after date, time, zone
        assert [(words[0], words[-1]) for words in headlines] == [
            ("daemon@vm", "JobChanged"),
            ("alice", "FieldOverridden"),
        ]
        assert f'<author@example.com>, "Back up v2", {commits[1][:7]})' in events[0]  # who wrote the change
        assert "    description: Back up v2 -> Pinned by ops" in events

    def test_no_differences(self, cli: Cli, commits: list[str]) -> None:
        """Two points with the same state say so, with exit 0."""
        out = cli.ok("jobs", "diff", "Backup", commits[1], "v2")
        assert out.splitlines()[-1] == "no differences between v2 and v2"

    def test_json(self, cli: Cli, commits: list[str]) -> None:
        """``--json`` gives ref, both ends as {time, version, commit}, changes and the events as history gives them."""
        diff = cli.json("jobs", "diff", "Backup", "v1", commits[1][:9])
        assert set(diff) == {"ref", "from", "to", "changes", "events"}
        assert diff["ref"] == BACKUP_REF
        assert {key: diff["from"][key] for key in ("version", "commit")} == {
            "version": 1,
            "commit": commits[0],
        }
        assert set(diff["to"]) == {"time", "version", "commit"} and diff["to"]["version"] == 2
        assert diff["changes"] == {"description": ["Back up", "Back up v2"], "commit": commits}
        assert diff["events"] == cli.json("jobs", "history", "Backup")[1:2]

    @pytest.mark.parametrize(
        ("args", "code", "says"),
        [
            (("v9",), 1, f"job {BACKUP_REF} has no v9: its latest is v3"),
            (("deadbeef",), 1, f"job {BACKUP_REF} was never synced at a commit starting 'deadbeef'"),
            (("2000-01-01",), 1, f"job {BACKUP_REF} did not exist at 2000-01-01"),
            (("v0",), 2, "versions start at v1"),
            (("abc12",), 2, "is not a time, a commit (7+ hex digits) or a version"),
            (("v1", "whenever"), 2, "cannot read time 'whenever'"),
        ],
    )
    def test_refusals(
        self, cli: Cli, commits: list[str], args: tuple[str, ...], code: int, says: str
    ) -> None:
        """A point the job never had exits 1, text that names no point 2: one ``error:`` line each."""
        assert_one_line_error(cli.run("jobs", "diff", "Backup", *args), code, says)


class TestShowAtPoints:
    def test_at_a_commit_and_a_version(self, cli: Cli, commits: list[str]) -> None:
        """``--at`` a commit (prefix or full) or vN shows the job as it stood there."""
        assert cli.json("jobs", "show", "Backup", "--at", commits[0][:7])["description"] == "Back up"
        at_second = cli.json("jobs", "show", "Backup", "--at", commits[1])
        assert at_second["description"] == "Back up v2" and at_second["description_override"] is False
        assert cli.json("jobs", "show", "Backup", "--at", "v1") == cli.json(
            "jobs", "show", "Backup", "--at", commits[0]
        )
        assert cli.json("jobs", "show", "Backup", "--at", "v3")["description"] == "Pinned by ops"

    def test_a_bad_point_is_a_usage_error(self, cli: Cli, commits: list[str]) -> None:
        """``--at`` of a point the job lacks exits 1; of text that is no point, 2."""
        assert_one_line_error(cli.run("jobs", "show", "Backup", "--at", "v4"), 1, "has no v4")
        assert_one_line_error(cli.run("jobs", "show", "Backup", "--at", "soonish"), 2, "cannot read time")
