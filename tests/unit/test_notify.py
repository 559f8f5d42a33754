"""The sd_notify adapter, against real Unix datagram sockets standing in for systemd."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobsync.adapters.notify import Notifier


@pytest.fixture
def systemd_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket playing systemd's part, and the path to put in ``NOTIFY_SOCKET``."""
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(2)
        yield sock, path


def receive(sock: socket.socket) -> bytes:
    return sock.recv(4096)


class TestMessages:
    def test_ready_sends_one_datagram(self, systemd_socket: tuple[socket.socket, str]) -> None:
        """ready() delivers exactly ``READY=1`` as one datagram."""
        sock, path = systemd_socket
        assert Notifier.from_environ({"NOTIFY_SOCKET": path}).ready() is True
        assert receive(sock) == b"READY=1\n"

    def test_each_call_is_its_own_datagram(self, systemd_socket: tuple[socket.socket, str]) -> None:
        """status, watchdog and stopping each arrive as a separate message, in order."""
        sock, path = systemd_socket
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
        notifier.status("2 sources ok, 0 failing")
        notifier.watchdog()
        notifier.stopping()
        assert [receive(sock) for _ in range(3)] == [
            b"STATUS=2 sources ok, 0 failing\n",
            b"WATCHDOG=1\n",
            b"STOPPING=1\n",
        ]

    def test_status_stays_on_one_line(self, systemd_socket: tuple[socket.socket, str]) -> None:
        """A newline in a status text cannot inject a second field."""
        sock, path = systemd_socket
        Notifier.from_environ({"NOTIFY_SOCKET": path}).status("ok\nREADY=1")
        assert receive(sock) == b"STATUS=ok READY=1\n"

    def test_send_joins_fields_in_one_datagram(self, systemd_socket: tuple[socket.socket, str]) -> None:
        """send() puts every field, in the order given, into a single message."""
        sock, path = systemd_socket
        Notifier.from_environ({"NOTIFY_SOCKET": path}).send(READY=1, STATUS="up")
        assert receive(sock) == b"READY=1\nSTATUS=up\n"

    def test_reloading_carries_monotonic_usec(self, systemd_socket: tuple[socket.socket, str]) -> None:
        """RELOADING=1 and the current CLOCK_MONOTONIC in microseconds travel in the same message."""
        sock, path = systemd_socket
        before = time.monotonic_ns() // 1000
        Notifier.from_environ({"NOTIFY_SOCKET": path}).reloading()
        after = time.monotonic_ns() // 1000
        lines = receive(sock).decode().splitlines()
        assert lines[0] == "RELOADING=1"
        key, _, value = lines[1].partition("=")
        assert (key, len(lines)) == ("MONOTONIC_USEC", 2)
        assert before <= int(value) <= after

    def test_abstract_socket(self) -> None:
        """A ``NOTIFY_SOCKET`` starting with ``@`` reaches the abstract-namespace socket of that name."""
        name = f"jobsync-test-{os.getpid()}-{time.monotonic_ns()}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind("\0" + name)
            sock.settimeout(2)
            assert Notifier.from_environ({"NOTIFY_SOCKET": "@" + name}).ready() is True
            assert receive(sock) == b"READY=1\n"


class TestWithoutSystemd:
    def test_no_socket_is_a_no_op(self) -> None:
        """Without ``NOTIFY_SOCKET`` every call succeeds quietly and sends nothing."""
        notifier = Notifier.from_environ({})
        assert notifier.address is None
        assert all([notifier.ready(), notifier.status("x"), notifier.watchdog(), notifier.reloading()])
        assert notifier.stopping() is True

    def test_vanished_socket_returns_false(self, systemd_socket: tuple[socket.socket, str]) -> None:
        """When systemd's socket is gone, a call returns False and keeps the error instead of raising."""
        sock, path = systemd_socket
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
        sock.close()
        Path(path).unlink()
        assert notifier.watchdog() is False
        assert isinstance(notifier.last_error, OSError)

    def test_success_clears_last_error(self, tmp_path: Path) -> None:
        """Once the socket is back, a send succeeds and the remembered error is forgotten."""
        path = str(tmp_path / "late.sock")
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
        assert notifier.ready() is False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            assert notifier.ready() is True
        assert notifier.last_error is None


class TestWatchdogInterval:
    def test_half_of_watchdog_usec(self) -> None:
        """The ping interval is half the watchdog timeout, in seconds."""
        assert Notifier.from_environ({"WATCHDOG_USEC": "60000000"}).watchdog_interval() == 30.0

    def test_none_without_watchdog_usec(self) -> None:
        """No watchdog configured means no pings."""
        assert Notifier.from_environ({}).watchdog_interval() is None

    def test_our_pid_keeps_the_watchdog(self) -> None:
        """A ``WATCHDOG_PID`` equal to our pid means the watchdog is ours."""
        environ = {"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}
        assert Notifier.from_environ(environ).watchdog_interval() == 5.0

    def test_other_pid_disables_the_watchdog(self) -> None:
        """A ``WATCHDOG_PID`` naming another process means the pings are not ours to send."""
        environ = {"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid() + 1)}
        assert Notifier.from_environ(environ).watchdog_interval() is None

    @pytest.mark.parametrize("usec", ["", "0", "soon", "-5"])
    def test_unusable_watchdog_usec_is_ignored(self, usec: str) -> None:
        """An empty, zero or malformed ``WATCHDOG_USEC`` disables the watchdog rather than crashing."""
        assert Notifier.from_environ({"WATCHDOG_USEC": usec}).watchdog_interval() is None
