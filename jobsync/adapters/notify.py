"""Tell systemd how the daemon is doing, over the sd_notify datagram protocol."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping


class Notifier:
    """Sends ``KEY=VALUE`` datagrams to ``$NOTIFY_SOCKET``; does nothing when not run by systemd."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        # A leading "@" names a socket in Linux's abstract namespace, spelled with a NUL byte.
        self.address = "\0" + address[1:] if address and address.startswith("@") else address
        self._watchdog_usec = watchdog_usec
        self.last_error: OSError | None = None  # why the latest send failed, for the caller to log

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        """Read the socket and watchdog settings systemd hands to a ``Type=notify`` service."""
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        # The watchdog is meant for WATCHDOG_PID only: a child process must not ping for its parent.
        ours = usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid()))
        return cls(environ.get("NOTIFY_SOCKET") or None, int(usec) if ours else None)

    def watchdog_interval(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` pings: half the timeout, so one late ping is not fatal."""
        return self._watchdog_usec / 2_000_000 if self._watchdog_usec else None

    def send(self, **fields: object) -> bool:
        """Send ``fields`` as one message; False when it could not be delivered (the daemon goes on)."""
        if not self.address:
            return True
        message = "".join(f"{key}={value}\n" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, self.address)
        except OSError as error:
            self.last_error = error
            return False
        self.last_error = None
        return True

    def ready(self) -> bool:
        """Startup (or a reload) is done: systemd stops waiting and starts the units after us."""
        return self.send(READY=1)

    def status(self, text: str) -> bool:
        """Show a one-line summary in ``systemctl status``; a newline would start a new field."""
        return self.send(STATUS=text.replace("\n", " "))

    def watchdog(self) -> bool:
        """Prove the main loop still makes progress, or systemd restarts us after ``WatchdogSec``."""
        return self.send(WATCHDOG=1)

    def reloading(self) -> bool:
        """Announce a reload; systemd wants the monotonic time in the same message to order it."""
        return self.send(RELOADING=1, MONOTONIC_USEC=time.monotonic_ns() // 1000)

    def stopping(self) -> bool:
        """Say shutdown has begun, so systemd reports ``deactivating`` while the last save finishes."""
        return self.send(STOPPING=1)
