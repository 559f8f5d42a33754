"""The git adapter against real repositories made with the git CLI, fetched over file:// and paths."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from jobsync.adapters.git import Mirror
from jobsync.domain.errors import GitError
from jobsync.ports import Change, FileEntry
from jobsync.urls import redact_url
from tests.helpers import GitRepo


@pytest.fixture
def source(tmp_path: Path) -> GitRepo:
    """A repository on ``main`` with two files in one commit."""
    repo = GitRepo(tmp_path / "source")
    repo.write("jobs/a.py", "print('a')\n")
    repo.write("README.md", "readme\n")
    repo.commit("first")
    return repo


@pytest.fixture
def mirror(tmp_path: Path, source: GitRepo) -> Mirror:
    """A mirror of ``source`` that has not been fetched yet."""
    return Mirror(tmp_path / "state" / "mirrors" / "source.git", source.url)


def _mirror_git(mirror: Mirror, *args: str) -> str:
    """Ask the git CLI about the mirror, to check it independently of dulwich."""
    done = subprocess.run(
        ["git", "--git-dir", str(mirror.path), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def _added(source: GitRepo, path: str) -> Change:
    """The change that adds or modifies ``path`` to its content at the source's HEAD, with its size."""
    return Change(
        path, source.git("rev-parse", f"HEAD:{path}"), size=int(source.git("cat-file", "-s", f"HEAD:{path}"))
    )


class TestFetch:
    def test_first_fetch_returns_branch_tip(self, source: GitRepo, mirror: Mirror) -> None:
        """The first fetch creates the mirror and returns the sha the branch points to."""
        fetched = mirror.fetch("main")

        assert fetched.commit == source.git("rev-parse", "main")
        assert fetched.branch == "main"
        assert _mirror_git(mirror, "rev-parse", "refs/heads/main") == fetched.commit

    @pytest.mark.parametrize("as_url", [False, True])
    def test_a_local_path_with_a_colon_stays_local(self, tmp_path: Path, as_url: bool) -> None:
        """``/srv/a:b/repo`` (or its file:// URL) is read locally, never handed to ssh as a host name."""
        repo = GitRepo(tmp_path / "a:b" / "repo")
        repo.write("jobs/a.py", "print('a')\n")
        tip = repo.commit("first")
        location = repo.url if as_url else str(repo.path)

        assert Mirror(tmp_path / "m.git", location).fetch().commit == tip

    def test_plain_path_is_fetched_like_a_file_url(self, tmp_path: Path, source: GitRepo) -> None:
        """A local path without ``file://`` is a valid source."""
        fetched = Mirror(tmp_path / "m.git", str(source.path)).fetch()

        assert fetched.commit == source.git("rev-parse", "HEAD")

    def test_default_branch_follows_remote_head(self, tmp_path: Path) -> None:
        """Without a branch, the branch the remote HEAD names is used."""
        repo = GitRepo(tmp_path / "trunky", branch="trunk")
        tip = repo.commit("on trunk")
        repo.git("branch", "main")
        repo.commit("trunk moves on")

        fetched = Mirror(tmp_path / "m.git", repo.url).fetch()

        assert fetched.branch == "trunk"
        assert fetched.commit == repo.git("rev-parse", "trunk")
        assert fetched.commit != tip

    def test_named_branch_is_fetched(self, tmp_path: Path, source: GitRepo, mirror: Mirror) -> None:
        """Asking for another branch fetches that branch's tip, whatever HEAD says."""
        source.git("checkout", "-q", "-b", "dev")
        source.write("jobs/dev_only.py", "x = 1\n")
        dev_tip = source.commit("dev work")
        source.git("checkout", "-q", "main")

        fetched = mirror.fetch("dev")

        assert fetched == type(fetched)(commit=dev_tip, branch="dev")
        assert "jobs/dev_only.py" in {entry.path for entry in mirror.files(fetched.commit)}

    def test_branch_may_be_given_as_full_ref(self, source: GitRepo, mirror: Mirror) -> None:
        """``refs/heads/main`` means the branch ``main``."""
        fetched = mirror.fetch("refs/heads/main")

        assert fetched.branch == "main"
        assert fetched.commit == source.git("rev-parse", "main")

    def test_incremental_fetch_brings_new_commit(self, source: GitRepo, mirror: Mirror) -> None:
        """A second fetch after a new commit returns the new tip and its files."""
        first = mirror.fetch()
        source.write("jobs/b.py", "print('b')\n")
        second_tip = source.commit("add b")

        second = mirror.fetch()

        assert second.commit == second_tip != first.commit
        assert mirror.has_commit(first.commit)
        assert "jobs/b.py" in {entry.path for entry in mirror.files(second.commit)}

    def test_fetch_without_new_commit_returns_same_tip(self, source: GitRepo, mirror: Mirror) -> None:
        """Fetching twice with nothing new returns the same commit."""
        assert mirror.fetch().commit == mirror.fetch().commit == source.git("rev-parse", "HEAD")

    def test_force_push_overwrites_branch(self, source: GitRepo, mirror: Mirror) -> None:
        """A branch reset to an older commit plus a new commit is followed, not refused."""
        base = source.git("rev-parse", "HEAD")
        source.write("jobs/doomed.py", "gone soon\n")
        old_tip = source.commit("to be rewritten")
        assert mirror.fetch().commit == old_tip
        source.git("reset", "-q", "--hard", base)
        source.write("jobs/new.py", "new\n")
        new_tip = source.commit("rewritten history")

        fetched = mirror.fetch()

        assert fetched.commit == new_tip
        assert _mirror_git(mirror, "rev-parse", "refs/heads/main") == new_tip
        assert mirror.changes(old_tip, new_tip) == [
            Change("jobs/doomed.py", None),
            _added(source, "jobs/new.py"),
        ]

    def test_detached_head_matching_one_branch_uses_that_branch(
        self, source: GitRepo, mirror: Mirror
    ) -> None:
        """A remote HEAD detached at a branch tip resolves to that branch."""
        source.git("checkout", "-q", "--detach")

        assert mirror.fetch().branch == "main"


