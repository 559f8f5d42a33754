"""Bare Git mirrors fetched with dulwich and read without checkout; the only module importing dulwich."""

from __future__ import annotations

import fcntl
import math
import os
import re
import shlex
import shutil
import stat
import struct
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast
from urllib.parse import unquote, urlsplit

from dulwich.client import (
    GitClient,
    HTTPProxyUnauthorized,
    HTTPUnauthorized,
    LocalGitClient,
    default_urllib3_manager,
    get_transport_and_path,
)
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
from dulwich.file import FileLocked
from dulwich.object_store import DiskObjectStore, iter_tree_contents
from dulwich.objects import Blob, Commit, ObjectID, Tag, Tree, TreeEntry
from dulwich.pack import DELTA_TYPES, OFS_DELTA, take_msb_bytes_at
from dulwich.refs import Ref
from dulwich.repo import Repo

from jobsync.domain.errors import GitError
from jobsync.domain.provenance import CommitInfo, Provenance
from jobsync.ports import Change, FileEntry
from jobsync.spec import DEFAULT_TIMEOUT
from jobsync.urls import redact_text, redact_url, url_transport

_HEADS = b"refs/heads/"
_TAGS = b"refs/tags/"
_HEAD = Ref(b"HEAD")
_PEELED = b"^{}"
#: How many names a "not found" message lists before "…".
_LISTED_REFS = 10

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


#: Bytes read where an object starts to learn its size: the pack entry header, a delta's base, and
#: enough of the zlib stream to inflate a delta's own size header (a Huffman table takes a few hundred).
_HEADER_BYTES = 1024


def _varint(groups: Sequence[int]) -> int:
    """A size as git writes it in pack and delta headers: little-endian groups of 7 bits."""
    return sum((byte & 0x7F) << (7 * i) for i, byte in enumerate(groups))


def _pack_entry_size(head: bytes, id_length: int) -> int:
    """The inflated size of the pack entry that ``head`` starts, inflating at most 20 bytes of it.

    A whole object's header holds its size; a delta's holds the delta's size, and the size of the
    object it makes is the second number of the delta's own header, the first bytes it inflates to.
    """
    header, position, _ = take_msb_bytes_at(head, 0)
    size = (header[0] & 0x0F) | (_varint(header[1:]) << 4)
    kind = (header[0] >> 4) & 0x07
    if kind not in DELTA_TYPES:
        return size
    if kind == OFS_DELTA:
        _, position, _ = take_msb_bytes_at(head, position)
    else:
        position += id_length
    delta = zlib.decompressobj().decompress(head[position:], 20)
    _, position, _ = take_msb_bytes_at(delta, 0)  # the size of the base the delta applies to
    target, _, _ = take_msb_bytes_at(delta, position)
    return _varint(target)


def _loose_size(head: bytes) -> int:
    """The size in a loose object's header (``blob 1234\\0``), the first bytes it inflates to."""
    header = zlib.decompressobj().decompress(head, 64).partition(b"\0")[0]
    return int(header.partition(b" ")[2])


