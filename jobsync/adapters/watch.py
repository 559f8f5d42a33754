"""Folder watching with watchfiles, as a hint to rescan; the only module importing watchfiles."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import structlog
from watchfiles import DefaultFilter, watch

log = structlog.get_logger("jobsync.watch")


class FolderWatcher:
    """Calls ``on_change`` (from its own thread) after each debounced batch of changes under ``root``.

    A batch only says "look again": the sync rescans the whole folder, so a lost or merged event
    costs nothing.
    """

    def __init__(self, root: Path, on_change: Callable[[], None], debounce_ms: int = 200) -> None:
        self.root = root
        self.on_change = on_change
        self.debounce_ms = debounce_ms
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch {root}", daemon=True)
        self._inode = _inode(root)

    @property
    def alive(self) -> bool:
        """Still watching the folder that is there now (a deleted and re-created folder is a new one)."""
        return self._thread.is_alive() and self._inode is not None and _inode(self.root) == self._inode

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            for _changes in watch(
                self.root,
                watch_filter=DefaultFilter(),
                debounce=self.debounce_ms,
                step=50,
                stop_event=self._stop,
                rust_timeout=1000,
                yield_on_timeout=False,
                raise_interrupt=False,
            ):
                self.on_change()
        except Exception as exc:  # the folder vanished, or the OS refused a watch: resync will say why
            log.warning("folder watch stopped", folder=str(self.root), error=str(exc))
            self.on_change()


def _inode(folder: Path) -> int | None:
    try:
        return folder.stat().st_ino
    except OSError:
        return None
