"""Who made a synced change, when, and why: the commit behind a sync and behind each job it changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CommitInfo:
    """A commit as an auditor asks about it (docs/design.md §5 Provenance).

    ``author`` and ``committer`` read ``Name <email>``; ``committed`` is the committer's time.
    """

    commit: str
    author: str
    committer: str
    committed: datetime
    subject: str


@dataclass(frozen=True)
class Provenance:
    """What a snapshot says about its history: its own commit, and per file asked about, the most
    recent commit of the synced range that changed it. Folders and installed apps have neither."""

    head: CommitInfo | None = None
    files: Mapping[str, CommitInfo] = field(default_factory=dict)

    def of(self, path: str) -> CommitInfo | None:
        """The commit that last changed ``path`` in the range, else the synced commit itself.

        A job can change through a module it imports, or in a range longer than the walk's bound;
        then the synced commit is the best answer there is.
        """
        return self.files.get(path, self.head)