def _head_of(path: str) -> bytes:
    """The first bytes of a loose object's file (opened and closed here: there may be thousands)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        return os.pread(descriptor, _HEADER_BYTES, 0)
    finally:
        os.close(descriptor)


class _BlobSizes:
    """Blob sizes read from object headers, never from inflated contents; each pack is opened once.

    dulwich reads only whole objects (a pack entry is inflated to its end even when only its
    header is asked for), so a 500 MB blob of spaces would cost 500 MB to learn it is too big.
    """

    def __init__(self, store: object) -> None:
        self._store = store if isinstance(store, DiskObjectStore) else None
        self._packs = self._store.packs if self._store is not None else []  # each call lists the folder
        self._files = ExitStack()
        self._opened: dict[str, int] = {}  # path -> file descriptor

    def __enter__(self) -> _BlobSizes:
        return self

    def __exit__(self, *exc: object) -> None:
        self._files.close()

    def __call__(self, sha: ObjectID) -> int | None:
        """The size of blob ``sha``, or None when its header cannot be found or read (reading will tell)."""
        store = self._store
        if store is None:
            return None
        try:
            for pack in self._packs:
                try:
                    offset = pack.index.object_offset(sha)
                except KeyError:
                    continue
                head = self._read(os.fspath(pack.data.path), offset)
                return _pack_entry_size(head, store.object_format.oid_length)
            hex_sha = sha.decode("ascii")
            return _loose_size(_head_of(f"{os.fspath(store.path)}/{hex_sha[:2]}/{hex_sha[2:]}"))
        except OSError:
            return None
        except _STORE_ERRORS:
            return None

    def _read(self, path: str, offset: int) -> bytes:
        """The first bytes at ``offset`` of a pack, kept open for the next lookup."""
        descriptor = self._opened.get(path)
        if descriptor is None:
            descriptor = self._opened[path] = os.open(path, os.O_RDONLY)
            self._files.callback(os.close, descriptor)
        return os.pread(descriptor, _HEADER_BYTES, offset)


@dataclass(frozen=True)
class RemoteOptions:
    """How to reach a remote, from the source's config (credentials are read per fetch, not here).

    ``timeout`` bounds connecting and each wait for data (HTTP), or connecting (ssh); ``proxy``
    and ``ca_bundle`` apply to http(s) URLs, ``ssh_key_file`` and ``known_hosts_file`` to ssh ones.
    """

    timeout: float = DEFAULT_TIMEOUT
    proxy: str | None = None
    ca_bundle: str | None = None
    ssh_key_file: str | None = None
    known_hosts_file: str | None = None


@dataclass(frozen=True)
class Fetched:
    """What one fetch brought: the commit, and what led to it (``main``, ``tag v1.2``, ``commit 0a1b…``)."""

    commit: str
    branch: str


class _CorruptMirrorError(Exception):
    """The local mirror cannot be used as it is; deleting and re-cloning it may help."""


class _RemoteBrokenError(Exception):
    """The remote's list of refs could not be read: its answer (or repository) is broken, not the mirror.

    Nothing of the mirror is read before that list makes sense, so wiping the mirror cannot help.
    """


class _LooseObjectTooLargeError(Exception):
    """A local remote stores an object loose that is larger than dulwich inflates (not damage)."""


#: What dulwich's zlib.error says when a loose object is over ``core.bigFileThreshold`` (512 MiB).
_OVER_LOOSE_LIMIT = "decompressed data exceeds maximum size"


def ssh_command(options: RemoteOptions) -> str:
    """The system ssh, never prompting, checking host keys strictly, with the configured key and known hosts."""
    seconds = max(1, math.ceil(options.timeout))
    args = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"ConnectTimeout={seconds}",
        # A dead peer is noticed after about ``timeout`` (three unanswered keep-alives).
        "-o",
        f"ServerAliveInterval={max(1, math.ceil(seconds / 3))}",
        "-o",
        "ServerAliveCountMax=3",
    ]
    if options.known_hosts_file:
        # Only the configured file: quoted, because ssh splits this option's value at spaces.
        args += [
            "-o",
            f'UserKnownHostsFile="{options.known_hosts_file}"',
            "-o",
            "GlobalKnownHostsFile=/dev/null",
        ]
    if options.ssh_key_file:
        args += ["-i", options.ssh_key_file, "-o", "IdentitiesOnly=yes"]
    return shlex.join(args)


def _detail(exc: BaseException, secrets: Sequence[str] = ()) -> str:
    """One line describing ``exc``, credentials removed (URL userinfo and any ``secrets`` it quotes)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return redact_text(text)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: dulwich wraps urllib3's errors, and urllib3 keeps its own in ``reason``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        current = current.__cause__ or (reason if isinstance(reason, BaseException) else None)


