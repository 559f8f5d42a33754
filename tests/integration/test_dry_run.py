"""``resync --dry-run``: fetch, discover and plan as a sync does, and save nothing (docs/design.md §5 Dry run)."""

from __future__ import annotations

from pathlib import Path

from jobsync import Catalog
from tests.helpers import Cli, GitRepo, assert_one_line_error, job_module


def log_position(catalog: Catalog) -> int:
    return catalog._app.recorder.max_notification_id() or 0


class TestNothingSaved:
    def test_a_dry_run_plans_every_kind_of_change_and_saves_nothing(
        self, repo: GitRepo, state_dir: Path
    ) -> None:
        """Added, changed (field by field), uninstalled and reinstalled jobs are planned; the log does not move."""
        repo.write("jobs/a.py", job_module("A"))
        repo.write("jobs/b.py", job_module("B"))
        repo.write("jobs/gone.py", job_module("Gone"))
        repo.commit("start")
        with Catalog.open(state_dir=state_dir, actor="ops") as catalog:
            catalog.resync(repo.url, name="netops")
            repo.remove("jobs/b.py")
            repo.commit("drop B")
            catalog.resync("netops")
            repo.write("jobs/a.py", job_module("A", description="new words"))
            repo.write("jobs/b.py", job_module("B"))
            repo.write("jobs/c.py", job_module("C"))
            repo.remove("jobs/gone.py")
            head = repo.commit("everything at once")
            catalog.override("netops:jobs.a.A", "description", "pinned by ops")
            before = (log_position(catalog), catalog.jobs(installed=None), catalog.sources())

            preview = catalog.resync("netops", dry_run=True)

            after = (log_position(catalog), catalog.jobs(installed=None), catalog.sources())
            assert catalog.replay(verify=True).ok
            real = catalog.resync("netops")
        assert after == before
        assert preview.commit == head and preview.result is None and preview.refused is None
        assert (preview.added, preview.changed, preview.uninstalled, preview.reinstalled) == (
            ["netops:jobs.c.C"],
            ["netops:jobs.a.A"],
            ["netops:jobs.gone.Gone"],
            ["netops:jobs.b.B"],
        )
        plan = {job.ref: (job.event, job.changes) for job in (preview.plan or [])}
        event, changes = plan["netops:jobs.a.A"]
        assert event == "JobChanged"
        assert changes["description (in source)"] == ["plain", "new words"]  # under the override
        assert "description" not in changes  # the effective value stays pinned
        assert plan["netops:jobs.gone.Gone"][1]["installed"] == [True, False]
        assert plan["netops:jobs.b.B"][0] == "JobReinstalled"
        # The real sync afterwards does exactly what was planned.
        assert (real.added, real.changed, real.uninstalled, real.reinstalled) == (
            preview.added,
            preview.changed,
            preview.uninstalled,
            preview.reinstalled,
        )

    def test_a_dry_run_of_a_new_source_remembers_nothing(self, repo: GitRepo, state_dir: Path) -> None:
        """A URL never synced is planned in full, and is still unknown afterwards."""
        repo.write("jobs/a.py", job_module("A", "B"))
        repo.commit("start")
        with Catalog.open(state_dir=state_dir, actor="ops") as catalog:
            preview = catalog.resync(repo.url, name="fresh", dry_run=True)
            assert catalog.sources() == []
            assert log_position(catalog) == 0
        assert preview.added == ["fresh:jobs.a.A", "fresh:jobs.a.B"]

    def test_an_up_to_date_source_plans_nothing(self, repo: GitRepo, state_dir: Path) -> None:
        repo.write("jobs/a.py", job_module("A"))
        repo.commit("start")
        with Catalog.open(state_dir=state_dir, actor="ops") as catalog:
            catalog.resync(repo.url, name="netops")
            position = log_position(catalog)
            preview = catalog.resync("netops", dry_run=True)
            assert log_position(catalog) == position
        assert preview.up_to_date and preview.plan == []


class TestDryRunCommand:
    def test_text_json_and_a_refused_mass_uninstall(self, tmp_path: Path) -> None:
        """The CLI prints the plan; a dry run of a sync the guard would refuse shows it and exits 1."""
        repo = GitRepo(tmp_path / "repo")
        repo.write("jobs/a.py", job_module(*(f"J{n}" for n in range(6))))
        repo.commit("six jobs")
        cli = Cli(tmp_path)
        assert cli.run("resync", repo.url, "--name", "netops").returncode == 0
        repo.write("jobs/a.py", job_module("J0", description="only one left"))
        repo.commit("oops")

        text = cli.run("resync", "netops", "--dry-run")
        assert_one_line_error(text, 1, "would be refused")
        assert text.stdout.splitlines()[0].startswith("dry run: netops @ ")
        assert "      description: plain -> only one left" in text.stdout.splitlines()
        data = cli.json("resync", "netops", "--dry-run", "--allow-mass-uninstall")
        assert data["dry_run"] is True and data["refused"] is None and data["result"] is None
        assert {job["ref"]: job["event"] for job in data["plan"]} == {
            "netops:jobs.a.J0": "JobChanged",
            **{f"netops:jobs.a.J{n}": "JobUninstalled" for n in range(1, 6)},
        }
        assert data["plan"][0]["changes"]["description"] == ["plain", "only one left"]
        assert len(cli.json("jobs", "list")) == 6  # nothing was applied
        assert not any(r["task"] == "sync" and r["status"] == "failed" for r in cli.json("results", "list"))
