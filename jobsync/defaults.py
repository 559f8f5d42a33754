"""Who acts and where state lives when nobody says: one rule for the CLI, the library and the daemon."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def default_actor() -> str:
    """The login name, as the CLI records it when ``--actor`` is not given."""
    import getpass  # with termios under it, imported only when no actor is given

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


#: The service's state folder (the systemd unit's StateDirectory=jobsync, the jobsync user's home).
SYSTEM_STATE_DIR = Path("/var/lib/jobsync")


def default_state_dir() -> Path:
    """Where the catalog lives when nothing says: see ``state_dir_rule``."""
    return state_dir_rule()[0]


def state_dir_rule(
    environ: Mapping[str, str] | None = None, system: Path = SYSTEM_STATE_DIR, euid: int | None = None
) -> tuple[Path, str]:
    """The default state folder and the rule that chose it (docs/design.md §6 Config), for every entry point.

    ``$STATE_DIRECTORY`` under systemd; else the service's ``/var/lib/jobsync`` for root or when it
    exists and this user may write it (the ``jobsync`` user, so ``sudo -u jobsync jobsync jobs
    list`` reads the service's catalog); else the user's own XDG state folder.
    """
    env = os.environ if environ is None else environ
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0]), "$STATE_DIRECTORY (set by systemd)"
    if (os.geteuid() if euid is None else euid) == 0:
        return system, f"the service's folder {system} (running as root)"
    if system.is_dir() and os.access(system, os.W_OK | os.X_OK):
        return system, f"the service's folder {system} (it exists and this user may write it)"
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]) / "jobsync", "$XDG_STATE_HOME/jobsync (this user's own catalog)"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "state" / "jobsync", "~/.local/state/jobsync (this user's own catalog)"