def _classify(exc: BaseException, url: str, secrets: Sequence[str] = ()) -> GitError:
    """Map any failure of dulwich (or the OS under it) to a GitError with a one-line message.

    Reasons: AuthenticationFailed (401/403, ssh refused the key or the host key), NotFound (404,
    no repository at the path), Timeout (connect or read timed out), Unreachable (refused, DNS,
    TLS, any other HTTP status such as 500, an answer that is not Git), BadRef (raised by the fetch
    itself), Busy (another process holds a lock in the mirror), TooLarge (a local remote stores a
    huge object loose, which dulwich refuses to inflate), Corrupt.
    """
    if isinstance(exc, GitError):
        return exc
    where = redact_url(url)
    detail = _detail(exc, secrets)
    if isinstance(exc, FileLocked):
        return GitError(
            "Busy",
            f"cannot update the mirror of {where}: {os.fsdecode(exc.lockfilename)} is held by another process;"
            " the next sync tries again",
        )
    if isinstance(exc, _RemoteBrokenError):
        if url_transport(url) == "local":
            return GitError("Corrupt", f"cannot fetch {where}: the repository there is damaged ({detail})")
        return GitError("Unreachable", f"cannot fetch {where}: the answer is not Git's ({detail})")
    if isinstance(exc, _LooseObjectTooLargeError):
        return GitError(
            "TooLarge",
            f"cannot fetch {where}: it stores an object loose that is over the size dulwich inflates"
            " (core.bigFileThreshold, 512 MiB by default); `git gc` there packs it",
        )
    if isinstance(exc, _CorruptMirrorError):
        return GitError("Corrupt", f"mirror of {where} is corrupt even after a fresh clone: {detail}")
    if isinstance(exc, (HTTPUnauthorized, HTTPProxyUnauthorized)):
        return GitError("AuthenticationFailed", f"cannot fetch {where}: authentication failed")
    if isinstance(exc, NotGitRepository):
        return GitError("NotFound", f"cannot fetch {where}: repository not found")
    timeouts = [e for e in _causes(exc) if isinstance(e, TimeoutError) or "Timeout" in type(e).__name__]
    if timeouts:  # the innermost one says which wait ran out without urllib3's retry wrapping
        return GitError("Timeout", f"cannot fetch {where}: timed out ({_detail(timeouts[-1], secrets)})")
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
    if "remote host identification has changed" in lowered or "host key for" in lowered:
        changed = re.search(r"host key for \S+ has changed", detail, re.IGNORECASE)
        said = f"ssh: {changed.group(0)}" if changed else "ssh: host key verification failed"
        return GitError(
            "AuthenticationFailed",
            f"cannot fetch {where}: host key mismatch: the server's key is not the one in known_hosts ({said})",
        )
    if "host key verification failed" in lowered:
        return GitError(
            "AuthenticationFailed",
            f"cannot fetch {where}: host key unknown: add the server's key to known_hosts_file ({detail})",
        )
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


def _url_password(url: str) -> str | None:
    """The password inside an http(s) URL's userinfo, to use it and to scrub it from messages."""
    if url_transport(url) != "http":
        return None
    password = urlsplit(url).password
    return unquote(password) if password else None


def _path(raw: bytes) -> str:
    """Tree paths are bytes; jobsync wants text even when a name is not UTF-8."""
    return raw.decode("utf-8", "backslashreplace")


def _is_regular(entry: TreeEntry | None) -> bool:
    """Regular files only: symlinks (0o120000) and submodules (0o160000) hold no job text."""
    return entry is not None and stat.S_ISREG(entry.mode)


def _is_link(entry: TreeEntry | None) -> bool:
    return entry is not None and entry.mode is not None and stat.S_ISLNK(entry.mode)


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


