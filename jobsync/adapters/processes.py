"""Which process runs a sync, and whether it still does: this host's process table, nothing more."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class LocalProcesses:
    """Processes of this host; a process on another host cannot be judged from here."""

    host: str = socket.gethostname()

    def current(self) -> tuple[str, int]:
        """(host, pid) of this process."""
        return self.host, os.getpid()

    def gone(self, host: str, pid: int) -> bool:
        """True only when ``pid`` on ``host`` is known to have ended (another host: False)."""
        if host != self.host or pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, under another user
            return False
        return False
