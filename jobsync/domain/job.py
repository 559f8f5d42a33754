"""The Job aggregate: one job class of one source, with Nautobot's override rules."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from jobsync.domain.errors import FieldError, JobDeletedError, JobNotRunnableError, JobStillInstalledError
from jobsync.domain.fields import (
    OVERRIDABLE_DEFAULTS,
    OVERRIDABLE_FIELDS,
    FieldValue,
    check_field_name,
    check_operator_text,
    limits_conflict,
    validate_field_value,
)
from jobsync.domain.provenance import CommitInfo
from jobsync.domain.result import DEFAULT_QUEUE, PLAIN_RUN, JobResult, RunOptions

#: Fixed namespace so every daemon computes the same ids for the same jobs and sources.
NAMESPACE = UUID("6c3f0a52-8f5e-5d8b-9a55-3b1f7f0c2a11")


def job_id(source: str, module_name: str, job_class_name: str) -> UUID:
    """The job's deterministic id: the same on every host for the same ``source:module.Class``."""
    return uuid5(NAMESPACE, f"{source}:{module_name}.{job_class_name}")


def job_ref(source: str, module_name: str, job_class_name: str) -> str:
    """How a person names a job: ``SOURCE:MODULE.CLASS``."""
    return f"{source}:{module_name}.{job_class_name}"