@dataclass(frozen=True)
class _Target:
    """What a fetch follows: a ``branch``, a ``tag``, a pinned ``commit``, or the remote's ``head``."""

    kind: str
    name: str = ""

    @property
    def ref(self) -> Ref:
        if self.kind == "branch":
            return Ref(_HEADS + self.name.encode("utf-8"))
        if self.kind == "tag":
            return Ref(_TAGS + self.name.encode("utf-8"))
        return _HEAD

    @property
    def label(self) -> str:
        """How a Snapshot shows it: the branch name, ``tag v1.2`` or ``commit 0a1b2c3d4e5f``."""
        if self.kind == "tag":
            return f"tag {self.name}"
        if self.kind == "commit":
            return f"commit {self.name[:12]}"
        return self.name


def _target(branch: str | None, tag: str | None, commit: str | None) -> _Target:
    if sum(value is not None for value in (branch, tag, commit)) > 1:
        raise ValueError("follow one of branch, tag and commit")
    if tag is not None:
        return _Target("tag", tag.removeprefix("refs/tags/"))
    if commit is not None:
        return _Target("commit", commit.lower())
    if branch is not None:
        return _Target("branch", _branch_name(branch))
    return _Target("head")


class Mirror:
    """A bare mirror of one source under the state dir."""

    def __init__(self, path: Path, url: str, options: RemoteOptions | None = None) -> None:
        self.path = path
        self.url = url
        self.options = options or RemoteOptions()

    def fetch(
        self,
        branch: str | None = None,
        *,
        tag: str | None = None,
        commit: str | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
    ) -> Fetched:
        """Bring ``branch``, ``tag`` or ``commit`` (else the remote HEAD's branch) into the mirror.

        ``username``/``password`` are sent as HTTP basic auth, ``token`` as a bearer token; a
        broken mirror is re-cloned once. Every failure is a GitError without the secrets.

        One fetch at a time per mirror on this host: a CLI ``resync`` and the daemon take turns
        (an OS lock, released if the holder dies), so neither mistakes the other's half-written
        pack for corruption; holding it, any lock file dulwich left in the mirror is stale.
        """
        target = _target(branch, tag, commit)
        secrets = [s for s in (password, token, _url_password(self.url)) if s]
        try:
            with self._fetching():
                return self._fetch_locked(target, username, password, token)
        except Exception as exc:  # every failure leaves as a GitError, classified in one place
            raise _classify(exc, self.url, secrets) from None

    @contextmanager
    def _fetching(self) -> Iterator[None]:
        """Hold this mirror's fetch lock; clear the lock files a killed fetch left behind."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.parent / f"{self.path.name}.lock", "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            if self.path.is_dir():
                for pattern in ("*.lock", "refs/**/*.lock", "objects/pack/*.lock"):
                    for stale in self.path.glob(pattern):
                        stale.unlink(missing_ok=True)
            yield

    def _fetch_locked(
        self, target: _Target, username: str | None, password: str | None, token: str | None
    ) -> Fetched:
        """The fetch itself, under the lock: a broken mirror is re-cloned once, then kept shallow."""
        client, remote_path = self._client(username, password, token)
        try:
            return self._fetch_into_mirror(client, remote_path, target, self._depth())
        except _CorruptMirrorError:
            shutil.rmtree(self.path, ignore_errors=True)
        try:
            return self._fetch_into_mirror(client, remote_path, target)
        except _CorruptMirrorError:
            # A shallow remote lacks the parents a full-history fetch asks for: keep a shallow
            # mirror of it instead (later fetches stay shallow; trees still diff as usual).
            shutil.rmtree(self.path, ignore_errors=True)
        return self._fetch_into_mirror(client, remote_path, target, depth=1)

    def files(self, commit: str) -> list[FileEntry]:
        """Every regular file of ``commit`` with its size, read from the object store (no checkout, no blob inflated)."""
        with self._reading() as repo, _BlobSizes(repo.object_store) as size_of:
            tree = self._commit(repo, commit).tree
            return [
                FileEntry(_path(entry.path), entry.sha.decode("ascii"), size_of(entry.sha))
                for entry in iter_tree_contents(repo.object_store, tree)
                if _is_regular(entry)
            ]

    def links(self, commit: str) -> list[str]:
        """Paths of the symbolic links in ``commit``: never followed, but worth saying so."""
        with self._reading() as repo:
            tree = self._commit(repo, commit).tree
            return [
                _path(entry.path) for entry in iter_tree_contents(repo.object_store, tree) if _is_link(entry)
            ]

    def changes(self, old_commit: str, new_commit: str) -> list[Change]:
        """Regular files that differ between two commits (with their sizes), and symbolic links that appeared.

        Renames come as a delete and an add; a file that became a link is gone, and the link is new.
        """
        with self._reading() as repo, _BlobSizes(repo.object_store) as size_of:
            old_tree = self._commit(repo, old_commit).tree
            new_tree = self._commit(repo, new_commit).tree
            result: list[Change] = []
            for change in tree_changes(repo.object_store, old_tree, new_tree):
                if _is_regular(change.new):
                    assert change.new is not None
                    sha = change.new.sha
                    result.append(Change(_path(change.new.path), sha.decode("ascii"), size=size_of(sha)))
                elif _is_link(change.new):
                    assert change.new is not None
                    result.append(Change(_path(change.new.path), None, link=True))
                elif _is_regular(change.old) or _is_link(change.old):
                    assert change.old is not None
                    result.append(Change(_path(change.old.path), None))
            return result

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

    def provenance(self, commit: str, since: str | None, paths: Collection[str]) -> Provenance:
        """Who made ``commit``, and for each of ``paths`` the newest commit after ``since`` that changed it.

        Walks newest first, at most WALK_LIMIT commits (so a sync of 10,000 new commits stays fast);
        a path not found within them is left out, and its job is credited to ``commit`` itself. A merge
        changes a path only when it differs from every parent, as ``git log -- PATH`` sees it.
        """
        with self._reading() as repo:
            head = self._commit(repo, commit)
            wanted = set(paths)
            excluded = [oid] if since and (oid := _object_id(since)) and oid in repo.object_store else []
            found: dict[str, CommitInfo] = {}
            walk = (
                repo.get_walker(include=[head.id], exclude=excluded, max_entries=WALK_LIMIT) if wanted else ()
            )
            try:
                for entry in walk:
                    touched = wanted & self._changed_paths(repo, entry.commit)
                    if touched:
                        found.update(dict.fromkeys(touched, _commit_info(entry.commit)))
                        wanted -= touched
                        if not wanted:
                            break
            except _STORE_ERRORS:
                pass  # a shallow mirror ends its history early: what was found so far stands
            return Provenance(_commit_info(head), found)

    def _changed_paths(self, repo: Repo, commit: Commit) -> set[str]:
        """The file paths ``commit`` changed: against its parent, or against every parent of a merge."""
        changed: set[str] | None = None
        parents = [cast(Commit, repo.object_store[parent]).tree for parent in commit.parents] or [None]
        for parent_tree in parents:
            paths = {
                _path((change.new or change.old).path)  # type: ignore[union-attr]
                for change in tree_changes(repo.object_store, parent_tree, commit.tree)
            }
            changed = paths if changed is None else changed & paths
        return changed or set()

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

    def _client(self, username: str | None, password: str | None, token: str | None) -> tuple[GitClient, str]:
        """The transport for this URL: local in-process, HTTP via urllib3, or the system ssh."""
        transport = url_transport(self.url)
        location = self.url
        try:
            if transport == "http":
                return self._http_client(username, password, token)
            if transport == "ssh":
                return get_transport_and_path(location, ssh_command=ssh_command(self.options))
            if location.startswith("file://"):
                # dulwich takes the rest of a file URL verbatim; a browser-style %-escape must be decoded.
                location = unquote(urlsplit(location).path)
            # Local, always: dulwich would read ``/srv/a:b/repo`` as ssh to a host named "/srv/a".
            return LocalGitClient(), location
        except ValueError as exc:  # dulwich's way of refusing a URL it cannot parse
            raise GitError("NotFound", f"cannot fetch {redact_url(self.url)}: {_detail(exc)}") from None

    def _http_client(
        self, username: str | None, password: str | None, token: str | None
    ) -> tuple[GitClient, str]:
        """dulwich's urllib3 client with the source's timeout, proxy, CA bundle and credentials.

        The URL's own userinfo is taken apart here so dulwich never sees a secret inside a URL; a
        password without a user name (a bare token) goes out as user ``git`` unless the URL names one.
        """
        options = self.options
        if options.ca_bundle and not os.access(options.ca_bundle, os.R_OK):
            raise GitError(
                "Unreachable",
                f"cannot fetch {redact_url(self.url)}: cannot read ca_bundle {options.ca_bundle}",
            )
        config = ConfigDict()
        config.set((b"http",), b"timeout", str(options.timeout).encode("ascii"))
        if options.proxy:
            config.set((b"http",), b"proxy", options.proxy.encode("utf-8"))
        if options.ca_bundle:
            config.set((b"http",), b"sslCAInfo", options.ca_bundle.encode("utf-8"))
        parts = urlsplit(self.url)
        url_user = unquote(parts.username) if parts.username else None
        if token is not None:
            config.set((b"http",), b"extraHeader", f"Authorization: Bearer {token}".encode())
            username = password = None
        else:
            password = password if password is not None else _url_password(self.url)
            username = username or url_user or ("git" if password else None)
        base_url = redact_url(self.url)
        # urllib3 with the http.client, ssl and email modules under it is about 45 ms of start-up
        # that only http(s) sources need, so its module is imported here rather than at the top.
        from jobsync.adapters.git_http import try_once

        pool = default_urllib3_manager(config, base_url=base_url, timeout=options.timeout)
        pool = try_once(pool, same_origin_only=token is not None)
        return get_transport_and_path(
            base_url, config=config, username=username, password=password, pool_manager=pool
        )

    def _depth(self) -> int | None:
        """1 for a mirror that had to be made shallow (its remote is), else full history."""
        try:
            with _closing(Repo(str(self.path))) as repo:
                return 1 if repo.get_shallow() else None
        except Exception:  # no mirror yet, or a broken one: the fetch below deals with it
            return None

    def _fetch_into_mirror(
        self, client: GitClient, remote_path: str, target: _Target, depth: int | None = None
    ) -> Fetched:
        """One attempt: fetch into the mirror, check what came, point the local ref at it."""
        with self._open_or_create() as repo:
            store = repo.object_store
            pinned = _object_id(target.name) if target.kind == "commit" else None

            answered = False  # whether the remote's refs made sense: until then, nothing read the mirror

            def determine_wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
                nonlocal answered
                answered = True
                if target.kind == "commit":
                    # A bare sha cannot be asked for everywhere: bring every branch and tag, then look.
                    if pinned is None or pinned in store:
                        return []
                    tips = {
                        sha
                        for name, sha in refs.items()
                        if sha is not None and name.startswith((_HEADS, _TAGS)) and not name.endswith(_PEELED)
                    }
                    return sorted(sha for sha in tips if sha not in store)
                sha = refs.get(target.ref)
                return [] if sha is None or sha in store else [sha]

            try:
                result = client.fetch(remote_path, repo, determine_wants=determine_wants, depth=depth)
            except _STORE_ERRORS as exc:
                if isinstance(exc, NotGitRepository):
                    raise
                if not answered:  # a captive portal's page, a damaged remote repository: not the mirror
                    raise _RemoteBrokenError(str(exc)) from None
                if isinstance(exc, zlib.error) and _OVER_LOOSE_LIMIT in str(exc):
                    raise _LooseObjectTooLargeError(str(exc)) from None  # a fresh clone would fail alike
                raise _CorruptMirrorError(_detail(exc)) from None
            refs = {name: sha for name, sha in result.refs.items() if sha is not None}
            if target.kind == "commit":
                return self._pinned_commit(repo, target, pinned, refs)
            if target.kind == "tag":
                tip = refs.get(target.ref)
                if tip is None:
                    raise self._unknown_ref(target, refs)
                commit = self._verified_commit(repo, tip, target.label)
                repo.refs[target.ref] = tip
                return Fetched(commit=commit.decode("ascii"), branch=target.label)
            used = (
                target.name if target.kind == "branch" else self._remote_default_branch(refs, result.symrefs)
            )
            tip = refs.get(Ref(_HEADS + used.encode("utf-8")))
            if tip is None:
                raise self._unknown_ref(_Target("branch", used), refs)
            commit = self._verified_commit(repo, tip, f"branch {used!r}")
            repo.refs[Ref(_HEADS + used.encode("utf-8"))] = tip
            return Fetched(commit=commit.decode("ascii"), branch=used)

    def _pinned_commit(
        self, repo: Repo, target: _Target, pinned: ObjectID | None, refs: Mapping[Ref, ObjectID]
    ) -> Fetched:
        """The pinned commit, which the fetch must have brought (or an earlier one); else BadRef."""
        where = redact_url(self.url)
        if not any(name.startswith(_HEADS) for name in refs):
            raise GitError("BadRef", f"{where} has no commits")
        try:
            obj = repo.object_store[pinned] if pinned is not None and pinned in repo.object_store else None
        except _STORE_ERRORS as exc:
            raise _CorruptMirrorError(_detail(exc)) from None
        if not isinstance(obj, Commit):
            raise GitError(
                "BadRef", f"commit {target.name} not found in {where} (no branch or tag of it contains it)"
            )
        self._verified_commit(repo, obj.id, target.label)
        return Fetched(commit=obj.id.decode("ascii"), branch=target.label)

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

    def _unknown_ref(self, target: _Target, refs: Mapping[Ref, ObjectID]) -> GitError:
        """BadRef naming the branches (or tags) the remote does have, so the fix is obvious."""
        where = redact_url(self.url)
        if not any(name.startswith(_HEADS) for name in refs):
            return GitError("BadRef", f"{where} has no commits")
        prefix = _TAGS if target.kind == "tag" else _HEADS
        names = sorted(
            _path(name[len(prefix) :])
            for name in refs
            if name.startswith(prefix) and not name.endswith(_PEELED)
        )
        kinds = "tags" if target.kind == "tag" else "branches"
        listed = ", ".join(names[:_LISTED_REFS]) + (", …" if len(names) > _LISTED_REFS else "")
        what = "tag" if target.kind == "tag" else "branch"
        return GitError(
            "BadRef", f"{what} {target.name!r} not found in {where} ({kinds}: {listed or 'none'})"
        )

    def _verified_commit(self, repo: Repo, tip: ObjectID, what: str) -> ObjectID:
        """Peel ``tip`` to its commit and read the commit and root tree, proving the store can serve them."""
        try:
            obj = repo.object_store[tip]
            while isinstance(obj, Tag):
                obj = repo.object_store[obj.object[1]]
            if isinstance(obj, Commit) and isinstance(repo.object_store[obj.tree], Tree):
                return obj.id
        except _STORE_ERRORS as exc:
            raise _CorruptMirrorError(_detail(exc)) from None
        raise GitError("BadRef", f"{what} of {redact_url(self.url)} does not point to a commit")

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


#: The most commits one sync walks to find who last changed each job's file.
WALK_LIMIT = 1000


def _commit_info(commit: Commit) -> CommitInfo:
    """A commit's provenance; undecodable bytes and NULs in a name or message are replaced, never fatal."""

    def text(raw: bytes) -> str:
        return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")

    message = text(commit.message).strip()
    return CommitInfo(
        commit=commit.id.decode("ascii"),
        author=text(commit.author),
        committer=text(commit.committer),
        committed=datetime.fromtimestamp(commit.commit_time, UTC),
        subject=message.splitlines()[0].strip() if message else "",
    )
