"""Job fields: which come from source, which an operator may override, and how values are checked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobsync.domain.errors import FieldError
from jobsync.domain.text import CONTROLS, CONTROLS_BUT_LAYOUT, escaped, unstorable

FieldValue = str | int | float | bool | list[str]

#: Fields read from the class source that an operator may override, with Nautobot's defaults.
#: ``grouping`` and ``name`` default to the module's grouping and the class name (set by discovery).
OVERRIDABLE_DEFAULTS: dict[str, FieldValue] = {
    "grouping": "",
    "name": "",
    "description": "",
    "approval_required": False,
    "dryrun_default": False,
    "hidden": False,
    "has_sensitive_variables": True,
    "soft_time_limit": 0,
    "time_limit": 0,
    "task_queues": [],
    "is_singleton": False,
}
OVERRIDABLE_FIELDS: tuple[str, ...] = tuple(OVERRIDABLE_DEFAULTS)

#: Fields only sync may change; an operator editing one is refused.
READ_ONLY_FIELDS: tuple[str, ...] = (
    "source",
    "module_name",
    "job_class_name",
    "installed",
    "read_only",
    "is_job_hook_receiver",
    "is_job_button_receiver",
    "commit",
    "file",
    "line",
)

BOOL_FIELDS = frozenset(k for k, v in OVERRIDABLE_DEFAULTS.items() if isinstance(v, bool))
LIMIT_FIELDS = frozenset({"soft_time_limit", "time_limit"})
MAX_NAME_LENGTH = 100
#: Nautobot keeps limits in an integer column; more is refused, never wrapped or rounded.
MAX_TIME_LIMIT = 2**31 - 1
MAX_GROUPING_LENGTH = 255


@dataclass(frozen=True)
class JobFacts:
    """What discovery read about one job class from its source file (before any override)."""

    module_name: str
    job_class_name: str
    file: str
    line: int
    values: Mapping[str, FieldValue]
    read_only: bool = False
    is_job_hook_receiver: bool = False
    is_job_button_receiver: bool = False
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        """``module.Class``: the job's identity inside its source."""
        return f"{self.module_name}.{self.job_class_name}"

    def as_event_data(self) -> dict[str, Any]:
        """The source facts as plain JSON-able values, as events carry them."""
        return {
            "values": {k: _plain(v) for k, v in self.values.items()},
            "read_only": self.read_only,
            "is_job_hook_receiver": self.is_job_hook_receiver,
            "is_job_button_receiver": self.is_job_button_receiver,
            "file": self.file,
            "line": self.line,
        }


def facts_digest(facts: Mapping[str, Any]) -> str:
    """A short fingerprint of a job's source facts (event shape), so sync skips unchanged jobs unloaded."""
    return hashlib.sha1(json.dumps(facts, sort_keys=True).encode(), usedforsecurity=False).hexdigest()


def _plain(value: FieldValue) -> FieldValue:
    return list(value) if isinstance(value, (list, tuple)) else value


def check_field_name(name: str) -> None:
    """Refuse read-only and unknown fields with a message that lists what may be edited."""
    if name in READ_ONLY_FIELDS:
        raise FieldError(f"field {name!r} is read-only; only sync changes it")
    if name == "enabled":
        raise FieldError("use 'jobs enable' / 'jobs disable' to change 'enabled'")
    if name not in OVERRIDABLE_DEFAULTS:
        raise FieldError(f"unknown field {name!r}; overridable fields: {', '.join(OVERRIDABLE_FIELDS)}")


def parse_field_value(name: str, text: str) -> FieldValue:
    """Turn a command-line word into a typed value for ``name`` (JSON lists accepted for queues)."""
    check_field_name(name)
    if name in BOOL_FIELDS:
        lowered = text.strip().lower()
        if lowered in {"true", "yes", "on", "1"}:
            return True
        if lowered in {"false", "no", "off", "0"}:
            return False
        raise FieldError(f"field {name!r} takes true or false, not {text!r}")
    if name in LIMIT_FIELDS:
        number: int | float
        try:
            number = int(text)  # exact: a float would round a long whole number
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise FieldError(f"field {name!r} takes a number of seconds, not {text!r}") from None
        return validate_field_value(name, number)
    if name == "task_queues":
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                parsed = json.loads(stripped)
            except ValueError:
                raise FieldError(f"field 'task_queues' takes a JSON list of strings, not {text!r}") from None
            return validate_field_value(name, parsed)
        return [q.strip() for q in stripped.split(",") if q.strip()]
    return text


def validate_field_value(name: str, value: object) -> FieldValue:
    """Check ``value``'s type and bounds for ``name``; return it normalised or raise FieldError."""
    check_field_name(name)
    if name in BOOL_FIELDS:
        if not isinstance(value, bool):
            raise FieldError(f"field {name!r} takes true or false, not {value!r}")
        return value
    if name in LIMIT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FieldError(f"field {name!r} takes a number of seconds, not {value!r}")
        if value < 0 or value != value:
            raise FieldError(f"field {name!r} must be a number >= 0 (0 means the default), not {value!r}")
        if value > MAX_TIME_LIMIT:
            raise FieldError(f"field {name!r} is {value!r} seconds, over the {MAX_TIME_LIMIT}-second maximum")
        return value
    if name == "task_queues":
        if not isinstance(value, (list, tuple)) or not all(isinstance(q, str) for q in value):
            raise FieldError(f"field 'task_queues' takes a list of strings, not {value!r}")
        for queue in value:
            _check_storable(name, queue)
        return list(value)
    if not isinstance(value, str):
        raise FieldError(f"field {name!r} takes text, not {value!r}")
    _check_storable(name, value)
    if name == "name":
        if not value.strip():
            raise FieldError("field 'name' must not be empty")
        if len(value) > MAX_NAME_LENGTH:
            raise FieldError(f"field 'name' is {len(value)} characters; at most {MAX_NAME_LENGTH} allowed")
    if name == "grouping" and len(value) > MAX_GROUPING_LENGTH:
        raise FieldError(
            f"field 'grouping' is {len(value)} characters; at most {MAX_GROUPING_LENGTH} allowed"
        )
    return value


def check_operator_text(name: str, value: FieldValue) -> None:
    """Refuse control and bidi characters in what an operator sets (sources may hold them; shown escaped).

    A description keeps tabs and line breaks; a name, a grouping or a queue keeps none.
    """
    pattern = CONTROLS_BUT_LAYOUT if name == "description" else CONTROLS
    for text in value if isinstance(value, list) else [value]:
        if isinstance(text, str) and (found := pattern.search(text)) is not None:
            raise FieldError(f"field {name!r} may not hold the control character {escaped(found.group())}")


def _check_storable(name: str, text: str) -> None:
    problem = unstorable(text)
    if problem is not None:
        raise FieldError(f"field {name!r} holds {problem}, which cannot be stored")


def limits_conflict(soft: FieldValue, hard: FieldValue) -> bool:
    """True when both limits are set and the soft one would not fire before the hard one."""
    if isinstance(soft, bool) or isinstance(hard, bool):
        return False
    if not isinstance(soft, (int, float)) or not isinstance(hard, (int, float)):
        return False
    return soft > 0 and hard > 0 and soft >= hard