class Job(Aggregate):
    """A job class found in a source, its operator overrides and its install state."""

    class Event(Aggregate.Event):
        """Every job event says who caused it."""

        actor: str

    class JobDiscovered(Event, Aggregate.Created):
        """Sync found this job for the first time.

        ``origin`` (version 2): the commit of the synced range that last changed the job's file, with
        its author, time and subject; None for folders and apps, and in events saved before it.
        """

        class_version = 2
        source: str
        module_name: str
        job_class_name: str
        facts: dict[str, Any]
        commit: str
        origin: CommitInfo | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["origin"] = None

    class JobChanged(Event):
        """The job's metadata in source changed (new facts replace the old ones); ``origin`` as above."""

        class_version = 2
        facts: dict[str, Any]
        commit: str
        origin: CommitInfo | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["origin"] = None

    class JobUninstalled(Event):
        """The job vanished from its source; it is kept, with its overrides and history.

        Version 2 added ``reason`` (why sync no longer finds it); version 1 events read as "".
        Version 3 added ``origin``, as above.
        """

        class_version = 3
        commit: str
        reason: str
        origin: CommitInfo | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["reason"] = ""

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["origin"] = None

    class JobReinstalled(Event):
        """A vanished job came back; its overrides apply again.

        ``fresh``: it had been deleted, so it comes back as Nautobot re-creates a job: no overrides,
        disabled. Version 2 added it; a version 1 event read back says None, and replays as it did
        then (fresh exactly when the job was deleted). Version 3 added ``origin``, as above.
        """

        class_version = 3
        facts: dict[str, Any]
        commit: str
        fresh: bool | None
        origin: CommitInfo | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["fresh"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["origin"] = None

    class FieldOverridden(Event):
        """An operator pinned ``field`` to ``value``; sync no longer changes the effective value."""

        field: str
        value: Any

    class OverrideCleared(Event):
        """An operator released ``field``; it shows the current source value again."""

        field: str

    class JobEnabled(Event):
        """An operator allowed the job to run."""

    class JobDisabled(Event):
        """An operator stopped the job from running."""

    class JobDeleted(Event):
        """An operator removed an uninstalled job; its history and results stay."""

    class JobSourceRenamed(Event):
        """Its source was renamed to ``source``: the job's ref follows, its id (and old ref) stay."""

        source: str

    @staticmethod
    def create_id(source: str, module_name: str, job_class_name: str) -> UUID:
        return job_id(source, module_name, job_class_name)

    @event(JobDiscovered)
    def __init__(
        self,
        source: str,
        module_name: str,
        job_class_name: str,
        facts: dict[str, Any],
        commit: str,
        actor: str,
        origin: CommitInfo | None = None,
    ) -> None:
        self.source = source
        self.module_name = module_name
        self.job_class_name = job_class_name
        self.source_values: dict[str, Any] = {}
        self.overrides: dict[str, Any] = {}
        self.installed = True
        self.uninstall_reason = ""
        self.enabled = False
        self.deleted = False
        self._take_facts(facts, commit)

    def _take_facts(self, facts: dict[str, Any], commit: str) -> None:
        self.source_values = {**OVERRIDABLE_DEFAULTS, **facts["values"]}
        self.read_only = bool(facts.get("read_only", False))
        self.is_job_hook_receiver = bool(facts.get("is_job_hook_receiver", False))
        self.is_job_button_receiver = bool(facts.get("is_job_button_receiver", False))
        self.file = str(facts.get("file", ""))
        self.line = int(facts.get("line", 0))
        self.commit = commit

    # -- what the job looks like -------------------------------------------------------------

    @property
    def ref(self) -> str:
        return job_ref(self.source, self.module_name, self.job_class_name)

    @property
    def key(self) -> str:
        """``module.Class``: the job's identity inside its source."""
        return f"{self.module_name}.{self.job_class_name}"

    def value(self, field: str) -> Any:
        """The effective value: the override when the flag is set, else the current source value."""
        if field in self.overrides:
            return self.overrides[field]
        return self.source_values[field]

    @property
    def name(self) -> str:
        return str(self.value("name"))

    def facts(self) -> dict[str, Any]:
        """The source facts as last synced, in the shape events carry them."""
        return {
            "values": dict(self.source_values),
            "read_only": self.read_only,
            "is_job_hook_receiver": self.is_job_hook_receiver,
            "is_job_button_receiver": self.is_job_button_receiver,
            "file": self.file,
            "line": self.line,
        }

    # -- sync --------------------------------------------------------------------------------

    def sync_facts(
        self, facts: dict[str, Any], commit: str, actor: str, origin: CommitInfo | None = None
    ) -> str | None:
        """Bring the job in line with its source; return what happened (``reinstalled``, ``changed``).

        A deleted job that reappears comes back as Nautobot would re-create it: no overrides, disabled.
        ``origin`` is the commit behind the change, when the source has commits.
        """
        if not self.installed or self.deleted:
            self._reinstall(facts=facts, commit=commit, fresh=self.deleted, origin=origin, actor=actor)
            return "reinstalled"
        if facts != self.facts():
            self._change(facts=facts, commit=commit, origin=origin, actor=actor)
            return "changed"
        return None

    def uninstall(self, commit: str, actor: str, reason: str = "", origin: CommitInfo | None = None) -> bool:
        """Mark the job as gone from its source (never deleted by sync); False if nothing to do."""
        if self.deleted or not self.installed:
            return False
        self._uninstall(commit=commit, reason=reason, origin=origin, actor=actor)
        return True

    @event(JobChanged)
    def _change(self, facts: dict[str, Any], commit: str, origin: CommitInfo | None, actor: str) -> None:
        self._take_facts(facts, commit)

    @event(JobUninstalled)
    def _uninstall(self, commit: str, reason: str, origin: CommitInfo | None, actor: str) -> None:
        self.installed = False
        self.uninstall_reason = reason

    @event(JobReinstalled)
    def _reinstall(
        self, facts: dict[str, Any], commit: str, fresh: bool | None, origin: CommitInfo | None, actor: str
    ) -> None:
        if fresh or (fresh is None and self.deleted):
            self.enabled = False
            self.overrides = {}
        self.deleted = False
        self.installed = True
        self.uninstall_reason = ""
        self._take_facts(facts, commit)

    # -- operator actions --------------------------------------------------------------------

    def override(self, field: str, value: object, actor: str) -> bool:
        """Pin ``field`` to a validated ``value``; False when it was already pinned to it."""
        self._check_not_deleted()
        checked = validate_field_value(field, value)
        check_operator_text(field, checked)
        if field in ("soft_time_limit", "time_limit"):
            soft = checked if field == "soft_time_limit" else self.value("soft_time_limit")
            hard = checked if field == "time_limit" else self.value("time_limit")
            if limits_conflict(soft, hard):
                raise FieldError(
                    f"soft_time_limit ({soft}) must be lower than time_limit ({hard}) when both are set"
                )
        if self.overrides.get(field, _MISSING) == checked:
            return False
        self._override(field=field, value=checked, actor=actor)
        return True

    def clear_override(self, field: str, actor: str) -> bool:
        """Release ``field`` so it follows the source again; False when it was not overridden."""
        self._check_not_deleted()
        check_field_name(field)
        if field not in self.overrides:
            return False
        self._clear(field=field, actor=actor)
        return True

    def enable(self, actor: str) -> bool:
        """Allow the job to run; an uninstalled job cannot be enabled."""
        self._check_not_deleted()
        if not self.installed:
            raise FieldError(f"job {self.ref} is not installed; it cannot be enabled")
        if self.enabled:
            return False
        self._enable(actor=actor)
        return True

    def disable(self, actor: str) -> bool:
        """Stop the job from running."""
        self._check_not_deleted()
        if not self.enabled:
            return False
        self._disable(actor=actor)
        return True

    def delete(self, actor: str) -> None:
        """Delete this job; only an uninstalled job may be deleted."""
        self._check_not_deleted()
        if self.installed:
            raise JobStillInstalledError(self.ref)
        self._delete(actor=actor)

    def record_run(self, args: Any, actor: str, options: RunOptions = PLAIN_RUN) -> JobResult:
        """Queue a run (docs/design.md §3 rule 8: only an installed, enabled job may run).

        A job with sensitive variables (the effective value: an override counts) never has its args
        stored (rule 10): the result says ``args_stored`` False. The run may be claimed from the
        options' ``queue``, which must be one of the job's task queues, else from any of them
        (``default`` for a job with none). The job's commit and file are kept: the code the run was meant to run.
        """
        if self.deleted or not self.installed:
            raise JobNotRunnableError(f"job {self.ref} is not installed; it cannot run")
        if not self.enabled:
            raise JobNotRunnableError(f"job {self.ref} is disabled; enable it first (jobsync jobs enable)")
        queues = self.queues
        if options.queue is not None:
            if options.queue not in queues:
                raise JobNotRunnableError(
                    f"job {self.ref} does not run on queue {options.queue!r}; its queues: {', '.join(queues)}"
                )
            queues = [options.queue]
        sensitive = bool(self.value("has_sensitive_variables"))
        return JobResult.record(
            job_id=self.id,
            job_ref=self.ref,
            job_name=self.name,
            task="job",
            args=None if sensitive else args,
            actor=actor,
            scheduled_job=options.scheduled_job,
            args_stored=not sensitive,
            commit=self.commit,
            file=self.file,
            queues=queues,
            ignore_singleton=options.ignore_singleton,
            result_id=options.result_id,
        )

    @property
    def queues(self) -> list[str]:
        """The queues a worker may claim this job's runs from: its task queues, else ``default``."""
        return [str(queue) for queue in self.value("task_queues")] or [DEFAULT_QUEUE]

    def _check_not_deleted(self) -> None:
        if self.deleted:
            raise JobDeletedError(self.ref)

    @event(FieldOverridden)
    def _override(self, field: str, value: FieldValue, actor: str) -> None:
        self.overrides[field] = value

    @event(OverrideCleared)
    def _clear(self, field: str, actor: str) -> None:
        self.overrides.pop(field, None)

    @event(JobEnabled)
    def _enable(self, actor: str) -> None:
        self.enabled = True

    @event(JobDisabled)
    def _disable(self, actor: str) -> None:
        self.enabled = False

    @event(JobDeleted)
    def _delete(self, actor: str) -> None:
        self.deleted = True

    def follow_source_rename(self, new_source: str, actor: str) -> bool:
        """Carry the new name of this job's source (deleted jobs too: their history keeps its ref)."""
        if new_source == self.source:
            return False
        self._follow_source(source=new_source, actor=actor)
        return True

    @event(JobSourceRenamed)
    def _follow_source(self, source: str, actor: str) -> None:
        self.source = source

    # -- views -------------------------------------------------------------------------------

    def as_record(self) -> dict[str, Any]:
        """The job as docs/design.md §6 shows it: each field, its override flag, its source values, the facts."""
        record: dict[str, Any] = {
            "id": str(self.id),
            "ref": self.ref,
            "source": self.source,
            "module_name": self.module_name,
            "job_class_name": self.job_class_name,
            "installed": self.installed,
            "enabled": self.enabled,
            "read_only": self.read_only,
            "is_job_hook_receiver": self.is_job_hook_receiver,
            "is_job_button_receiver": self.is_job_button_receiver,
        }
        for field in OVERRIDABLE_FIELDS:
            record[field] = self.value(field)
            record[f"{field}_override"] = field in self.overrides
        record.update(
            # What sync would set: an operator sees what an override hides (docs/design.md §3 rule 3).
            source_values={field: self.source_values[field] for field in OVERRIDABLE_FIELDS},
            commit=self.commit,
            file=self.file,
            line=self.line,
            created=self.created_on.isoformat(),
            last_updated=self.modified_on.isoformat(),
        )
        return record


_MISSING = object()
