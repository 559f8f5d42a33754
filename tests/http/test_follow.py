"""A run's log over HTTP: pages of entries, and following them live as Server-Sent Events."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any

import httpx

from tests.http.conftest import Served

JOB = "netops:jobs.backup.Backup"


def started_run(served: Served) -> str:
    served.catalog.enable(JOB)
    ident = str(served.catalog.record_result(JOB))
    served.catalog.start_result(ident)
    return ident


def events(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> list[tuple[str, Any]]:
    """Read an SSE stream to its end: ``(event, data)`` pairs (``id`` kept in data as ``_id``)."""
    found: list[tuple[str, Any]] = []
    kind, ident = "", None
    with client.stream("GET", path, headers=headers or {}, timeout=30) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if line.startswith("id: "):
                ident = int(line[4:])
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if ident is not None:
                    data["_id"] = ident
                found.append((kind, data))
                kind, ident = "", None
    return found


def test_logs_page_is_the_cli_json_with_a_link_to_the_next(served: Served) -> None:
    ident = started_run(served)
    for number in range(5):
        served.catalog.log(ident, f"step {number}", level="warning" if number == 3 else "info")
    everything = served.client.get(f"/api/results/{ident}/logs")
    assert "link" not in everything.headers
    assert [entry["message"] for entry in everything.json()] == [f"step {n}" for n in range(5)]
    assert set(everything.json()[0]) == {"time", "level", "message", "grouping", "object", "url"}
    first = served.client.get(f"/api/results/{ident}/logs?limit=2")
    assert [entry["message"] for entry in first.json()] == ["step 0", "step 1"]
    link = first.headers["link"]
    assert link.endswith('>; rel="next"')
    second = served.client.get(link[1 : link.index(">")])
    assert [entry["message"] for entry in second.json()] == ["step 2", "step 3"]
    warnings = served.client.get(f"/api/results/{ident}/logs?level=warning").json()
    assert [entry["message"] for entry in warnings] == ["step 3"]
    assert served.client.get(f"/api/results/{ident}/logs?level=loud").status_code == 400
    assert served.client.get("/api/results/00000000-0000-0000-0000-000000000000/logs").status_code == 404


def test_a_follower_sees_entries_another_process_writes_and_the_end(served: Served) -> None:
    ident = started_run(served)
    served.catalog.log(ident, "before")
    store = served.catalog._store_url  # the same SQLite file, written by a separate process
    writer = (
        "import sys, time\n"
        "from jobsync import Catalog\n"
        "with Catalog.open(store=sys.argv[1], state_dir=sys.argv[2], actor='worker') as c:\n"
        "    for n in range(20):\n"
        "        c.log(sys.argv[3], f'live {n}')\n"
        "        time.sleep(0.02)\n"
        "    c.finish_result(sys.argv[3], 'completed')\n"
    )

    def write_later() -> None:
        time.sleep(0.5)
        subprocess.run(
            [sys.executable, "-c", writer, store, str(served.catalog.state_dir), ident],
            check=True,
            timeout=60,
        )

    thread = threading.Thread(target=write_later)
    thread.start()
    found = events(served.client, f"/api/results/{ident}/logs?follow=1")
    thread.join()
    messages = [data["message"] for kind, data in found if kind == "entry"]
    assert messages == ["before", *(f"live {n}" for n in range(20))]
    assert found[-1] == ("end", {"status": "completed"})
    ids = [data["_id"] for kind, data in found if kind == "entry"]
    assert ids == sorted(set(ids))


def test_many_followers_share_one_feed_and_each_gets_everything(served: Served) -> None:
    ident = started_run(served)
    results: list[list[str]] = []

    def follow() -> None:
        found = events(served.client, f"/api/results/{ident}/logs?follow=1")
        results.append([data["message"] for kind, data in found if kind == "entry"])

    threads = [threading.Thread(target=follow) for _ in range(10)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    for number in range(30):
        served.catalog.log(ident, f"entry {number}")
    served.catalog.finish_result(ident, "failed")
    for thread in threads:
        thread.join(30)
    assert len(results) == 10
    for messages in results:
        assert messages == [f"entry {n}" for n in range(30)]


def test_a_reconnecting_follower_resumes_after_its_last_event_id(served: Served) -> None:
    ident = started_run(served)
    for number in range(4):
        served.catalog.log(ident, f"entry {number}")
    served.catalog.finish_result(ident, "completed")
    whole = events(served.client, f"/api/results/{ident}/logs?follow=1")
    second_id = whole[1][1]["_id"]
    resumed = events(
        served.client, f"/api/results/{ident}/logs?follow=1", headers={"Last-Event-ID": str(second_id)}
    )
    assert [data["message"] for kind, data in resumed if kind == "entry"] == ["entry 2", "entry 3"]
    assert resumed[-1] == ("end", {"status": "completed"})


def test_following_needs_a_token(served: Served) -> None:
    ident = started_run(served)
    assert served.anonymous.get(f"/api/results/{ident}/logs?follow=1").status_code == 401


def test_stopping_the_server_ends_a_quiet_follower_at_once(served: Served) -> None:
    ident = started_run(served)
    served.catalog.log(ident, "only entry")
    found: list[tuple[str, Any]] = []
    follower = threading.Thread(
        target=lambda: found.extend(events(served.client, f"/api/results/{ident}/logs?follow=1"))
    )
    follower.start()
    time.sleep(0.5)  # connected and idle: the run is still running
    started = time.monotonic()
    served.server.stop()
    follower.join(10)
    assert not follower.is_alive()
    assert time.monotonic() - started < 3  # not the 5 s graceful limit, nor the 15 s keepalive
    assert [data["message"] for kind, data in found] == ["only entry"]  # no end: the run goes on
