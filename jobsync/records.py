"""Typed records the library returns, and the one conversion between them and their JSON form."""

# No ``from __future__ import annotations`` here: TypedDict reads NotRequired[...] from evaluated
# annotations only (Python 3.11), and callers may look at ``__required_keys__``.
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NotRequired, TypeAlias, TypedDict, cast
from uuid import UUID

from jobsync.domain.discovery import ClassExplanation
from jobsync.domain.fields import OVERRIDABLE_FIELDS
from jobsync.times import Zone, time_json

#: A JSON object as ``json.dumps`` takes it: what the CLI prints and the read models store.
JsonObject: TypeAlias = dict[str, Any]


class JobSourceValues(TypedDict):
    """What the job's source says for each overridable field, overridden or not (docs/design.md §3 rule 3)."""

    grouping: str
    name: str
    description: str
    approval_required: bool
    dryrun_default: bool
    hidden: bool
    has_sensitive_variables: bool
    soft_time_limit: int | float
    time_limit: int | float
    task_queues: list[str]
    is_singleton: bool


class JobRecord(TypedDict):
    """A job as docs/design.md §6 shows it: each overridable field with its ``<field>_override`` flag."""

    id: UUID
    ref: str
    source: str
    module_name: str
    job_class_name: str
    installed: bool
    enabled: bool
    read_only: bool
    is_job_hook_receiver: bool
    is_job_button_receiver: bool
    grouping: str
    grouping_override: bool
    name: str
    name_override: bool
    description: str
    description_override: bool
    approval_required: bool
    approval_required_override: bool
    dryrun_default: bool
    dryrun_default_override: bool
    hidden: bool
    hidden_override: bool
    has_sensitive_variables: bool
    has_sensitive_variables_override: bool
    soft_time_limit: int | float
    soft_time_limit_override: bool
    time_limit: int | float
    time_limit_override: bool
    task_queues: list[str]
    task_queues_override: bool
    is_singleton: bool
    is_singleton_override: bool
    #: The source's value of every field above; where ``<field>_override`` is set, it differs or may.
    source_values: JobSourceValues
    commit: str
    file: str
    line: int
    created: datetime
    last_updated: datetime
    #: Only ``Catalog.job`` says it: a deleted job can still be read there, never in ``jobs()``.
    deleted: NotRequired[bool]


class SourceRecord(TypedDict):
    """A source with its last synced commit, the counts of that sync and its failure, if failing."""

    id: UUID
    name: str
    kind: str
    url: str
    branch: str | None
    last_commit: str | None
    last_branch: str | None
    last_synced: datetime | None
    #: Who saved the last sync: ``daemon@HOST`` for a daemon, so several daemons show which one.
    last_synced_by: str | None
    #: The host the last sync ran on and the Python that parsed it (null for syncs saved before they were kept).
    last_synced_host: str | None
    last_synced_python: str | None
    last_counts: dict[str, int]
    status: str
    last_error: str | None
    last_reason: str | None
    created: datetime


def synced_by(record: SourceRecord) -> str:
    """Who synced last, and where when the actor names no host (a person's resync: ``alice on vm1``)."""
    actor, host = record["last_synced_by"] or "", record["last_synced_host"]
    return f"{actor} on {host}" if actor and host and "@" not in actor else actor


class ResultRecord(TypedDict):
    """A run of a job (or of a sync); ``job`` is the job's ref, None once the job was deleted."""

    id: UUID
    job: str | None
    job_ref: str
    job_name: str
    task: str
    status: str
    args: Any
    actor: str
    scheduled_job: str | None
    created: datetime
    started: datetime | None
    completed: datetime | None
    data: Any
    #: False for a job with sensitive variables: ``args`` is None, the caller's args never stored.
    args_stored: bool
    #: The worker that claimed the run, if one did.
    worker: str | None
    #: The job's commit and file when the run was recorded (None for syncs and older results).
    commit: str | None
    file: str | None
    #: The queues a worker may claim it from; ``ignore_singleton`` lets it run beside another run.
    queues: list[str]
    ignore_singleton: bool


class ScheduleRecord(TypedDict):
    """A schedule as docs/design.md §6 shows it; ``job`` is its job's ref, None once the job was deleted.

    ``blocked`` says why it will not fire (None: it fires when due); only ``Catalog.schedule`` and
    ``schedules`` fill it, as it depends on the job's state now.
    """

    id: UUID
    name: str
    job: str | None
    job_name: str
    args: Any
    queue: str
    interval: str
    crontab: str | None
    start_time: datetime
    time_zone: str
    enabled: bool
    approved_by: str | None
    next_run: datetime | None
    last_run: datetime | None
    total_run_count: int
    actor: str
    created: datetime
    blocked: NotRequired[str | None]


class LogRecord(TypedDict):
    """One log entry of a result; ``seq`` is its position, to ask for the entries after it."""

    time: datetime
    level: str
    message: str
    grouping: str
    object: str
    url: str
    seq: int


class HistoryEntry(TypedDict):
    """One event of a job or source: who did it and which fields it changed (``{field: [old, new]}``).

    An event a sync caused also says which commit it came from (the newest commit of the synced
    range that changed the job's file, or the synced commit), and that commit's ``author``,
    ``committed`` time and ``subject``; those three are None for folders, apps and older events.
    """

    time: datetime
    actor: str
    event: str
    ref: str
    version: int
    changes: dict[str, list[Any]]
    commit: NotRequired[str]
    author: NotRequired[str | None]
    committed: NotRequired[datetime | None]
    subject: NotRequired[str | None]


