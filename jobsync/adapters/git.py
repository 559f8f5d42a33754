"""Bare Git mirrors fetched with dulwich and read without checkout; the only module importing dulwich."""

from __future__ import annotations

import re
import shutil
import stat
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dulwich.client import GitClient, HTTPProxyUnauthorized, HTTPUnauthorized, get_transport_and_path
from dulwich.config import ConfigDict
from dulwich.diff_tree import tree_changes
from dulwich.errors import (
    ApplyDeltaError,
    ChecksumMismatch,
    FileFormatException,
    GitProtocolError,
    HangupException,
    NotGitRepository,
    ObjectMissing,
    WrongObjectException,
)
from dulwich.object_store import iter_tree_contents
from dulwich.objects import Blob, Commit, ObjectID, Tag, Tree, TreeEntry
from dulwich.refs import Ref
from dulwich.repo import Repo

from jobsync.domain.errors import GitError

_HEADS = b"refs/heads/"
_HEAD = Ref(b"HEAD")
_HTTP_TIMEOUT_SECONDS = 60

# What a damaged object store raises when read: dulwich has no common base class for these,
# and a truncated or overwritten pack also surfaces as AssertionError/BufferError/zlib/struct errors.
_STORE_ERRORS: tuple[type[BaseException], ...] = (
    KeyError,
    ObjectMissing,
    ChecksumMismatch,
    ApplyDeltaError,
    FileFormatException,
    WrongObjectException,
    NotGitRepository,
    AssertionError,
    BufferError,
    zlib.error,
    struct.error,
    ValueError,
    IndexError,
)

_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")
_SCP_USERINFO = re.compile(r"^[^/:@\s]+@(?=[^/:\s]+:)")


@dataclass(frozen=True)
class Fetched:
    """What one fetch brought: the branch used and the commit its tip points to."""

    commit: str
    branch: str


@dataclass(frozen=True)
class FileEntry:
    """A regular file in a commit's tree."""

    path: str
    sha: str
    size: int


@dataclass(frozen=True)
class Change:
    """A regular file added, modified (``sha`` is the new blob) or deleted (``sha`` is None)."""

    path: str
    sha: str | None


class _CorruptMirrorError(Exception):
    """The local mirror cannot be used as it is; deleting and re-cloning it may help."""


def redact_url(url: str) -> str:
    """Drop the userinfo (``user:password@``) of a URL so it can go into logs, events and errors."""
    if "://" in url:
        return _URL_USERINFO.sub(r"\1", url, count=1)
    return _SCP_USERINFO.sub("", url, count=1)


def _redact_text(text: str) -> str:
    """Drop userinfo from every URL inside a library message, which may quote the URL it used."""
    return _URL_USERINFO.sub(r"\1", text)


def _detail(exc: BaseException) -> str:
    """One line describing ``exc``, credentials removed."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return _redact_text(text)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: dulwich wraps urllib3's errors, and urllib3 keeps its own in ``reason``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        current = current.__cause__ or (reason if isinstance(reason, BaseException) else None)


def _classify(exc: BaseException, url: str) -> GitError:
    """Map any failure of dulwich (or the OS under it) to a GitError with a one-line message."""
    if isinstance(exc, GitError):
        return exc
    where = redact_url(url)
    detail = _detail(exc)
    if isinstance(exc, _CorruptMirrorError):
        return GitError("Corrupt", f"mirror of {where} is corrupt even after a fresh clone: {detail}")
    if isinstance(exc, (HTTPUnauthorized, HTTPProxyUnauthorized)):
        return GitError("AuthenticationFailed", f"cannot fetch {where}: authentication failed")
    if isinstance(exc, NotGitRepository):
        return GitError("NotFound", f"cannot fetch {where}: repository not found")
    chain = list(_causes(exc))
    if any(isinstance(e, TimeoutError) or "Timeout" in type(e).__name__ for e in chain):
        return GitError("Timeout", f"cannot fetch {where}: timed out ({detail})")
    if isinstance(exc, HangupException):
        return _classify_ssh(detail, where)
    if isinstance(exc, GitProtocolError):
        if re.search(r"\bhttp resp (401|403)\b", detail):
            return GitError("AuthenticationFailed", f"cannot fetch {where}: access denied ({detail})")
        if re.search(r"\bhttp resp 404\b", detail):
            return GitError("NotFound", f"cannot fetch {where}: repository not found")
        return GitError("Unreachable", f"cannot fetch {where}: {detail}")
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return GitError("NotFound", f"cannot fetch {where}: repository not found")
    if isinstance(exc, OSError):
        return GitError("Unreachable", f"cannot fetch {where}: {detail}")
    if isinstance(exc, _STORE_ERRORS):
        return GitError("Corrupt", f"mirror of {where} is corrupt: {detail}")
    return GitError("Unreachable", f"cannot fetch {where}: {type(exc).__name__}: {detail}")


def _classify_ssh(detail: str, where: str) -> GitError:
    """Read the system ssh's stderr, the only clue an ssh hangup carries."""
    lowered = detail.lower()
    if "permission denied" in lowered or "authentication failed" in lowered:
        return GitError("AuthenticationFailed", f"cannot fetch {where}: authentication failed ({detail})")
    if "timed out" in lowered:
        return GitError("Timeout", f"cannot fetch {where}: timed out ({detail})")
    if "not found" in lowered or "does not appear to be a git repository" in lowered:
        return GitError("NotFound", f"cannot fetch {where}: repository not found ({detail})")
    return GitError("Unreachable", f"cannot fetch {where}: {detail}")


