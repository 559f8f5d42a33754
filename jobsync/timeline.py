"""One job's events folded in order, each described by the fields it changed: what history, audit
and a dry run's plan all show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from jobsync.domain.fields import OVERRIDABLE_FIELDS
from jobsync.domain.job import Job
from jobsync.domain.provenance import CommitInfo
from jobsync.records import HistoryEntry

#: Record keys that change with every event and say nothing about what changed, and the source
#: values, which a change reports field by field (``description (in source)`` under an override).
_UNTRACKED = frozenset({"last_updated", "created", "source_values"})


def _tracked(job: Job) -> dict[str, Any]:
    record = {k: v for k, v in job.as_record().items() if k not in _UNTRACKED}
    record["deleted"] = job.deleted
    record["uninstall_reason"] = job.uninstall_reason
    return record


def state_changes(before: Job, after: Job) -> dict[str, list[Any]]:
    """The fields that differ between two states of a job (old -> new), as its history names them.

    Where a field is overridden at either end, a source value that moved shows as
    ``<field> (in source)``, since the effective value alone would hide it.
    """
    old, new = _tracked(before), _tracked(after)
    changes = {key: [old.get(key), value] for key, value in new.items() if old.get(key) != value}
    pinned = before.overrides.keys() | after.overrides.keys()
    changes.update(
        {
            f"{name} (in source)": [before.source_values[name], after.source_values[name]]
            for name in OVERRIDABLE_FIELDS
            if name in pinned and before.source_values[name] != after.source_values[name]
        }
    )
    return changes


@dataclass
class JobTimeline:
    """Folds one job's events in order and says, for each, which fields it changed (old -> new)."""

    job: Job | None = None
    _before: dict[str, Any] = field(default_factory=dict)
    _source: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def starting_from(cls, job: Job | None) -> JobTimeline:
        """A timeline that continues from ``job`` as it was before the next event."""
        if job is None:
            return cls()
        return cls(job, _tracked(job), dict(job.source_values))

    def apply(self, event: Job.Event) -> HistoryEntry:
        """Apply ``event`` and describe it as a history entry."""
        job = cast("Job", event.mutate(self.job))
        after = _tracked(job)
        if self._before:
            changes = {k: [self._before.get(k), v] for k, v in after.items() if self._before.get(k) != v}
        else:
            changes = {"name": [None, after["name"]], "commit": [None, after["commit"]]}
        if isinstance(event, Job.JobChanged | Job.JobReinstalled):
            # An overridden field's effective value did not move: say what moved underneath.
            changes.update(
                {
                    f"{name} (in source)": [self._source.get(name), job.source_values[name]]
                    for name in job.overrides
                    if self._source.get(name) != job.source_values[name]
                }
            )
        self.job, self._before, self._source = job, after, dict(job.source_values)
        entry = HistoryEntry(
            time=event.timestamp,
            actor=event.actor,
            event=type(event).__name__,
            ref=job.ref,
            version=event.originator_version,
            changes=changes,
        )
        if isinstance(event, SYNC_CAUSED):
            add_provenance(entry, event.commit, event.origin)
        return entry


#: The job events a sync makes: each has the synced ``commit`` and the ``origin`` behind the change.
SYNC_CAUSED = (Job.JobDiscovered, Job.JobChanged, Job.JobUninstalled, Job.JobReinstalled)


def add_provenance(entry: HistoryEntry, commit: str, origin: CommitInfo | None) -> None:
    """Say which commit an entry came from, and who made it when the source has commits."""
    entry["commit"] = origin.commit if origin is not None else commit
    entry["author"] = origin.author if origin is not None else None
    entry["committed"] = origin.committed if origin is not None else None
    entry["subject"] = origin.subject if origin is not None else None
