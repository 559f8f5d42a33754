"""A job compared between two points (time, commit, vN) and read at one, through Catalog on real Git."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from jobsync import Catalog, JobNotFoundError, PointNotFoundError
from jobsync.points import CommitPrefix, Version
from jobsync.records import to_json
from tests.helpers import GitRepo
from tests.integration.test_audit import BACKUP_REF, write_backup, write_compliance


@dataclass
class Story:
    """The commits of the story below, by what each brought."""

    before: str  # only the compliance jobs: BackupConfigs did not exist yet
    discovered: str  # v1: BackupConfigs "Back up"
    changed: str  # v2: "Back up v2"; then v3: alice pins "Pinned"
    under_override: str  # v4: "Back up v3" in source, under the override
    elsewhere: str  # touched the compliance jobs only: BackupConfigs as at v4


@pytest.fixture
def story(repo: GitRepo, catalog: Catalog) -> Story:
    """BackupConfigs discovered, changed, overridden by alice, changed under the override, then left alone."""
    commits = [write_compliance(repo)]
    catalog.resync(repo.url, name="netops")
    for description in ("Back up", "Back up v2", "Back up v3"):
        commits.append(write_backup(repo, description=description))
        catalog.resync("netops")
        if description == "Back up v2":
            catalog.override(BACKUP_REF, "description", "Pinned", actor="alice")
    commits.append(write_compliance(repo, registered="CheckNtp"))
    catalog.resync("netops")
    return Story(*commits)


class TestDiffByVersion:
    def test_two_versions(self, catalog: Catalog, story: Story) -> None:
        """v1 to v2: the description and commit moved, and the one event between is v2's history entry."""
        diff = catalog.diff(BACKUP_REF, "v1", "v2")
        assert diff["ref"] == BACKUP_REF
        assert diff["changes"] == {
            "description": ["Back up", "Back up v2"],
            "commit": [story.discovered, story.changed],
        }
        assert (diff["from"]["version"], diff["from"]["commit"]) == (1, story.discovered)
        assert (diff["to"]["version"], diff["to"]["commit"]) == (2, story.changed)
        history = catalog.history(BACKUP_REF)
        assert diff["events"] == [history[1]]
        assert (diff["from"]["time"], diff["to"]["time"]) == (history[0]["time"], history[1]["time"])

    def test_to_defaults_to_now_and_shows_overrides(self, catalog: Catalog, story: Story) -> None:
        """Without TO the latest state is compared: the override, its flag and the source value under it."""
        diff = catalog.diff(BACKUP_REF, Version(1))
        assert diff["to"]["version"] == 4
        assert diff["changes"] == {
            "description": ["Back up", "Pinned"],
            "description_override": [False, True],
            "commit": [story.discovered, story.under_override],
            "description (in source)": ["Back up", "Back up v3"],
        }
        assert diff["events"] == catalog.history(BACKUP_REF)[1:]
        assert [entry["actor"] for entry in diff["events"]] == ["tester", "alice", "tester"]

    def test_a_source_value_moving_under_an_override(self, catalog: Catalog, story: Story) -> None:
        """v3 to v4 keeps the pinned description: only the source value under it (and the commit) moved."""
        diff = catalog.diff(BACKUP_REF, "v3", "v4")
        assert diff["changes"] == {
            "commit": [story.changed, story.under_override],
            "description (in source)": ["Back up v2", "Back up v3"],
        }

    def test_either_order(self, catalog: Catalog, story: Story) -> None:
        """FROM after TO compares backwards, as ``git diff`` does, listing the same events between."""
        forwards, backwards = catalog.diff(BACKUP_REF, "v1", "v3"), catalog.diff(BACKUP_REF, "v3", "v1")
        assert backwards["changes"] == {key: [new, old] for key, (old, new) in forwards["changes"].items()}
        assert backwards["events"] == forwards["events"]
        assert [entry["version"] for entry in forwards["events"]] == [2, 3]

    def test_no_differences(self, catalog: Catalog, story: Story) -> None:
        """The same state at both ends has no changes and no events between."""
        diff = catalog.diff(BACKUP_REF, "v2", "v2")
        assert diff["changes"] == {} and diff["events"] == []


