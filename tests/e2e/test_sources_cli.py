"""``jobsync sources suspend|resume|remove|rename`` and ``resync --force`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import Cli, GitRepo, assert_one_line_error, job_module

REF = "netops:jobs.backup.Backup"
NEW_REF = "network:jobs.backup.Backup"


def _synced(cli: Cli, repo: GitRepo, name: str = "netops") -> None:
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/backup.py", job_module("Backup"))
    repo.commit("jobs")
    cli.ok("resync", repo.url, "--name", name)


def _configure(cli: Cli, repo: GitRepo, name: str = "netops") -> None:
    """Name the source in the config file too, as the daemon's config would."""
    text = cli.config.read_text(encoding="utf-8")
    cli.config.write_text(text + f'\n[[sources]]\nname = "{name}"\nurl = "{repo.url}"\n', encoding="utf-8")


class TestSuspendResume:
    def test_a_suspended_source_shows_and_resync_refuses_it(self, cli: Cli, repo: GitRepo) -> None:
        """`sources list` shows `suspended`; resync exits 1 in one line saying how to resume; --force syncs."""
        _synced(cli, repo)
        assert cli.ok("sources", "suspend", "netops", actor="carol") == "suspended netops\n"
        assert cli.ok("sources", "suspend", "netops") == "netops was already suspended\n"
        assert "suspended" in cli.ok("sources", "list").splitlines()[1].split()
        assert cli.json("sources", "show", "netops")["status"] == "suspended"
        repo.write("jobs/more.py", job_module("More"))
        repo.commit("more")
        assert_one_line_error(cli.run("resync", "netops"), 1, "jobsync sources resume netops")
        assert cli.refs() == [REF]
        assert "added       netops:jobs.more.More" in cli.ok("resync", "netops", "--force")
        assert cli.json("sources", "show", "netops")["status"] == "suspended"
        assert cli.ok("sources", "resume", "netops", actor="dave") == "resumed netops\n"
        assert cli.json("sources", "show", "netops")["status"] == "ok"
        audit = [(e["event"], e["actor"]) for e in cli.json("audit", "--source", "netops")]
        assert ("SourceSuspended", "carol") in audit
        assert ("SourceResumed", "dave") in audit
        assert cli.run("replay", "--verify").returncode == 0

    def test_an_unknown_source_is_one_line(self, cli: Cli, repo: GitRepo) -> None:
        """Suspending, resuming, removing or renaming a name no source has: exit 1, one line."""
        _synced(cli, repo)
        for command in (
            ("suspend", "ghost"),
            ("resume", "ghost"),
            ("remove", "ghost"),
            ("rename", "ghost", "x"),
        ):
            assert_one_line_error(cli.run("sources", *command), 1, "no source named 'ghost'")


class TestRemove:
    def test_remove_refuses_installed_jobs_then_uninstalls_with_the_flag(
        self, cli: Cli, repo: GitRepo
    ) -> None:
        """Without --uninstall-jobs removal is refused; with it the jobs are uninstalled, kept, and the source is gone."""
        _synced(cli, repo)
        assert_one_line_error(cli.run("sources", "remove", "netops"), 1, "--uninstall-jobs")
        out = cli.ok("sources", "remove", "netops", "--uninstall-jobs", actor="erin")
        assert out == f"uninstalled {REF}\nremoved netops\n"
        assert cli.json("sources", "list") == []
        assert cli.refs("--source", "netops", "--uninstalled") == [REF]
        history = cli.json("jobs", "history", REF)
        assert (history[-1]["event"], history[-1]["actor"]) == ("JobUninstalled", "erin")
        assert cli.run("replay", "--verify").returncode == 0

    def test_removing_a_configured_source_says_the_config_still_names_it(
        self, cli: Cli, repo: GitRepo
    ) -> None:
        """A source the config file names is removed, with a note that the daemon's next start brings it back."""
        _synced(cli, repo)
        _configure(cli, repo)
        done = cli.run("sources", "remove", "netops", "--uninstall-jobs")
        assert done.returncode == 0, done.stderr
        assert "removed netops" in done.stdout
        assert "the config file still names source netops" in done.stderr
        assert "next start or reload" in done.stderr


class TestRename:
    def test_rename_moves_refs_and_old_refs_still_find_the_job(self, cli: Cli, repo: GitRepo) -> None:
        """Refs use the new name; `jobs show` and `jobs history` of the old ref find the same job."""
        _synced(cli, repo)
        assert (
            cli.ok("sources", "rename", "netops", "network", actor="frank")
            == "renamed netops to network (1 job)\n"
        )
        assert [s["name"] for s in cli.json("sources", "list")] == ["network"]
        assert cli.refs() == [NEW_REF]
        shown = cli.json("jobs", "show", REF)
        assert (shown["ref"], shown["source"]) == (NEW_REF, "network")
        history = cli.json("jobs", "history", REF)
        assert (history[-1]["event"], history[-1]["actor"]) == ("JobSourceRenamed", "frank")
        assert history == cli.json("jobs", "history", NEW_REF)
        repo.write("jobs/more.py", job_module("More"))
        repo.commit("more")
        assert "added       network:jobs.more.More" in cli.ok("resync", "network")
        assert cli.refs() == [NEW_REF, "network:jobs.more.More"]
        assert cli.run("replay", "--verify").returncode == 0

    def test_a_taken_name_is_refused(self, cli: Cli, repo: GitRepo, tmp_path: Path) -> None:
        """Renaming onto another source's name: exit 1, one line, nothing changed."""
        _synced(cli, repo)
        other = GitRepo(tmp_path / "other")
        _synced(cli, other, name="other")
        assert_one_line_error(cli.run("sources", "rename", "netops", "other"), 1, "'other' is taken")
        assert [s["name"] for s in cli.json("sources", "list")] == ["netops", "other"]

    def test_renaming_a_configured_source_says_the_config_names_the_old_one(
        self, cli: Cli, repo: GitRepo
    ) -> None:
        """The rename happens, and stderr says the config file still names the old name."""
        _synced(cli, repo)
        _configure(cli, repo)
        done = cli.run("sources", "rename", "netops", "network")
        assert done.returncode == 0, done.stderr
        assert "the config file still names source netops" in done.stderr
        assert "rename it there too" in done.stderr