class TestOneFetchAtATime:
    """Issue 12, items 8 and 9: processes on one host take turns on a mirror; a killed fetch's locks go."""

    def test_a_lock_file_left_by_a_killed_fetch_is_cleared(self, source: GitRepo, mirror: Mirror) -> None:
        """``refs/heads/main.lock`` from a fetch killed mid-way does not block every later fetch."""
        mirror.fetch()
        (mirror.path / "refs" / "heads" / "main.lock").write_text("half-written\n")
        (mirror.path / "objects" / "pack" / "pack-0000.idx.lock").write_text("")
        source.write("jobs/b.py", "print('b')\n")
        tip = source.commit("second")

        assert mirror.fetch().commit == tip
        assert not list(mirror.path.glob("**/*.lock"))

    def test_a_second_fetch_waits_for_the_first(self, source: GitRepo, mirror: Mirror) -> None:
        """While another process holds the mirror's fetch lock, a fetch waits instead of failing."""
        mirror.fetch()
        source.write("jobs/b.py", "print('b')\n")
        tip = source.commit("second")
        outcome: list[str] = []
        with open(mirror.path.parent / f"{mirror.path.name}.lock", "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)  # as the daemon's fetch would hold it
            waiting = threading.Thread(target=lambda: outcome.append(mirror.fetch().commit))
            waiting.start()
            waiting.join(timeout=1.0)
            assert waiting.is_alive() and outcome == []  # still waiting, not failed
        waiting.join(timeout=30)
        assert outcome == [tip]


class TestFetchErrors:
    @pytest.mark.parametrize("as_url", [True, False], ids=["file-url", "path"])
    def test_missing_path_is_not_found(self, tmp_path: Path, as_url: bool) -> None:
        """A source path that does not exist raises NotFound naming it."""
        missing = tmp_path / "nowhere"
        url = f"file://{missing}" if as_url else str(missing)

        with pytest.raises(GitError) as caught:
            Mirror(tmp_path / "m.git", url).fetch()

        assert caught.value.reason == "NotFound"
        assert str(caught.value) == f"cannot fetch {url}: repository not found"

    def test_folder_that_is_not_a_repository_is_not_found(self, tmp_path: Path) -> None:
        """An existing folder without a repository raises NotFound."""
        (tmp_path / "plain").mkdir()

        with pytest.raises(GitError) as caught:
            Mirror(tmp_path / "m.git", str(tmp_path / "plain")).fetch()

        assert caught.value.reason == "NotFound"

    def test_unknown_branch_is_bad_ref_listing_branches(self, source: GitRepo, mirror: Mirror) -> None:
        """A branch the remote lacks raises BadRef and names the branches it has."""
        source.git("branch", "dev")

        with pytest.raises(GitError) as caught:
            mirror.fetch("nope")

        assert caught.value.reason == "BadRef"
        assert str(caught.value) == f"branch 'nope' not found in {source.url} (branches: dev, main)"

    @pytest.mark.parametrize("branch", [None, "main"])
    def test_empty_repository_is_bad_ref(self, tmp_path: Path, branch: str | None) -> None:
        """A repository without commits raises BadRef, asked for a branch or not."""
        empty = GitRepo(tmp_path / "empty")

        with pytest.raises(GitError) as caught:
            Mirror(tmp_path / "m.git", empty.url).fetch(branch)

        assert caught.value.reason == "BadRef"
        assert "has no commits" in str(caught.value)

    def test_detached_head_off_every_branch_is_bad_ref(self, source: GitRepo, mirror: Mirror) -> None:
        """A remote HEAD detached away from every branch tip cannot pick a branch."""
        first = source.git("rev-parse", "HEAD")
        source.commit("second")
        source.git("checkout", "-q", first)

        with pytest.raises(GitError) as caught:
            mirror.fetch()

        assert caught.value.reason == "BadRef"

    def test_refused_connection_is_unreachable_without_credentials(self, tmp_path: Path) -> None:
        """A refused HTTP connection raises Unreachable, and the message keeps no password."""
        url = "http://user:s3cret@127.0.0.1:1/x.git"

        with pytest.raises(GitError) as caught:
            Mirror(tmp_path / "m.git", url).fetch(username="user", password="s3cret")

        assert caught.value.reason == "Unreachable"
        assert "s3cret" not in str(caught.value)
        assert "http://127.0.0.1:1/x.git" in str(caught.value)
        assert "\n" not in str(caught.value)

    @pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the system ssh")
    def test_refused_ssh_connection_is_unreachable(self, tmp_path: Path) -> None:
        """An ssh hangup (here: connection refused) raises Unreachable with ssh's own words."""
        with pytest.raises(GitError) as caught:
            Mirror(tmp_path / "m.git", "ssh://git@127.0.0.1:1/x.git").fetch()

        assert caught.value.reason == "Unreachable"
        assert str(caught.value).startswith("cannot fetch ssh://127.0.0.1:1/x.git: ")


def _truncate_packs(objects: Path) -> None:
    for pack in objects.glob("pack/*.pack"):
        data = pack.read_bytes()
        pack.write_bytes(data[: len(data) // 2])


def _empty_packs(objects: Path) -> None:
    for pack in objects.glob("pack/*.pack"):
        pack.write_bytes(b"")


def _delete_packs(objects: Path) -> None:
    for pack in objects.glob("pack/*.pack"):
        pack.unlink()


def _scribble_on_packs(objects: Path) -> None:
    for pack in objects.glob("pack/*.pack"):
        data = bytearray(pack.read_bytes())
        data[20:40] = b"x" * 20
        pack.write_bytes(bytes(data))


def _delete_objects(objects: Path) -> None:
    shutil.rmtree(objects)


class TestCorruptMirror:
    @pytest.mark.parametrize(
        "damage",
        [_truncate_packs, _empty_packs, _delete_packs, _scribble_on_packs, _delete_objects],
        ids=["truncated-pack", "empty-pack", "deleted-pack", "scribbled-pack", "no-objects-dir"],
    )
    def test_damaged_store_is_recloned(
        self, source: GitRepo, mirror: Mirror, damage: Callable[[Path], None]
    ) -> None:
        """A mirror whose object store was damaged is deleted and cloned again, and the fetch succeeds."""
        mirror.fetch()
        packs = list((mirror.path / "objects").glob("pack/*.pack"))
        assert packs, "the first fetch should have stored a pack"
        damage(mirror.path / "objects")

        fetched = mirror.fetch()

        assert fetched.commit == source.git("rev-parse", "HEAD")
        assert {entry.path for entry in mirror.files(fetched.commit)} == {"README.md", "jobs/a.py"}

    def test_broken_source_is_corrupt_and_the_mirror_is_kept(self, source: GitRepo, mirror: Mirror) -> None:
        """When the source itself holds broken objects, Corrupt names the source, and the mirror is not wiped."""
        synced = mirror.fetch().commit
        source.write("jobs/b.py", "print('b')\n")
        source.commit("second")
        for loose in (source.path / ".git" / "objects").glob("??/*"):
            loose.chmod(0o644)
            loose.write_bytes(b"garbage")

        with pytest.raises(GitError) as caught:
            mirror.fetch()

        assert caught.value.reason == "Corrupt"
        assert str(caught.value).startswith(f"cannot fetch {source.url}: the repository there is damaged (")
        assert mirror.has_commit(synced)

    def test_a_loose_object_over_dulwichs_limit_is_too_large_not_corrupt(
        self, source: GitRepo, mirror: Mirror
    ) -> None:
        """A source storing a blob loose over core.bigFileThreshold (dulwich will not inflate it) is TooLarge, once."""
        synced = mirror.fetch().commit
        source.write("jobs/big.py", b" " * 2_000_000)
        source.commit("a big file, loose")
        source.git("config", "core.bigFileThreshold", "1000000")  # 512 MiB by default: same path, smaller

        with pytest.raises(GitError) as caught:
            mirror.fetch()

        assert caught.value.reason == "TooLarge"
        assert "`git gc` there packs it" in str(caught.value)
        assert mirror.has_commit(synced)  # not wiped and re-cloned

    def test_mirror_path_holding_no_repository_is_replaced(self, source: GitRepo, mirror: Mirror) -> None:
        """A folder at the mirror path that is not a repository is replaced by a fresh mirror."""
        mirror.path.mkdir(parents=True)
        (mirror.path / "junk").write_text("not git\n")

        fetched = mirror.fetch()

        assert fetched.commit == source.git("rev-parse", "HEAD")
        assert not (mirror.path / "junk").exists()


class TestFiles:
    def test_lists_regular_files_with_sha(self, source: GitRepo, mirror: Mirror) -> None:
        """Every regular file, executable or not, is listed with its blob sha and size."""
        source.write("bin/run.sh", "#!/bin/sh\necho hi\n")
        (source.path / "bin/run.sh").chmod(0o755)
        source.write("data/blob.bin", bytes(range(256)) * 3)
        commit = source.commit("more files")
        mirror.fetch()

        entries = mirror.files(commit)

        expected = {
            path: FileEntry(
                path,
                source.git("rev-parse", f"HEAD:{path}"),
                int(source.git("cat-file", "-s", f"HEAD:{path}")),
            )
            for path in ["README.md", "jobs/a.py", "bin/run.sh", "data/blob.bin"]
        }
        assert {entry.path: entry for entry in entries} == expected
        assert len(entries) == len(expected)

    def test_sizes_come_from_loose_packed_and_deltified_objects(
        self, source: GitRepo, mirror: Mirror
    ) -> None:
        """A blob's size is read from its header whether it is loose, whole in a pack, or a delta in a pack."""
        text = "".join(f"line {n}\n" for n in range(5000))
        source.write("jobs/base.py", text)
        source.write("jobs/delta.py", text + "one more line\n")
        source.commit("similar files")
        source.git("gc", "-q")  # similar blobs are packed as deltas of each other
        source.write("jobs/loose.py", "x = 1\n" * 300)
        commit = source.commit("a file kept loose")
        source.git("clone", "-q", "--bare", str(source.path), str(mirror.path))  # git's own mirror
        paths = ["jobs/base.py", "jobs/delta.py", "jobs/loose.py", "jobs/a.py"]
        shas = {path: source.git("rev-parse", f"HEAD:{path}") for path in paths}
        [index] = (mirror.path / "objects" / "pack").glob("*.idx")
        packed = {
            line.split()[0]: line.split()
            for line in _mirror_git(mirror, "verify-pack", "-v", str(index)).splitlines()
        }
        assert shas["jobs/loose.py"] not in packed
        assert len(packed[shas["jobs/base.py"]]) == 7 or len(packed[shas["jobs/delta.py"]]) == 7  # a delta

        sizes = {entry.path: entry.size for entry in mirror.files(commit) if entry.path in shas}

        assert sizes == {path: int(source.git("cat-file", "-s", sha)) for path, sha in shas.items()}

    def test_skips_symlinks_and_submodules(self, source: GitRepo, mirror: Mirror) -> None:
        """Symlinks and submodule entries are not files jobsync can read, so they are left out."""
        (source.path / "link.py").symlink_to("jobs/a.py")
        source.commit("a symlink")
        gitlink = source.git("rev-parse", "HEAD")
        source.git("update-index", "--add", "--cacheinfo", f"160000,{gitlink},sub")
        source.git("commit", "-q", "-m", "a submodule")
        commit = source.git("rev-parse", "HEAD")
        assert "160000" in source.git("ls-tree", "HEAD", "sub")
        mirror.fetch()

        paths = {entry.path for entry in mirror.files(commit)}

        assert paths == {"README.md", "jobs/a.py"}

    def test_non_utf8_name_is_backslash_escaped(self, source: GitRepo, mirror: Mirror) -> None:
        """A file name that is not UTF-8 still comes back as text, with the odd byte escaped."""
        (source.path / os.fsdecode(b"caf\xe9.py")).write_text("x = 1\n")
        commit = source.commit("latin-1 name")
        mirror.fetch()

        assert "caf\\xe9.py" in {entry.path for entry in mirror.files(commit)}

    def test_read_returns_blob_content(self, source: GitRepo, mirror: Mirror) -> None:
        """A blob sha from files() reads back as the file's bytes."""
        fetched = mirror.fetch()
        entry = next(entry for entry in mirror.files(fetched.commit) if entry.path == "jobs/a.py")

        assert mirror.read_many([entry.sha]) == [b"print('a')\n"]

    def test_read_unknown_sha_is_not_found(self, mirror: Mirror) -> None:
        """Reading a blob the mirror lacks raises NotFound."""
        mirror.fetch()

        with pytest.raises(GitError) as caught:
            mirror.read_many(["0" * 40])

        assert caught.value.reason == "NotFound"

    def test_files_of_unknown_commit_is_not_found(self, mirror: Mirror) -> None:
        """Listing a commit the mirror lacks raises NotFound instead of a KeyError."""
        mirror.fetch()

        with pytest.raises(GitError) as caught:
            mirror.files("1" * 40)

        assert caught.value.reason == "NotFound"

    def test_has_commit(self, source: GitRepo, mirror: Mirror) -> None:
        """has_commit is true only for commits the mirror holds."""
        tip = source.git("rev-parse", "HEAD")
        blob = source.git("rev-parse", "HEAD:README.md")
        assert not mirror.has_commit(tip)

        mirror.fetch()

        assert mirror.has_commit(tip)
        assert not mirror.has_commit(blob)
        assert not mirror.has_commit("2" * 40)
        assert not mirror.has_commit("not-a-sha")


class TestChanges:
    def test_adds_modifies_and_deletes(self, source: GitRepo, mirror: Mirror) -> None:
        """Added and modified files carry their new sha; deleted ones carry None."""
        old = mirror.fetch().commit
        source.write("jobs/a.py", "print('changed')\n")
        source.write("jobs/new/b.py", "print('b')\n")
        source.remove("README.md")
        new = source.commit("several changes")
        mirror.fetch()

        changes = mirror.changes(old, new)

        assert sorted(changes, key=lambda change: change.path) == [
            Change("README.md", None),
            _added(source, "jobs/a.py"),
            _added(source, "jobs/new/b.py"),
        ]

    def test_same_commit_has_no_changes(self, mirror: Mirror) -> None:
        """A commit compared with itself has no changes."""
        tip = mirror.fetch().commit

        assert mirror.changes(tip, tip) == []

    def test_file_turned_symlink_counts_as_deleted(self, source: GitRepo, mirror: Mirror) -> None:
        """A regular file replaced by a symlink is reported as deleted, and as a link not followed."""
        old = mirror.fetch().commit
        source.remove("README.md")
        (source.path / "README.md").symlink_to("jobs/a.py")
        new = source.commit("readme is a link now")
        mirror.fetch()

        assert set(mirror.changes(old, new)) == {
            Change("README.md", None),
            Change("README.md", None, link=True),
        }

    def test_rename_is_delete_plus_add(self, source: GitRepo, mirror: Mirror) -> None:
        """A renamed file shows as its old path deleted and its new path added with the same blob."""
        old = mirror.fetch().commit
        sha = source.git("rev-parse", "HEAD:jobs/a.py")
        source.git("mv", "jobs/a.py", "jobs/renamed.py")
        new = source.commit("rename")
        mirror.fetch()

        assert sorted(mirror.changes(old, new), key=lambda change: change.path) == [
            Change("jobs/a.py", None),
            _added(source, "jobs/renamed.py"),
        ]
        assert _added(source, "jobs/renamed.py").sha == sha

    def test_changes_from_unknown_commit_is_not_found(self, mirror: Mirror) -> None:
        """Diffing from a commit the mirror lacks raises NotFound, so callers can fall back to files()."""
        tip = mirror.fetch().commit

        with pytest.raises(GitError) as caught:
            mirror.changes("3" * 40, tip)

        assert caught.value.reason == "NotFound"


class TestRedactUrl:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("https://user:tok@host/x.git", "https://host/x.git"),
            ("https://tok@host:8443/x.git", "https://host:8443/x.git"),
            ("ssh://git@host/x", "ssh://host/x"),
            ("git@github.com:org/x.git", "github.com:org/x.git"),
            ("https://host/x.git", "https://host/x.git"),
            ("/srv/repos/a@b/x", "/srv/repos/a@b/x"),
            ("file:///tmp/x", "file:///tmp/x"),
        ],
    )
    def test_strips_userinfo_only(self, url: str, expected: str) -> None:
        """Credentials before ``@`` in the host part go; paths and hosts stay."""
        assert redact_url(url) == expected


class TestFileUrlEscapes:
    def test_percent_escaped_file_url_is_decoded(self, tmp_path: Path) -> None:
        """A file URL as Path.as_uri() writes it (``a+b`` becomes ``a%2Bb``) reaches the same repository."""
        repo = GitRepo(tmp_path / "a+b" / "repo")
        repo.write("x.py", "x = 1\n")
        sha = repo.commit("one")
        mirror = Mirror(tmp_path / "mirror.git", (tmp_path / "a+b" / "repo").as_uri().replace("+", "%2B"))
        assert mirror.fetch().commit == sha