class TestDiffByCommit:
    def test_full_sha_and_prefix(self, catalog: Catalog, story: Story) -> None:
        """A commit, full or by 7 hex digits, is the job as its sync left it: here v1 and v2."""
        by_version = catalog.diff(BACKUP_REF, "v1", "v2")
        for start, end in (
            (story.discovered, story.changed),
            (story.discovered[:7], story.changed[:7].upper()),
        ):
            diff = catalog.diff(BACKUP_REF, start, end)
            assert diff["changes"] == by_version["changes"]
            assert diff["events"] == by_version["events"]
            assert (diff["from"]["version"], diff["to"]["version"]) == (1, 2)

    def test_a_sync_that_did_not_touch_the_job(self, catalog: Catalog, story: Story) -> None:
        """A commit that touched another file finds the job as it stood then, overrides included."""
        diff = catalog.diff(BACKUP_REF, CommitPrefix(story.under_override), CommitPrefix(story.elsewhere[:8]))
        assert diff["changes"] == {} and diff["events"] == []
        assert diff["to"]["version"] == 4 and diff["to"]["commit"] == story.under_override
        assert catalog.diff(BACKUP_REF, story.changed, story.elsewhere)["changes"] == {
            "description": ["Back up v2", "Pinned"],
            "description_override": [False, True],
            "commit": [story.changed, story.under_override],
            "description (in source)": ["Back up v2", "Back up v3"],
        }

    def test_a_commit_the_sync_brought_after_an_operator_change(self, catalog: Catalog, story: Story) -> None:
        """The sync of a commit comes after the operator's earlier override: the state includes it (v4, not v3)."""
        assert catalog.diff(BACKUP_REF, "v4", story.under_override)["to"]["version"] == 4


class TestDiffByTime:
    def test_times_between_events(self, catalog: Catalog, story: Story) -> None:
        """A time is the job as it stood then: between v1 and v2 it is v1, after v3 it is v3."""
        history = catalog.history(BACKUP_REF)
        moments = [entry["time"] for entry in history]
        diff = catalog.diff(BACKUP_REF, moments[0] + (moments[1] - moments[0]) / 2, moments[2].isoformat())
        assert (diff["from"]["version"], diff["to"]["version"]) == (1, 3)
        assert diff["changes"] == {
            "description": ["Back up", "Pinned"],
            "description_override": [False, True],
            "commit": [story.discovered, story.changed],
            "description (in source)": ["Back up", "Back up v2"],
        }
        assert diff["events"] == history[1:3]

    def test_a_date_as_from_means_its_start(self, catalog: Catalog, story: Story) -> None:
        """Today's date as FROM is before the job existed (its start), as TO it is now (its end)."""
        today = catalog.history(BACKUP_REF)[-1]["time"].date().isoformat()
        with pytest.raises(PointNotFoundError, match="did not exist at"):
            catalog.diff(BACKUP_REF, today)
        assert catalog.diff(BACKUP_REF, "v1", today)["to"]["version"] == 4


class TestDiffRefusals:
    def test_points_the_job_never_had(self, catalog: Catalog, story: Story) -> None:
        """A version past the latest, an unknown commit, a time or a sync before discovery are each refused."""
        first = catalog.history(BACKUP_REF)[0]["time"]
        cases = {
            "v5": "has no v5: its latest is v4",
            "deadbee": "was never synced at a commit starting 'deadbee'",
            story.before: f"did not exist at commit {story.before[:12]}",
            (first - timedelta(microseconds=1)).isoformat(): "did not exist at",
        }
        for point, says in cases.items():
            with pytest.raises(PointNotFoundError) as caught:
                catalog.diff(BACKUP_REF, point)
            assert says in str(caught.value) and BACKUP_REF in str(caught.value)
            with pytest.raises(JobNotFoundError):
                catalog.diff(BACKUP_REF, "v1", point)


class TestJobAtPoint:
    def test_at_a_version_and_a_commit(self, catalog: Catalog, story: Story) -> None:
        """``job(ref, at=...)`` takes vN and commits: each the same record as at the matching time."""
        history = catalog.history(BACKUP_REF)
        at_v2 = catalog.job(BACKUP_REF, at="v2")
        assert at_v2 == catalog.job(BACKUP_REF, at=history[1]["time"])
        assert at_v2 == catalog.job(BACKUP_REF, at=story.changed[:7])
        assert at_v2["description"] == "Back up v2" and at_v2["commit"] == story.changed
        at_elsewhere = catalog.job(BACKUP_REF, at=story.elsewhere)
        assert at_elsewhere == catalog.job(BACKUP_REF, at=Version(4)) == catalog.job(BACKUP_REF)
        assert catalog.job(BACKUP_REF, at="v1")["description"] == "Back up"


class TestDiffJson:
    def test_the_json_form(self, catalog: Catalog, story: Story) -> None:
        """``to_json`` turns the diff into docs/design.md §6's keys, times in ISO-8601 at every depth."""
        diff = catalog.diff(BACKUP_REF, "v1", "v3")
        shaped = to_json(diff)
        assert list(shaped) == ["ref", "from", "to", "changes", "events"]
        assert shaped["from"] == {
            "time": diff["from"]["time"].isoformat(),
            "version": 1,
            "commit": story.discovered,
        }
        assert [event["time"] for event in shaped["events"]] == [
            e["time"].isoformat() for e in diff["events"]
        ]
        assert shaped["events"] == [to_json(entry) for entry in catalog.history(BACKUP_REF)[1:3]]
