"""SourceSpec: where a source lives and which of its files count, as the config or a command gives it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from jobsync.domain.text import CONTROLS, escaped, unstorable
from jobsync.urls import redact_url

#: How often the daemon syncs a git source when the config does not say (seconds).
DEFAULT_INTERVAL = 300.0
#: Seconds a fetch may wait to connect or for the next bytes, when the config does not say.
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class SourceSpec:
    """Where a source lives and which files of it count, as config or the command line give it.

    ``url`` is the git URL, the folder of a ``local`` source, or the distribution of an ``app``.
    A git source follows at most one of ``branch``, ``tag`` and ``commit`` (none: the remote HEAD).
    ``auth`` says how the secret from ``credentials_env``/``credentials_file`` is sent over
    http(s): ``basic`` (``user:secret``, or a bare token as the password) or ``bearer``.
    ``max_uninstall``: how many jobs one sync may uninstall, a count or a percentage such as
    ``"20%"`` of the installed ones (None: more than half, when at least five, is refused).
    ``webhook_secret_env``/``webhook_secret_file``: where the secret that signs this source's push
    webhooks is read from (never the config text itself).
    ``configured``: the spec comes from the config file, whose word on a source's location wins
    (a changed URL relocates the source); a URL given on the command line never moves one.
    """

    name: str
    url: str
    branch: str | None = None
    kind: str = "git"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    interval: float = DEFAULT_INTERVAL
    credentials_env: str | None = None
    credentials_file: str | None = None
    tag: str | None = None
    commit: str | None = None
    auth: str = "basic"
    proxy: str | None = None
    ca_bundle: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    ssh_key_file: str | None = None
    known_hosts_file: str | None = None
    max_uninstall: int | str | None = None
    webhook_secret_env: str | None = None
    webhook_secret_file: str | None = None
    configured: bool = False

    @property
    def location(self) -> str:
        """Where the source lives, safe to record and print (credentials removed)."""
        return redact_url(self.url) if self.kind == "git" else self.url

    @property
    def filters(self) -> str:
        """The include/exclude globs as one key: summaries made under other filters are not reused."""
        return json.dumps([self.include, self.exclude])


def source_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a new source, or None: it starts every ref of its jobs (``SOURCE:MODULE.CLASS``).

    An operator chooses it, so, like an override, it holds no control character.
    """
    if not name.strip():
        return "a source needs a name"
    if ":" in name:
        return "a source name may not hold ':' (it ends the source in a job ref)"
    problem = unstorable(name)
    if problem is not None:
        return f"holds {problem}, which cannot be stored"
    found = CONTROLS.search(name)
    if found is not None:
        return f"may not hold the control character {escaped(found.group())}"
    return None
