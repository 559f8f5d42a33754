"""Errors jobsync raises on purpose; each message is one line a person can act on."""

from __future__ import annotations

from collections.abc import Sequence

from jobsync.domain.text import one_line


class JobSyncError(Exception):
    """Base of every error jobsync reports to a user as ``error: <message>``.

    The message stays one line whatever it quotes (a path, a key, a device's words): line breaks
    in it are escaped here, once, rather than trusted to every place that builds a message.
    """

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(one_line(message) if isinstance(message, str) else message, *args)


class JobNotFoundError(JobSyncError):
    """No job matches the reference a person gave."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"no job matches {ref!r}")
        self.ref = ref


class AmbiguousJobRefError(JobSyncError):
    """A reference (usually a name) matches more than one job."""

    def __init__(self, ref: str, matches: list[str]) -> None:
        super().__init__(f"{ref!r} matches several jobs: {', '.join(sorted(matches))}")
        self.ref = ref


class SourceNotFoundError(JobSyncError):
    """No configured or remembered source has this name."""

    def __init__(self, name: str, known: Sequence[str] | None = None) -> None:
        # Where a name is only looked up (a filter), the names there are help; resync may add one.
        hint = (
            "give a URL or path to sync a new one"
            if known is None
            else f"known: {', '.join(known) or 'none'}"
        )
        super().__init__(f"no source named {name!r} ({hint})")
        self.name = name


class FileNotInSourceError(JobSyncError):
    """A path a person asked about is not a file of the source (at the commit it was read at)."""

    def __init__(self, source: str, path: str, where: str = "") -> None:
        super().__init__(f"source {source} has no file {path!r}{where}")
        self.source = source
        self.path = path


class SourceConflictError(JobSyncError):
    """A source was refused: its name is taken by another URL, or is no name (or location) a source may have."""


class SourceSuspendedError(SourceConflictError):
    """The source is suspended: nothing syncs it until it is resumed (a resync may force one sync)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"source {name!r} is suspended; resume it with 'jobsync sources resume {name}' "
            f"(or sync it once anyway with 'jobsync resync {name} --force')"
        )
        self.name = name


class SourceRemovedError(SourceConflictError):
    """An operator removed the source: the daemon no longer syncs it (a resync of its URL adds it back)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"source {name!r} was removed; sync its URL again to add it back")
        self.name = name


class SourceStillHasJobsError(SourceConflictError):
    """Only a source without installed jobs may be removed."""

    def __init__(self, name: str, installed: int) -> None:
        super().__init__(
            f"source {name!r} still has {installed} installed job{'s' if installed != 1 else ''}; "
            "remove it with --uninstall-jobs to uninstall them first (jobs and history stay)"
        )
        self.name = name


class FieldError(JobSyncError):
    """An override was refused: unknown field, read-only field or a bad value."""


class JobStillInstalledError(JobSyncError):
    """Only an uninstalled job may be deleted."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"job {ref} is still installed; only uninstalled jobs can be deleted")
        self.ref = ref


class JobDeletedError(JobSyncError):
    """The job was deleted; its history stays readable but it takes no more changes."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"job {ref} was deleted")
        self.ref = ref


class SourceReadError(JobSyncError):
    """Reading a source failed (fetch, folder, app); ``reason`` classifies why (NotFound, Unreachable…)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class GitError(SourceReadError):
    """Fetching or reading a repository failed."""


class StoreError(JobSyncError):
    """The event store could not be opened or written."""


class ProjectionError(StoreError):
    """An event is saved but the read models cannot apply it; what they show stops before it."""


class ArgsNotStoredWarning(UserWarning):
    """Args were given for a job with sensitive variables: they were dropped, never stored (docs/design.md §3 rule 10)."""


class ReadModelBehindWarning(UserWarning):
    """What is shown may miss the newest events (the read models could not apply them)."""


class IncompleteCopyError(StoreError):
    """The store holds a copy ``store migrate`` has not finished: only resuming or dropping it is allowed."""


class ConfigError(JobSyncError):
    """The configuration file is missing, malformed or holds a bad value."""


class ConflictError(JobSyncError):
    """Another writer changed the same aggregate and retrying did not resolve it."""


class SourceBusyError(JobSyncError):
    """Another process is syncing the source now; ``waited`` is how long this one waited for it (seconds)."""

    def __init__(self, name: str, waited: float) -> None:
        message = f"another process is syncing source {name!r}"
        if waited > 0:
            message += f" (waited {waited:g} s); try again when it has finished"
        super().__init__(message)
        self.name = name
        self.waited = waited


class JobNotRunnableError(JobSyncError):
    """A result can be recorded only for an installed, enabled job."""


class ResultNotFoundError(JobSyncError):
    """No result matches the id (or id prefix) a person gave."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"no result matches {ref!r}")
        self.ref = ref


class MassUninstallError(JobSyncError):
    """A sync would uninstall more of a source's jobs than its limit allows; nothing of it was applied.

    A wrong branch, an emptied folder or an unmounted share must not wipe a catalog (docs/design.md §5 Safety).
    """

    def __init__(self, source: str, uninstalling: int, installed: int, why: str) -> None:
        super().__init__(
            f"sync of {source} would uninstall {uninstalling} of {installed} installed jobs, {why};"
            " nothing was applied (pass --allow-mass-uninstall, or set max_uninstall for the source)"
        )
        self.source = source
        self.uninstalling = uninstalling
        self.installed = installed
