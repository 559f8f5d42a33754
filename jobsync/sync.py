"""Readers of sources (a git mirror, a folder, an installed app) and the credentials a fetch sends."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobsync.domain.discovery import is_candidate
from jobsync.domain.errors import SourceReadError
from jobsync.domain.provenance import Provenance
from jobsync.domain.source import source_id
from jobsync.ports import Change, FileEntry, Snapshot, SourceReader
from jobsync.spec import SourceSpec

if TYPE_CHECKING:
    from jobsync.adapters.git import Mirror


@dataclass(frozen=True)
class Credentials:
    """The secret of one fetch: HTTP basic auth (``username``/``password``) or a bearer ``token``."""

    username: str | None = None
    password: str | None = None
    token: str | None = None

    def __repr__(self) -> str:  # a stray log of this object must not print the secret
        return f"Credentials(username={self.username!r}, password=***, token=***)"


@dataclass
class _GitSnapshot:
    """A fetched commit of a bare mirror."""

    mirror: Mirror
    commit: str
    branch: str

    def files(self) -> list[FileEntry]:
        return self.mirror.files(self.commit)

    def changes_since(self, old_commit: str, known: Mapping[str, str]) -> list[Change] | None:
        if not self.mirror.has_commit(old_commit):
            return None
        return self.mirror.changes(old_commit, self.commit)

    def read_many(self, shas: Sequence[str]) -> list[bytes]:
        return self.mirror.read_many(shas)

    def links(self) -> list[str]:
        return self.mirror.links(self.commit)

    def provenance(self, since: str | None, paths: Collection[str]) -> Provenance:
        return self.mirror.provenance(self.commit, since, paths)


@dataclass
class _GitReader:
    mirror: Mirror
    spec: SourceSpec

    def snapshot(self, branch: str | None = None) -> Snapshot:
        """Fetch what the spec follows; an explicit ``branch`` (``resync --branch``) wins over its tag or commit."""
        credentials = read_credentials(self.spec)  # re-read each time: rotated tokens just work
        pinned = branch is None
        fetched = self.mirror.fetch(
            branch,
            tag=self.spec.tag if pinned else None,
            commit=self.spec.commit if pinned else None,
            username=credentials.username,
            password=credentials.password,
            token=credentials.token,
        )
        return _GitSnapshot(self.mirror, fetched.commit, fetched.branch)


def read_credentials(spec: SourceSpec) -> Credentials:
    """The secret from ``credentials_env`` / ``credentials_file``, read now; never from config text.

    With ``auth = "basic"`` the text is ``user:secret`` or a bare token (sent as the password);
    with ``bearer`` it is the token. A relative ``credentials_file`` is a name under systemd's
    ``$CREDENTIALS_DIRECTORY``. Messages name the variable or file, never its content.
    """
    if spec.credentials_env:
        origin = f"environment variable {spec.credentials_env}"
        text = os.environ.get(spec.credentials_env)
        if not text:
            raise SourceReadError("AuthenticationFailed", f"credentials of {spec.name}: {origin} is not set")
    elif spec.credentials_file:
        path = Path(spec.credentials_file)
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not path.is_absolute() and directory:
            path = Path(directory) / path
        origin = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            hint = "" if path.is_absolute() else " ($CREDENTIALS_DIRECTORY is not set)"
            raise SourceReadError(
                "AuthenticationFailed", f"credentials of {spec.name}: cannot read {origin}: {why}{hint}"
            ) from None
    else:
        return Credentials()
    text = text.strip()
    if not text or any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        # A newline would end the HTTP header early; say so without quoting the secret.
        what = "is empty" if not text else "holds more than one line or a control character"
        raise SourceReadError("AuthenticationFailed", f"credentials of {spec.name}: {origin} {what}")
    if spec.auth == "bearer":
        return Credentials(token=text)
    if ":" in text:
        user, _, secret = text.partition(":")
        return Credentials(username=user or None, password=secret)
    return Credentials(password=text)


def open_reader(spec: SourceSpec, state_dir: Path, also: str | None = None) -> SourceReader:
    """The reader for a source: a bare mirror under the state dir, a watched folder, or an app's files.

    ``also``: a folder's (an app's) reader lists this path too, even where the source's rules skip it.
    """

    def wanted(path: str) -> bool:
        return path == also or is_candidate(path, spec.include, spec.exclude)

    if spec.kind in ("local", "app"):
        from jobsync.adapters.folder import AppFolder, Folder  # imported only to read folder and app sources

        return Folder(Path(spec.url), wanted) if spec.kind == "local" else AppFolder(spec.url, wanted)
    return _GitReader(_mirror(spec, state_dir), spec)


def synced_snapshot(
    spec: SourceSpec, state_dir: Path, commit: str | None, also: str | None = None
) -> Snapshot:
    """The source as its last sync read it, fetching nothing: a git mirror at ``commit``, else a folder's files now.

    ``also`` as for ``open_reader``. A git source that was never synced, or whose mirror lost the
    commit, has no such snapshot: a SourceReadError says to resync it.
    """
    if spec.kind in ("local", "app"):
        return open_reader(spec, state_dir, also).snapshot()
    mirror = _mirror(spec, state_dir)
    if commit is None:
        raise SourceReadError(
            "NotFound", f"source {spec.name} has not been synced yet; run: jobsync resync {spec.name}"
        )
    if not mirror.has_commit(commit):
        raise SourceReadError(
            "NotFound",
            f"the mirror of {spec.name} does not hold its last synced commit {commit[:12]}; "
            f"run: jobsync resync {spec.name}",
        )
    return _GitSnapshot(mirror, commit, spec.branch or "")


def _mirror(spec: SourceSpec, state_dir: Path) -> Mirror:
    from jobsync.adapters.git import Mirror, RemoteOptions  # dulwich: imported only to read git sources

    options = RemoteOptions(
        timeout=spec.timeout,
        proxy=spec.proxy,
        ca_bundle=spec.ca_bundle,
        ssh_key_file=spec.ssh_key_file,
        known_hosts_file=spec.known_hosts_file,
    )
    return Mirror(state_dir / "mirrors" / f"{source_id(spec.name)}.git", spec.url, options)
