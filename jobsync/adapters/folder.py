"""Job files read from a folder on disk (a local source, or an installed app's files), never imported."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jobsync.domain.discovery import MAX_FILE_SIZE
from jobsync.domain.errors import SourceReadError
from jobsync.domain.provenance import Provenance
from jobsync.ports import Change, FileEntry

#: A file modified less than this before a scan may change again without its stat showing it.
_RACY_WINDOW_NS = 2_000_000_000
#: ``commit`` of a folder snapshot is this prefix plus a digest of every (path, blob sha) pair.
FOLDER_COMMIT_PREFIX = "tree:"
#: Instead of a blob sha, a file over the size limit is named by its size and stamp: it is never read.
_OVERSIZED = "oversized:"


def blob_sha(data: bytes) -> str:
    """The id git would give these bytes, so folder and git sources name file versions alike."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class _Seen:
    """What a file looked like at the last scan, so an unchanged file is not read again.

    ``racy``: the file changed so close to that scan that a rewrite in the same clock tick would
    leave its stat unchanged; such a file is read again next time (git's "racy" entries).
    """

    stamp: tuple[int, int, int]
    sha: str
    racy: bool = False


@dataclass
class FolderSnapshot:
    """The candidate files of a folder at one moment; ``commit`` changes exactly when they do."""

    commit: str
    entries: dict[str, str]  # path -> blob sha
    _root: Path
    _data: dict[str, bytes] = field(default_factory=dict)  # sha -> contents read during the scan
    branch: str = ""
    skipped_links: list[str] = field(default_factory=list)
    _files: dict[str, Path] = field(default_factory=dict)  # path -> the file, where its name is not UTF-8

    def files(self) -> list[FileEntry]:
        return [FileEntry(path, sha, _size_of(sha)) for path, sha in sorted(self.entries.items())]

    def changes_since(self, old_commit: str, known: Mapping[str, str]) -> list[Change]:
        """Files added, changed or removed compared with the ``known`` (path -> sha) listing."""
        changes = [
            Change(path, sha, size=_size_of(sha))
            for path, sha in self.entries.items()
            if known.get(path) != sha
        ]
        changes += [Change(path, None) for path in known if path not in self.entries]
        changes += [Change(path, None, link=True) for path in self.skipped_links]
        return changes

    def links(self) -> list[str]:
        """Links the scan did not follow: to folders, or to files outside the folder (or in a loop)."""
        return self.skipped_links

    def provenance(self, since: str | None, paths: Collection[str]) -> Provenance:
        """A folder has no commits, so no author: an empty answer."""
        return Provenance()

    def read_many(self, shas: Sequence[str]) -> list[bytes]:
        by_sha = {sha: path for path, sha in self.entries.items()}
        contents = []
        for sha in shas:
            data = self._data.get(sha)
            if data is None:
                try:
                    path = by_sha[sha]
                    data = self._files.get(path, self._root / path).read_bytes()
                except (OSError, KeyError) as exc:
                    raise SourceReadError("NotFound", f"cannot read {by_sha.get(sha, sha)}: {exc}") from None
            contents.append(data)
        return contents


