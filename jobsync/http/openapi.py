"""The OpenAPI 3.1 document of ``/api/``, written as data: no framework generates it, none is needed.

tests/http/test_api.py keeps it honest: its paths are the app's /api routes, each path's query
parameters are the ones the endpoint accepts, and each object's keys are the keys the API answers.
"""

from __future__ import annotations

from typing import Any

from jobsync.domain.result import LOG_LEVELS, STATUSES
from jobsync.projections import JOB_SORTS

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
TEXT_OR_NULL: Schema = {"type": ["string", "null"]}
BOOLEAN: Schema = {"type": "boolean"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
ANY: Schema = {}
#: Times are ISO-8601 in UTC (``jobsync --utc``).
TIME: Schema = {"type": "string", "format": "date-time"}
TIME_OR_NULL: Schema = {"type": ["string", "null"], "format": "date-time"}
UUID: Schema = {"type": "string", "format": "uuid"}
STRINGS: Schema = {"type": "array", "items": STRING}
#: ``{field: [old, new]}``.
CHANGES: Schema = {"type": "object", "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2}}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(description: str, properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """An object schema whose every key but ``optional`` is always present."""
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": [key for key in properties if key not in optional],
    }


#: A job's overridable fields and their types: each appears with ``<field>_override`` beside it.
_OVERRIDABLE: dict[str, Schema] = {
    "grouping": STRING,
    "name": STRING,
    "description": STRING,
    "approval_required": BOOLEAN,
    "dryrun_default": BOOLEAN,
    "hidden": BOOLEAN,
    "has_sensitive_variables": BOOLEAN,
    "soft_time_limit": NUMBER,
    "time_limit": NUMBER,
    "task_queues": STRINGS,
    "is_singleton": BOOLEAN,
}

SCHEMAS: dict[str, Schema] = {
    "Error": _object("Why a request was refused, in one line.", {"error": STRING}),
    "Job": _object(
        "A job (jobs list, jobs show); ``deleted`` only in /api/jobs/{ref}.",
        {
            "id": UUID,
            "ref": {"type": "string", "description": "SOURCE:MODULE.CLASS"},
            "source": STRING,
            "module_name": STRING,
            "job_class_name": STRING,
            "installed": BOOLEAN,
            "enabled": BOOLEAN,
            "read_only": BOOLEAN,
            "is_job_hook_receiver": BOOLEAN,
            "is_job_button_receiver": BOOLEAN,
            **{
                key: value
                for field, schema in _OVERRIDABLE.items()
                for key, value in ((field, schema), (f"{field}_override", BOOLEAN))
            },
            "source_values": ref("SourceValues"),
            "commit": STRING,
            "file": STRING,
            "line": INTEGER,
            "created": TIME,
            "last_updated": TIME,
            "deleted": BOOLEAN,
        },
        optional=("deleted",),
    ),
    "SourceValues": _object("What the job's source says for each overridable field.", dict(_OVERRIDABLE)),
    "HistoryEntry": _object(
        "One event of a job or source; the commit keys only for events a sync caused.",
        {
            "time": TIME,
            "actor": STRING,
            "event": STRING,
            "ref": STRING,
            "version": INTEGER,
            "changes": CHANGES,
            "commit": STRING,
            "author": TEXT_OR_NULL,
            "committed": TIME_OR_NULL,
            "subject": TEXT_OR_NULL,
        },
        optional=("commit", "author", "committed", "subject"),
    ),
    "DiffEnd": _object("One end of a diff.", {"time": TIME, "version": INTEGER, "commit": STRING}),
    "Diff": _object(
        "How a job differs between two points, and the events between them.",
        {
            "ref": STRING,
            "from": ref("DiffEnd"),
            "to": ref("DiffEnd"),
            "changes": CHANGES,
            "events": {"type": "array", "items": ref("HistoryEntry")},
        },
    ),
    "FieldOrigin": _object(
        "A job's value of one field and where it came from.",
        {
            "value": ANY,
            "origin": STRING,
            "file": TEXT_OR_NULL,
            "line": {"type": ["integer", "null"]},
        },
    ),
    "Problem": _object(
        "A problem discovery reported.", {"file": STRING, "line": INTEGER, "kind": STRING, "reason": STRING}
    ),
    "ClassExplanation": _object(
        "Why one class of a file is or is not a job (``class`` null: about the whole file).",
        {
            "class": TEXT_OR_NULL,
            "line": INTEGER,
            "job": BOOLEAN,
            "reason": STRING,
            "metadata": {"type": "object", "additionalProperties": ref("FieldOrigin")},
            "problems": {"type": "array", "items": ref("Problem")},
        },
    ),
    "Source": _object(
        "A source with its last sync.",
        {
            "id": UUID,
            "name": STRING,
            "kind": STRING,
            "url": STRING,
            "branch": TEXT_OR_NULL,
            "last_commit": TEXT_OR_NULL,
            "last_branch": TEXT_OR_NULL,
            "last_synced": TIME_OR_NULL,
            "last_synced_by": TEXT_OR_NULL,
            "last_synced_host": TEXT_OR_NULL,
            "last_synced_python": TEXT_OR_NULL,
            "last_counts": {"type": "object", "additionalProperties": INTEGER},
            "status": {"type": "string", "description": "ok, failing or suspended"},
            "last_error": TEXT_OR_NULL,
            "last_reason": TEXT_OR_NULL,
            "created": TIME,
        },
    ),
    "Result": _object(
        "A run of a job or of a sync; ``job`` is null once the job was deleted.",
        {
            "id": UUID,
            "job": TEXT_OR_NULL,
            "job_ref": STRING,
            "job_name": STRING,
            "task": {"type": "string", "enum": ["job", "sync"]},
            "status": {"type": "string", "enum": list(STATUSES)},
            "args": ANY,
            "actor": STRING,
            "scheduled_job": TEXT_OR_NULL,
            "created": TIME,
            "started": TIME_OR_NULL,
            "completed": TIME_OR_NULL,
            "data": ANY,
            "args_stored": BOOLEAN,
            "worker": TEXT_OR_NULL,
            "commit": TEXT_OR_NULL,
            "file": TEXT_OR_NULL,
            "queues": STRINGS,
            "ignore_singleton": BOOLEAN,
        },
    ),
    "LogEntry": _object(
        "One log entry of a result.",
        {
            "time": TIME,
            "level": {"type": "string", "enum": list(LOG_LEVELS)},
            "message": STRING,
            "grouping": STRING,
            "object": STRING,
            "url": STRING,
        },
    ),
    "Schedule": _object(
        "A schedule; ``blocked`` says why it will not fire (null: it fires when due).",
        {
            "id": UUID,
            "name": STRING,
            "job": TEXT_OR_NULL,
            "job_name": STRING,
            "args": ANY,
            "queue": STRING,
            "interval": STRING,
            "crontab": TEXT_OR_NULL,
            "start_time": TIME,
            "time_zone": STRING,
            "enabled": BOOLEAN,
            "approved_by": TEXT_OR_NULL,
            "next_run": TIME_OR_NULL,
            "last_run": TIME_OR_NULL,
            "total_run_count": INTEGER,
            "actor": STRING,
            "created": TIME,
            "blocked": TEXT_OR_NULL,
        },
    ),
}


def _query(name: str, description: str, schema: Schema = STRING, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "description": description, "required": required, "schema": schema}


def _path(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "description": description, "required": True, "schema": STRING}


PAGING: list[Schema] = [
    _query("limit", "Items per page (default 500).", {"type": "integer", "minimum": 1, "maximum": 10000}),
    _query("cursor", "Where the page starts: take it from the previous page's Link header."),
]
JOB_REF = _path("ref", "The job: SOURCE:MODULE.CLASS, its id, or its unique name (percent-encoded).")
SINCE = _query("since", "From this time (ISO-8601, a date (its start), '3 days ago').")
UNTIL = _query("until", "Up to this time (a date: its end).")
AT_POINT = "a time (ISO-8601, a date, '3 days ago'), a commit (7+ hex digits) or vN"


def _list(schema: str) -> Schema:
    return {"type": "array", "items": ref(schema)}


def _get(
    summary: str, body: Schema, parameters: list[Schema], paged: bool = False, missing: bool = True
) -> Schema:
    """A GET operation answering ``body`` as JSON (200), 400 for a bad parameter, 404 when ``missing``."""
    headers = {"Link": {"description": 'rel="next": the next page, when there is one', "schema": STRING}}
    ok: Schema = {"description": "OK", "content": {"application/json": {"schema": body}}}
    if paged:
        ok["headers"] = headers
    responses: dict[str, Schema] = {
        "200": ok,
        "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"},
    }
    if missing:
        responses["404"] = {"$ref": "#/components/responses/NotFound"}
    return {"get": {"summary": summary, "parameters": parameters, "responses": responses}}


def _error(description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


#: The Server-Sent Events a log follower receives.
LOG_EVENTS = (
    "With follow=1, a text/event-stream: each entry as `event: entry` with `id: <position>` and the "
    "entry's JSON as data (a reconnecting client sends Last-Event-ID to resume), then `event: end` "
    'with data {"status": ...} once the run has finished and every entry is out.'
)

PATHS: dict[str, Schema] = {
    "/api/jobs": _get(
        "Jobs, as `jobs list`.",
        _list("Job"),
        [
            _query("source", "Only jobs of this source (an unknown source is 404)."),
            _query("grouping", "Only jobs of this grouping."),
            _query(
                "state",
                "Installed jobs (default), uninstalled ones, or all.",
                {"type": "string", "enum": ["installed", "uninstalled", "all"], "default": "installed"},
            ),
            _query("enabled", "Only enabled (true) or disabled (false) jobs.", BOOLEAN),
            _query("overridden", "true: only jobs with at least one override.", BOOLEAN),
            _query("search", "Name or description contains this (any case)."),
            _query("sort", "Order.", {"type": "string", "enum": list(JOB_SORTS), "default": "source"}),
            *PAGING,
        ],
        paged=True,
    ),
    "/api/jobs/{ref}": _get(
        "One job, as `jobs show`.",
        ref("Job"),
        [JOB_REF, _query("at", f"The job as it was then: {AT_POINT}.")],
    ),
    "/api/jobs/{ref}/history": _get(
        "Every event of a job, as `jobs history`.", _list("HistoryEntry"), [JOB_REF, SINCE, UNTIL]
    ),
    "/api/jobs/{ref}/diff": _get(
        "How a job differs between two points, as `jobs diff`.",
        ref("Diff"),
        [
            JOB_REF,
            _query("from", f"The earlier point: {AT_POINT} (a date: its start).", required=True),
            _query("to", f"The later point (default: now): {AT_POINT}."),
        ],
    ),
    "/api/explain/{source}/{path}": _get(
        "Why each class of a file is or is not a job, as `explain`.",
        _list("ClassExplanation"),
        [
            _path("source", "The source's name."),
            _path("path", "The file's path in the source (slashes kept)."),
        ],
    ),
    "/api/sources": _get("Sources, as `sources list`.", _list("Source"), [], missing=False),
    "/api/sources/{name}": _get(
        "One source, as `sources show`.", ref("Source"), [_path("name", "Its name.")]
    ),
    "/api/results": _get(
        "Results, newest first, as `results list`.",
        _list("Result"),
        [
            _query("job", "Only runs of this job."),
            _query("status", "Only results with this status.", {"type": "string", "enum": list(STATUSES)}),
            *PAGING,
        ],
        paged=True,
    ),
    "/api/results/{result}": _get(
        "One result, as `results show`.", ref("Result"), [_path("result", "The result's id.")]
    ),
    "/api/results/{result}/logs": {
        "get": {
            "summary": "A result's log entries, as `logs --json`; with follow=1, followed live.",
            "description": LOG_EVENTS,
            "parameters": [
                _path("result", "The result's id."),
                _query(
                    "level",
                    "Only entries at this level or more severe.",
                    {"type": "string", "enum": list(LOG_LEVELS)},
                ),
                _query(
                    "follow",
                    "1: a Server-Sent Events stream until the run ends.",
                    {"type": "string", "enum": ["1", "true", "yes"]},
                ),
                *PAGING,
            ],
            "responses": {
                "200": {
                    "description": "A page of entries, or (follow=1) the stream.",
                    "headers": {"Link": {"description": 'rel="next": the next page', "schema": STRING}},
                    "content": {
                        "application/json": {"schema": _list("LogEntry")},
                        "text/event-stream": {"schema": {"type": "string", "description": LOG_EVENTS}},
                    },
                },
                "400": {"$ref": "#/components/responses/BadRequest"},
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "404": {"$ref": "#/components/responses/NotFound"},
            },
        }
    },
    "/api/schedules": _get(
        "Schedules, as `schedules list`.", _list("Schedule"), [_query("job", "Only this job's.")]
    ),
    "/api/schedules/{ref}": _get(
        "One schedule, as `schedules show`.", ref("Schedule"), [_path("ref", "Its name or id.")]
    ),
    "/api/audit": _get(
        "Every change to jobs and sources, as `audit`.",
        _list("HistoryEntry"),
        [
            SINCE,
            UNTIL,
            _query("actor", "Only changes made by this actor."),
            _query("author", "Only changes from commits whose author contains this (any case)."),
            _query("source", "Only changes to this source and its jobs (an unknown source is 404)."),
            *PAGING,
        ],
        paged=True,
    ),
    "/api/openapi.json": {
        "get": {
            "summary": "This document.",
            "parameters": [],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "401": {"$ref": "#/components/responses/Unauthorized"},
            },
        }
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "jobsync",
        "version": "1",
        "description": (
            "The read-only JSON API of jobsync: each answer is what `jobsync --utc COMMAND --json` "
            "prints. Lists of jobs, results and audit entries come in pages; the next page is named "
            'by a `Link: <...>; rel="next"` header. Errors are {"error": "..."}.'
        ),
    },
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from the file [http] tokens_file names.",
            }
        },
        "responses": {
            "BadRequest": _error("A parameter the API cannot read."),
            "Unauthorized": _error("No token, or one the server does not know."),
            "NotFound": _error("No such job, source, result, schedule, file or point."),
        },
    },
}
