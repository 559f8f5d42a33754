"""Parse many files into discovery summaries, on every core when there are enough to pay for it."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

from jobsync.domain.discovery import ModuleSummary, summarize_module

#: Below this many files, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 200
#: Parsing is CPU-bound: more workers than this only add start-up and transfer costs.
MAX_WORKERS = 4


def summarize_files(items: Sequence[tuple[str, bytes]]) -> list[ModuleSummary]:
    """``summarize_module`` of each (path, content) pair, in order; repository code never runs."""
    cores = os.cpu_count() or 1
    if len(items) < PARALLEL_THRESHOLD or cores < 2:
        return [summarize_module(path, data) for path, data in items]
    from concurrent.futures import ProcessPoolExecutor  # a few ms of import only a large sync pays
    from multiprocessing import get_context

    workers = min(cores, MAX_WORKERS)
    # Forking copies only the calling thread; with other threads alive (the daemon's watchers) a
    # fork could inherit a held lock, so a fork server starts the workers then.
    method = "fork" if threading.active_count() == 1 else "forkserver"
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context(method), initializer=_exit_with_parent
    ) as pool:
        chunk = max(16, len(items) // (workers * 4))
        return list(pool.map(_summarize_item, items, chunksize=chunk))


def _exit_with_parent() -> None:
    """In each worker: leave as soon as the process that started it is gone.

    A sync killed mid-parse (SIGKILL, the OOM killer) must not leave workers behind, each holding
    memory and the store's files open; nothing notifies a worker of that, so it looks.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="jobsync-parent-watch", daemon=True).start()


#: How often a parse worker checks that its parent is alive.
_PARENT_CHECK_SECONDS = 0.5


def _summarize_item(item: tuple[str, bytes]) -> ModuleSummary:
    return summarize_module(item[0], item[1])
