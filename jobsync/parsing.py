"""Parse many files into discovery summaries, on every core when there are enough to pay for it."""

from __future__ import annotations

import os
import select
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
        max_workers=workers,
        mp_context=get_context(method),
        initializer=_exit_with_owner,
        initargs=(os.getpid(),),
    ) as pool:
        chunk = max(16, len(items) // (workers * 4))
        return list(pool.map(_summarize_item, items, chunksize=chunk))


def _exit_with_owner(owner: int) -> None:
    """In each worker: leave as soon as the process that asked for the parse is gone.

    A sync killed mid-parse (SIGKILL, the OOM killer) must not leave workers behind, each holding
    memory and the store's files open; nothing notifies a worker of that, so it watches. It watches
    the owner's pid, not its own parent: under a fork server (chosen when the owner has threads, as
    with PostgreSQL's connection pool) the parent is the server, which itself waits for its workers.
    """

    def watch() -> None:
        try:
            handle = os.pidfd_open(owner)  # readable once the owner has exited; immune to pid reuse
        except ProcessLookupError:
            os._exit(1)
        except OSError:  # no pidfd here (an old kernel): look every now and then instead
            while _alive(owner):
                time.sleep(_OWNER_CHECK_SECONDS)
        else:
            select.select([handle], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="jobsync-owner-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: How often a parse worker without pidfd checks that its owner is alive.
_OWNER_CHECK_SECONDS = 0.5


def _summarize_item(item: tuple[str, bytes]) -> ModuleSummary:
    return summarize_module(item[0], item[1])