class Folder:
    """A folder of job files; keeps what it saw so a rescan only reads files whose stat changed."""

    def __init__(
        self, root: Path, wanted: Callable[[str], bool], only: Iterable[str] | None = None, label: str = ""
    ) -> None:
        self.root = root
        self.wanted = wanted
        self.only = sorted(set(only)) if only is not None else None
        self.label = label or str(root)
        self._seen: dict[str, _Seen] = {}
        self._skipped: list[str] = []  # links the last scan did not follow

    def snapshot(self, branch: str | None = None) -> FolderSnapshot:
        """Scan the folder now; ``branch`` is accepted for symmetry with git and ignored."""
        if not self.root.is_dir():
            raise SourceReadError("NotFound", f"folder {self.label} does not exist or is not a folder")
        entries: dict[str, str] = {}
        renamed: dict[str, Path] = {}
        data: dict[str, bytes] = {}
        seen: dict[str, _Seen] = {}
        self._skipped = []
        scan_started = time.time_ns()
        for path, full in self._candidates():
            try:
                stat = full.stat()
            except OSError:
                continue  # vanished between listing and stat: the next scan sees the truth
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            known = self._seen.get(path)
            if known is not None and known.stamp == stamp and not known.racy:
                sha = known.sha
            elif stat.st_size > MAX_FILE_SIZE:
                # Never read into memory: its size alone says it is skipped (a 2 GB file costs nothing).
                sha = f"{_OVERSIZED}{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}"
            else:
                try:
                    contents = full.read_bytes()
                except OSError:
                    continue
                sha = blob_sha(contents)
                data[sha] = contents
            entries[path] = sha
            if "\\" in path:  # perhaps a name _text_path escaped: read the file, not its escaped name
                renamed[path] = full
            seen[path] = _Seen(stamp, sha, racy=stat.st_mtime_ns >= scan_started - _RACY_WINDOW_NS)
        self._seen = seen
        listing = "\n".join(f"{path} {sha}" for path, sha in sorted(entries.items()))
        commit = FOLDER_COMMIT_PREFIX + hashlib.sha1(listing.encode(), usedforsecurity=False).hexdigest()
        return FolderSnapshot(commit, entries, self.root, data, skipped_links=self._skipped, _files=renamed)

    def _candidates(self) -> Iterable[tuple[str, Path]]:
        """(relative POSIX path, file) pairs; links leaving the root and hidden folders are skipped."""
        root = self.root.resolve()
        if self.only is not None:
            for path in self.only:
                full = root / path
                if self.wanted(path) and full.is_file() and _inside(full, root):
                    yield path, full
            return
        for folder, dirs, files in os.walk(root, followlinks=False):
            linked = sorted(d for d in dirs if (Path(folder) / d).is_symlink())
            self._skipped += [_text_path(Path(folder) / d, root) for d in linked]
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in linked)
            for name in sorted(files):
                full = Path(folder) / name
                path = _text_path(full, root)
                if not self.wanted(path):
                    continue
                if _inside(full, root) and full.is_file():
                    yield path, full
                elif full.is_symlink():
                    self._skipped.append(path)


def _text_path(full: Path, root: Path) -> str:
    """``full``'s POSIX path under ``root``, as text every store keeps.

    A name that is not UTF-8 is escaped (``caf\\xe9.py``), as the git reader names it, rather than
    carried as lone surrogates, which made every sync of the folder fail.
    """
    return os.fsencode(full.relative_to(root).as_posix()).decode("utf-8", "backslashreplace")


def _size_of(sha: str) -> int | None:
    """The size a folder snapshot noted instead of reading a file, else None."""
    if not sha.startswith(_OVERSIZED):
        return None
    return int(sha[len(_OVERSIZED) :].split(":", 1)[0])


def _inside(full: Path, root: Path) -> bool:
    """Whether ``full`` (after following links) stays under ``root``."""
    try:
        return full.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # Python 3.11 raises RuntimeError for a link loop
        return False


class AppFolder:
    """The Python files of an installed distribution, located through its metadata, never imported.

    The distribution is looked up at each snapshot, so a package installed, removed or upgraded
    after start is seen at the next sync (and a missing one fails that sync, not the set-up).
    """

    def __init__(self, distribution: str, wanted: Callable[[str], bool]) -> None:
        self.distribution = distribution
        self.wanted = wanted
        self._folder: Folder | None = None

    def snapshot(self, branch: str | None = None) -> FolderSnapshot:
        from importlib import metadata  # only app sources need it; every CLI call would pay its import

        try:
            dist = metadata.distribution(self.distribution)
        except metadata.PackageNotFoundError:
            raise SourceReadError(
                "NotFound", f"no installed distribution named {self.distribution!r}"
            ) from None
        root = Path(str(dist.locate_file("")))
        files = sorted(
            {
                f.as_posix()
                for f in (dist.files or [])
                if f.suffix == ".py" and not f.as_posix().startswith("..")
            }
        )
        if self._folder is None or self._folder.root != root or self._folder.only != files:
            self._folder = Folder(root, self.wanted, only=files, label=f"app {self.distribution}")
        return self._folder.snapshot()