def _branch_name(branch: str) -> str:
    """Accept ``main`` as well as ``refs/heads/main``."""
    return branch.removeprefix("refs/heads/")


def _object_id(sha: str) -> ObjectID | None:
    """A hex sha as dulwich wants it, or None when ``sha`` cannot be one."""
    if re.fullmatch(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}", sha) is None:
        return None
    return ObjectID(sha.lower().encode("ascii"))


def _path(raw: bytes) -> str:
    """Tree paths are bytes; jobsync wants text even when a name is not UTF-8."""
    return raw.decode("utf-8", "backslashreplace")


def _is_regular(entry: TreeEntry | None) -> bool:
    """Regular files only: symlinks (0o120000) and submodules (0o160000) hold no job text."""
    return entry is not None and stat.S_ISREG(entry.mode)


@contextmanager
def _closing(repo: Repo) -> Iterator[Repo]:
    """Close ``repo``; after a failed read, closing a pack can fail too (its mmap is still exported)."""
    try:
        yield repo
    except BaseException:
        with suppress(Exception):
            repo.close()
        raise
    repo.close()


class Mirror:
    """A bare mirror of one source under the state dir."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url

    def fetch(
        self, branch: str | None = None, *, username: str | None = None, password: str | None = None
    ) -> Fetched:
        """Bring ``branch`` (or the remote HEAD's branch) up to date; a broken mirror is re-cloned once."""
        client, remote_path = self._client(username, password)
        try:
            try:
                return self._fetch_into_mirror(client, remote_path, branch)
            except _CorruptMirrorError:
                shutil.rmtree(self.path, ignore_errors=True)
            return self._fetch_into_mirror(client, remote_path, branch)
        except Exception as exc:  # every failure leaves as a GitError, classified in one place
            raise _classify(exc, self.url) from None

    def files(self, commit: str) -> list[FileEntry]:
        """Every regular file of ``commit``, read from the object store (no checkout)."""
        with self._reading() as repo:
            tree = self._commit(repo, commit).tree
            store = repo.object_store
            return [
                FileEntry(_path(entry.path), entry.sha.decode("ascii"), len(store.get_raw(entry.sha)[1]))
                for entry in iter_tree_contents(store, tree)
                if _is_regular(entry)
            ]

    def changes(self, old_commit: str, new_commit: str) -> list[Change]:
        """Regular files that differ between two commits; renames come as a delete and an add."""
        with self._reading() as repo:
            old_tree = self._commit(repo, old_commit).tree
            new_tree = self._commit(repo, new_commit).tree
            result: list[Change] = []
            for change in tree_changes(repo.object_store, old_tree, new_tree):
                if _is_regular(change.new):
                    assert change.new is not None
                    result.append(Change(_path(change.new.path), change.new.sha.decode("ascii")))
                elif _is_regular(change.old):
                    assert change.old is not None
                    result.append(Change(_path(change.old.path), None))
            return result

    def read(self, sha: str) -> bytes:
        """The content of blob ``sha``."""
        return self.read_many([sha])[0]

    def read_many(self, shas: Sequence[str]) -> list[bytes]:
        """The contents of several blobs, opening the mirror once (an open re-reads the pack index)."""
        with self._reading() as repo:
            return [self._blob(repo, sha) for sha in shas]

    def _blob(self, repo: Repo, sha: str) -> bytes:
        object_id = _object_id(sha)
        if object_id is None or object_id not in repo.object_store:
            raise GitError("NotFound", f"blob {sha} not found in the mirror of {redact_url(self.url)}")
        blob = repo.object_store[object_id]
        if not isinstance(blob, Blob):
            raise GitError("NotFound", f"{sha} in the mirror of {redact_url(self.url)} is not a file")
        return blob.as_raw_string()

    def has_commit(self, sha: str) -> bool:
        """Whether the mirror holds commit ``sha`` (a diff from it is possible)."""
        object_id = _object_id(sha)
        if object_id is None:
            return False
        try:
            with self._reading() as repo:
                return object_id in repo.object_store and isinstance(repo.object_store[object_id], Commit)
        except GitError:  # no mirror yet, or a damaged one: either way the commit cannot be used
            return False

    def _client(self, username: str | None, password: str | None) -> tuple[GitClient, str]:
        """The transport for this URL: local in-process, HTTP via urllib3, or the system ssh."""
        config = ConfigDict()
        config.set((b"http",), b"timeout", str(_HTTP_TIMEOUT_SECONDS).encode("ascii"))
        location = self.url
        if location.startswith("file://"):
            # dulwich takes the rest of a file URL verbatim; a browser-style %-escape must be decoded.
            location = unquote(urlsplit(location).path)
        try:
            return get_transport_and_path(location, config=config, username=username, password=password)
        except ValueError as exc:  # dulwich's way of refusing a URL it cannot parse
            raise GitError("NotFound", f"cannot fetch {redact_url(self.url)}: {_detail(exc)}") from None

    def _fetch_into_mirror(self, client: GitClient, remote_path: str, branch: str | None) -> Fetched:
        """One attempt: fetch into the mirror, check what came, point the branch ref at it."""
        with self._open_or_create() as repo:
            store = repo.object_store
            wanted = _branch_name(branch) if branch else None

            def determine_wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
                ref = Ref(_HEADS + wanted.encode("utf-8")) if wanted else _HEAD
                sha = refs.get(ref)
                return [] if sha is None or sha in store else [sha]

            try:
                result = client.fetch(remote_path, repo, determine_wants=determine_wants)
            except _STORE_ERRORS as exc:
                if isinstance(exc, NotGitRepository):
                    raise
                raise _CorruptMirrorError(_detail(exc)) from None
            refs = {name: sha for name, sha in result.refs.items() if sha is not None}
            used = wanted or self._remote_default_branch(refs, result.symrefs)
            tip = refs.get(Ref(_HEADS + used.encode("utf-8")))
            if tip is None:
                raise self._unknown_branch(used, refs)
            commit = self._verified_commit(repo, tip, used)
            repo.refs[Ref(_HEADS + used.encode("utf-8"))] = tip
            return Fetched(commit=commit.decode("ascii"), branch=used)

    def _remote_default_branch(self, refs: Mapping[Ref, ObjectID], symrefs: Mapping[Ref, Ref]) -> str:
        """The branch the remote HEAD names; a detached HEAD counts only when exactly one branch matches."""
        where = redact_url(self.url)
        if not any(name.startswith(_HEADS) for name in refs):
            raise GitError("BadRef", f"{where} has no commits")
        target = symrefs.get(_HEAD)
        if target is not None and target.startswith(_HEADS) and target in refs:
            return _path(target[len(_HEADS) :])
        head = refs.get(_HEAD)
        matching = [name for name, sha in refs.items() if name.startswith(_HEADS) and sha == head]
        if head is not None and len(matching) == 1:
            return _path(matching[0][len(_HEADS) :])
        raise GitError("BadRef", f"the HEAD of {where} does not name a branch; give a branch")

    def _unknown_branch(self, branch: str, refs: Mapping[Ref, ObjectID]) -> GitError:
        """BadRef naming the branches the remote does have, so the fix is obvious."""
        where = redact_url(self.url)
        names = sorted(_path(name[len(_HEADS) :]) for name in refs if name.startswith(_HEADS))
        if not names:
            return GitError("BadRef", f"{where} has no commits")
        return GitError("BadRef", f"branch {branch!r} not found in {where} (branches: {', '.join(names)})")

    def _verified_commit(self, repo: Repo, tip: ObjectID, branch: str) -> ObjectID:
        """Peel ``tip`` to its commit and read the commit and root tree, proving the store can serve them."""
        try:
            obj = repo.object_store[tip]
            while isinstance(obj, Tag):
                obj = repo.object_store[obj.object[1]]
            if isinstance(obj, Commit) and isinstance(repo.object_store[obj.tree], Tree):
                return obj.id
        except _STORE_ERRORS as exc:
            raise _CorruptMirrorError(_detail(exc)) from None
        raise GitError("BadRef", f"branch {branch!r} of {redact_url(self.url)} does not point to a commit")

    @contextmanager
    def _open_or_create(self) -> Iterator[Repo]:
        """Open the mirror, creating it when missing; anything unreadable is reported as corrupt."""
        try:
            if self.path.exists():
                repo = Repo(str(self.path))
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                repo = Repo.init_bare(str(self.path), mkdir=True)
        except OSError as exc:
            raise GitError(
                "Corrupt", f"cannot open the mirror of {redact_url(self.url)} at {self.path}: {_detail(exc)}"
            ) from None
        except _STORE_ERRORS as exc:
            raise _CorruptMirrorError(_detail(exc)) from None
        with _closing(repo):
            yield repo

    @contextmanager
    def _reading(self) -> Iterator[Repo]:
        """Open the existing mirror for reading; every failure becomes a GitError."""
        try:
            with _closing(Repo(str(self.path))) as repo:
                yield repo
        except GitError:
            raise
        except NotGitRepository:
            raise GitError("NotFound", f"no mirror of {redact_url(self.url)} at {self.path}") from None
        except Exception as exc:  # every failure leaves as a GitError, classified in one place
            raise _classify(exc, self.url) from None

    def _commit(self, repo: Repo, sha: str) -> Commit:
        """Commit ``sha`` from the mirror, or NotFound (e.g. lost with a force-push and a re-clone)."""
        object_id = _object_id(sha)
        obj = repo.object_store[object_id] if object_id and object_id in repo.object_store else None
        if not isinstance(obj, Commit):
            raise GitError("NotFound", f"commit {sha} not found in the mirror of {redact_url(self.url)}")
        return obj