class DiffEnd(TypedDict):
    """One end of a job diff: the moment it stands for, the job's version there and that version's commit."""

    time: datetime
    version: int
    commit: str


#: ``jobs diff``: the fields that differ between two points of a job (``{field: [old, new]}``, with
#: ``<field> (in source)`` for a source value that moved under an override) and the events between
#: them, as ``jobs history`` gives them. The functional form: ``from`` is a keyword.
JobDiff = TypedDict(
    "JobDiff",
    {
        "ref": str,
        "from": DiffEnd,
        "to": DiffEnd,
        "changes": dict[str, list[Any]],
        "events": list[HistoryEntry],
    },
)


class FieldOriginRecord(TypedDict):
    """A job's value of one field as ``explain`` shows it: where it came from (Meta, class attribute,
    inherited from class X, module-level name, default), and the file and line (None for a default)."""

    value: Any
    origin: str
    file: str | None
    line: int | None


class ProblemRecord(TypedDict):
    """A problem as ``resync --json`` shows it."""

    file: str
    line: int
    kind: str
    reason: str


#: One class of a file as ``explain`` shows it: is it a job, why or why not, and a job's ``metadata``
#: (``{field: {value, origin, file, line}}``). ``class`` is None for the one entry about a whole file
#: (skipped, or does not parse); ``problems`` are what discovery reported about the class. The
#: functional form: ``class`` is a keyword.
ClassExplanationRecord = TypedDict(
    "ClassExplanationRecord",
    {
        "class": str | None,
        "line": int,
        "job": bool,
        "reason": str,
        "metadata": dict[str, FieldOriginRecord],
        "problems": list[ProblemRecord],
    },
)


def explanation_record(explanation: ClassExplanation) -> ClassExplanationRecord:
    """The record of one class's explanation (plain JSON values: task queues as a list)."""
    return {
        "class": explanation.class_name,
        "line": explanation.line,
        "job": explanation.job,
        "reason": explanation.reason,
        "metadata": {
            key: {
                "value": list(found.value) if isinstance(found.value, tuple | list) else found.value,
                "origin": found.origin,
                "file": found.file,
                "line": found.line,
            }
            for key, found in explanation.metadata.items()
        },
        "problems": [
            {"file": p.file, "line": p.line, "kind": p.kind, "reason": p.reason} for p in explanation.problems
        ],
    }


Record: TypeAlias = (
    JobRecord | SourceRecord | ResultRecord | LogRecord | HistoryEntry | JobDiff | ScheduleRecord
)


def job_from_json(stored: Mapping[str, Any]) -> JobRecord:
    """A job record from its JSON form (the read model's text, or ``Job.as_record()``)."""
    return cast("JobRecord", _decoded(stored, ("created", "last_updated")))


def source_from_json(stored: Mapping[str, Any]) -> SourceRecord:
    return cast("SourceRecord", _decoded(stored, ("last_synced", "created")))


def result_from_json(stored: Mapping[str, Any]) -> ResultRecord:
    return cast("ResultRecord", _decoded(stored, ("created", "started", "completed")))


def schedule_from_json(stored: Mapping[str, Any]) -> ScheduleRecord:
    return cast("ScheduleRecord", _decoded(stored, ("start_time", "next_run", "last_run", "created")))


def log_from_json(stored: Mapping[str, Any]) -> LogRecord:
    return cast("LogRecord", _decoded(stored, ("time",), ids=()))


def overridden_fields(record: JobRecord) -> list[str]:
    """The fields an operator pinned, in the order docs/design.md §6 lists them."""
    flags: Mapping[str, object] = record  # ``<field>_override`` keys are built, not literal
    return [name for name in OVERRIDABLE_FIELDS if flags[f"{name}_override"]]


def to_json(record: Record, zone: Zone | None = None) -> JsonObject:
    """The record as JSON: times in ISO-8601 and ids as text, everything else as it is.

    Times stay in UTC, as stored, unless ``zone`` says where to show them (the CLI passes its
    ``--utc`` choice, local by default).
    """
    return {key: _json_value(value, zone) for key, value in record.items()}


def _decoded(stored: Mapping[str, Any], times: tuple[str, ...], ids: tuple[str, ...] = ("id",)) -> JsonObject:
    """A copy with ids and times parsed; keys keep their order, so ``to_json`` gives the same text back."""
    record = dict(stored)
    for key in ids:
        record[key] = UUID(record[key])
    for key in times:
        if record[key] is not None:
            record[key] = datetime.fromisoformat(record[key])
    return record


def _json_value(value: object, zone: Zone | None) -> object:
    if isinstance(value, dict):  # a diff's ends and events hold times too
        return {key: _json_value(inner, zone) for key, inner in value.items()}
    if isinstance(value, list):
        return [_json_value(inner, zone) for inner in value]
    if isinstance(value, datetime):
        return value.isoformat() if zone is None else time_json(value, zone)
    if isinstance(value, UUID):
        return str(value)
    return value


__all__ = [
    "ClassExplanationRecord",
    "DiffEnd",
    "FieldOriginRecord",
    "HistoryEntry",
    "JobDiff",
    "JobRecord",
    "JobSourceValues",
    "LogRecord",
    "ProblemRecord",
    "Record",
    "ResultRecord",
    "ScheduleRecord",
    "SourceRecord",
    "explanation_record",
    "job_from_json",
    "log_from_json",
    "overridden_fields",
    "result_from_json",
    "schedule_from_json",
    "source_from_json",
    "to_json",
]
