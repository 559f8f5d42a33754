"""Old event topics: stored events name their class as ``module:QualName``; a moved class keeps them readable."""

from __future__ import annotations

from collections.abc import Mapping

from eventsourcing.utils import register_topic, resolve_topic

#: ``old topic -> current topic`` for every event or aggregate class that ever moved. Add a line
#: here (never remove one) when a class moves, and the logs written before the move still load.
MOVED_TOPICS: dict[str, str] = {}


def register_moved_topics(moved: Mapping[str, str] = MOVED_TOPICS) -> None:
    """Teach eventsourcing to resolve each old topic to the class now at the new one."""
    for old, new in moved.items():
        register_topic(old, resolve_topic(new))
