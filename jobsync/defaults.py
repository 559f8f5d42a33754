"""Who acts and where state lives when nobody says: one rule for the CLI, the library and the daemon."""

from __future__ import annotations

import os
from pathlib import Path


def default_actor() -> str:
    """The login name, as the CLI records it when ``--actor`` is not given."""
    import getpass  # with termios under it, imported only when no actor is given

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


def default_state_dir() -> Path:
    """``$STATE_DIRECTORY`` under systemd, ``/var/lib/jobsync`` for root, else the XDG state folder."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    if os.geteuid() == 0:
        return Path("/var/lib/jobsync")
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "jobsync"
