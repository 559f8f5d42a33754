"""What a sync must do to the catalog, decided from what discovery found and the jobs already known.

Pure: the jobs already known come as read-model rows, and the one question that reaches beyond
them (which job holds a name) is asked through the function the caller passes in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from jobsync.domain.discovery import Discovery, Problem
from jobsync.domain.errors import MassUninstallError
from jobsync.domain.fields import JobFacts, facts_digest

#: Without a limit of its own, a sync may always uninstall fewer jobs than this...
MASS_UNINSTALL_FLOOR = 5
#: ...and otherwise at most this share of the source's installed jobs.
MASS_UNINSTALL_SHARE = 0.5
_PERCENT = re.compile(r"^(?P<n>\d+(?:\.\d+)?)%$")


@dataclass(frozen=True)
class JobRow:
    """What sync knows about a job without loading its aggregate (a row of the jobs read model)."""

    id: UUID
    key: str
    name: str
    name_override: bool
    source_name: str
    installed: bool
    deleted: bool
    digest: str


#: Which live job holds each of these names (name -> ref); names nobody holds are left out.
NameHolders = Callable[[Iterable[str]], Mapping[str, str]]


@dataclass(frozen=True)
class NewJob:
    """A job discovery found for the first time; ``facts`` are the event data (its name assigned)."""

    module_name: str
    job_class_name: str
    facts: dict[str, Any]


@dataclass(frozen=True)
class SyncPlan:
    """The changes one sync makes: jobs to add, to bring in line with their source, to uninstall."""

    new: list[NewJob] = field(default_factory=list)
    refreshed: list[tuple[UUID, dict[str, Any]]] = field(default_factory=list)
    uninstalled: list[tuple[UUID, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def plan_sync(source: str, discovery: Discovery, rows: Iterable[JobRow], holders: NameHolders) -> SyncPlan:
    """Compare discovery with the known ``rows`` (those of the modules discovery decided).

    A known job whose facts are unchanged is left alone without loading it; a job that vanished
    is uninstalled, unless its module could not be read (it keeps its last known state).
    """
    known = {row.key: row for row in rows}
    found = {facts.key: facts for facts in discovery.jobs}
    plan = SyncPlan()
    names = _assign_names(source, found, known, holders, plan.problems)
    for key in sorted(found):
        facts = found[key]
        data = facts.as_event_data()
        data["values"]["name"] = names[key]
        row = known.get(key)
        if row is None:
            plan.new.append(NewJob(facts.module_name, facts.job_class_name, data))
        elif not row.installed or row.deleted or row.digest != facts_digest(data):
            plan.refreshed.append((row.id, data))
    for key, row in sorted(known.items()):
        module, _, class_name = key.rpartition(".")
        if key in found or not row.installed or row.deleted or module in discovery.unreadable_modules:
            continue
        reason = (
            f"{module} no longer defines or registers {class_name}"
            if module in discovery.modules
            else f"{module} is no longer in the source"
        )
        plan.uninstalled.append((row.id, reason))
    return plan


def check_uninstalls(source: str, uninstalling: int, installed: int, max_uninstall: int | str | None) -> None:
    """Refuse a sync that would uninstall more of ``source``'s ``installed`` jobs than its limit allows.

    The limit is the source's ``max_uninstall`` (a count, or a percentage of the installed jobs,
    rounded down), else more than half of them when that is at least five. ``installed`` counts the
    whole source, even when an incremental sync planned only part of it.
    """
    if max_uninstall is None:
        allowed = max(int(installed * MASS_UNINSTALL_SHARE), MASS_UNINSTALL_FLOOR - 1)
        why = "more than half of them"
    else:
        allowed = (
            int(installed * float(max_uninstall.removesuffix("%")) / 100)
            if isinstance(max_uninstall, str)
            else max_uninstall
        )
        why = f"over the limit of {max_uninstall} set by max_uninstall"
    if uninstalling > allowed:
        raise MassUninstallError(source, uninstalling, installed, why)


def max_uninstall_problem(value: object) -> str | None:
    """Why ``value`` is no ``max_uninstall`` (a count of 0 or more, or a percentage such as ``"20%"``), or None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return None
    if isinstance(value, str) and (match := _PERCENT.match(value)) and float(match["n"]) <= 100:
        return None
    return f"must be a count of jobs (0 or more) or a percentage from 0% to 100% like '20%', not {value!r}"


def _assign_names(
    source: str,
    found: Mapping[str, JobFacts],
    rows: Mapping[str, JobRow],
    holders_of: NameHolders,
    problems: list[Problem],
) -> dict[str, str]:
    """Give every found job a unique name, as Nautobot does: ``Name``, ``Name (2)``, ``Name (3)``…

    A job keeps the name it already has when that is still free, so names do not shuffle: jobs
    that keep theirs are served first, and only new or renamed jobs pick a free variant.
    """
    wanted = {key: str(facts.values["name"]) for key, facts in found.items()}
    own_refs = {f"{source}:{key}" for key in rows}
    holders: dict[str, str | None] = dict.fromkeys(
        set(wanted.values()) | {row.source_name for row in rows.values()}
    )
    holders.update(holders_of(holders))
    # Names this sync may not hand out: held by other jobs, or by this source's jobs it won't rename.
    taken = {name for name, ref in holders.items() if ref is not None and ref not in own_refs}
    for key, row in rows.items():
        if not row.deleted and (key not in found or row.name_override):
            taken.add(row.name)

    def is_free(name: str) -> bool:
        if name not in holders:
            holders[name] = holders_of([name]).get(name)
        holder = holders[name]
        return name not in taken and (holder is None or holder in own_refs)

    assigned: dict[str, str] = {}
    # First every job that can keep the name it has, so that no other job takes it from it...
    for key in sorted(found):
        existing = rows.get(key)
        if (
            existing is not None
            and _is_variant(existing.source_name, wanted[key])
            and is_free(existing.source_name)
        ):
            assigned[key] = existing.source_name
            taken.add(existing.source_name)
    # ...then the others take the first free variant of what they want, known jobs first.
    for key in sorted((k for k in found if k not in assigned), key=lambda k: (k not in rows, k)):
        assigned[key] = next(n for n in _variants(wanted[key]) if is_free(n))
        taken.add(assigned[key])
    for key, name in sorted(assigned.items()):
        if name != wanted[key]:
            facts = found[key]
            problems.append(
                Problem(
                    facts.file,
                    facts.line,
                    f"job name {wanted[key]!r} is already used; {key} is named {name!r}",
                )
            )
    return assigned


_SUFFIX = re.compile(r"^(?P<base>.*) \((?P<n>\d+)\)$")


def _is_variant(name: str, base: str) -> bool:
    match = _SUFFIX.match(name)
    return name == base or (match is not None and match["base"] == base)


def _variants(base: str) -> Iterator[str]:
    yield base
    n = 2
    while True:
        yield f"{base} ({n})"
        n += 1
