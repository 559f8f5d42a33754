"""The HTTP face under load: webhook-to-API latency, a 10,000-job listing, 100 live log followers.

(Not `bench/http.py`: a script of that name beside its own imports would shadow the standard
library's `http` package, which httpx imports.)

Three phases, each against a real server process (docs/design.md §6 HTTP):

1. ``jobsync daemon`` with ``[http]`` and a git source polled every 10 s (the baseline): each of
   ``--pushes`` commits is announced by a signed GitHub-style webhook, and the time until
   ``/api/jobs/REF`` shows the new description is measured. Target: p95 ≤ 1 s (the poll alone
   would take up to the whole interval).
2. ``jobsync serve`` over a store of ``--modules`` x ``--jobs`` jobs: ``/api/jobs?state=all`` of all
   of them in one page, against ``jobsync --utc jobs list --all --json`` of the same store (same
   JSON, checked). Target: ≤ 1.5 times the CLI.
3. The same server: ``--followers`` Server-Sent-Events followers of one run while another process
   logs ``--entries`` entries to it. Every follower must get every entry once, in order, and the end;
   target: server RSS growth ≤ 50 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from jobsync import Catalog

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
from common import run_bench
from resync import make_repo

TOKEN = "bench-token"
SECRET = "bench-webhook-secret"
POLL_INTERVAL = 10.0
MB = 1024 * 1024


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def jobsync_command() -> list[str]:
    exe = Path(sys.executable).with_name("jobsync")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "jobsync"]


class Server:
    """A ``jobsync daemon`` or ``jobsync serve`` subprocess; its URL comes from its ``http listening`` log line."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.handle = log.open("w")
        self.process = subprocess.Popen(
            [*jobsync_command(), *args], stdout=self.handle, stderr=subprocess.STDOUT, env=env
        )
        self.url = self._wait_url()
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        )

    def _wait_url(self, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_text().splitlines():
                if "http listening" in line:
                    try:
                        return str(json.loads(line)["url"])
                    except ValueError:
                        return line.rsplit("url=", 1)[1].strip()
            if self.process.poll() is not None:
                sys.exit(f"the server exited ({self.process.returncode}): {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        sys.exit(f"the server did not listen within {timeout:g} s")

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while self.client.get("/readyz").status_code != 200:
            if time.monotonic() > deadline:
                sys.exit("the server did not become ready")
            time.sleep(0.05)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / MB
        return 0.0

    def stop(self) -> int:
        self.client.close()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        self.handle.close()
        return code


def write_config(path: Path, state: Path, extra: str = "") -> None:
    path.write_text(
        f'state_dir = "{state}"\nlog_format = "json"\n\n[http]\nlisten = "127.0.0.1:0"\n'
        f'tokens_file = "{path.parent / "tokens"}"\n{extra}',
        encoding="utf-8",
    )
    (path.parent / "tokens").write_text(f"bench {TOKEN}\n", encoding="utf-8")


def job_file(description: str) -> str:
    return (
        "from nautobot.apps.jobs import Job\n\n\nclass Hooked(Job):\n"
        f'    class Meta:\n        description = "{description}"\n'
    )


def webhook_phase(work: Path, pushes: int) -> dict[str, Any]:
    """Push, sign, POST; time until the API shows the pushed description."""
    repo = work / "hooked"
    (repo / "jobs").mkdir(parents=True)
    (repo / "jobs" / "hook.py").write_text(job_file("v0"))
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("-c", "user.name=Bench", "-c", "user.email=b@x", "commit", "-q", "-m", "v0", cwd=repo)
    config = work / "daemon" / "config.toml"
    config.parent.mkdir()
    source = (
        f'\n[[sources]]\nname = "hooked"\nurl = "file://{repo}"\nbranch = "main"\n'
        f'interval = {POLL_INTERVAL}\nwebhook_secret_env = "JOBSYNC_BENCH_SECRET"\n'
    )
    write_config(config, work / "daemon" / "state", source)
    env = {**os.environ, "JOBSYNC_BENCH_SECRET": SECRET}
    server = Server(["--config", str(config), "daemon"], work / "daemon" / "log", env)
    server.wait_ready()
    ref = "hooked:jobs.hook.Hooked"
    latencies = []
    try:
        for push in range(1, pushes + 1):
            (repo / "jobs" / "hook.py").write_text(job_file(f"v{push}"))
            git("-c", "user.name=Bench", "-c", "user.email=b@x", "commit", "-qam", f"v{push}", cwd=repo)
            body = json.dumps({"ref": "refs/heads/main", "after": git("rev-parse", "HEAD", cwd=repo).strip()})
            signature = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
            started = time.perf_counter()
            answer = server.client.post(
                "/hooks/hooked",
                content=body,
                headers={
                    "X-GitHub-Event": "push",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": f"sha256={signature}",
                    "Content-Type": "application/json",
                },
            )
            accepted = time.perf_counter() - started
            if answer.status_code != 202:
                sys.exit(f"webhook refused: {answer.status_code} {answer.text}")
            while server.client.get(f"/api/jobs/{ref}").json().get("description") != f"v{push}":
                if time.perf_counter() - started > 3 * POLL_INTERVAL:
                    sys.exit(f"push {push} not visible after {3 * POLL_INTERVAL:g} s")
                time.sleep(0.01)
            latencies.append((time.perf_counter() - started, accepted))
    finally:
        code = server.stop()
    seen = sorted(seconds for seconds, _ in latencies)
    return {
        "pushes": pushes,
        "p50": statistics.median(seen),
        "p95": seen[max(0, round(0.95 * len(seen)) - 1)],
        "accept_p50": statistics.median(a for _, a in latencies),
        "accept_p95": sorted(a for _, a in latencies)[max(0, round(0.95 * len(seen)) - 1)],
        "baseline_interval": POLL_INTERVAL,
        "daemon_exit": code,
    }


def listing_phase(work: Path, modules: int, jobs: int, runs: int) -> tuple[dict[str, Any], Server, Catalog]:
    """``/api/jobs`` of every job against the CLI's ``jobs list --json``; leaves the server running."""
    repo = make_repo(work / "big", modules, jobs)
    state = work / "serve" / "state"
    with Catalog.open(state_dir=state, actor="bench") as catalog:
        catalog.resync(f"file://{repo}", name="big")
    config = work / "serve" / "config.toml"
    write_config(config, state)
    server = Server(["--config", str(config), "serve"], work / "serve" / "log", dict(os.environ))
    server.wait_ready()
    total = modules * jobs

    def api() -> Any:
        answer = server.client.get(f"/api/jobs?state=all&limit={max(total, 1)}")
        answer.raise_for_status()
        return answer.content

    def cli() -> bytes:
        return subprocess.run(
            [*jobsync_command(), "--config", str(config), "--utc", "jobs", "list", "--all", "--json"],
            check=True,
            capture_output=True,
        ).stdout

    if json.loads(api()) != json.loads(cli()):
        sys.exit("the API's job list differs from the CLI's")
    api_times, cli_times = [], []
    for _ in range(runs):
        started = time.perf_counter()
        found = json.loads(api())
        api_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        cli()
        cli_times.append(time.perf_counter() - started)
    if len(found) != total:
        sys.exit(f"the API listed {len(found)} jobs, not {total}")
    api_s, cli_s = statistics.median(api_times), statistics.median(cli_times)
    return (
        {"jobs": total, "api": api_s, "cli": cli_s, "ratio": api_s / cli_s},
        server,
        Catalog.open(state_dir=state, actor="bench"),
    )


def followers_phase(server: Server, catalog: Catalog, followers: int, entries: int) -> dict[str, Any]:
    """Many followers of one run while it logs; every entry reaches each exactly once."""
    job = catalog.jobs(source="big", limit=1)[0]["ref"]
    catalog.enable(job)
    result = str(catalog.record_result(job))
    catalog.start_result(result)
    got: list[list[int]] = []
    ended: list[str] = []
    lock = threading.Lock()
    connected = threading.Barrier(followers + 1)

    def follow() -> None:
        seen: list[int] = []
        status = ""
        with (
            httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
            ) as client,
            client.stream("GET", f"/api/results/{result}/logs?follow=1") as stream,
        ):
            connected.wait()
            kind = ""
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if kind == "entry":
                        seen.append(int(data["message"]))
                    else:
                        status = data["status"]
        with lock:
            got.append(seen)
            ended.append(status)

    before = server.rss_mb()
    peak = before
    threads = [threading.Thread(target=follow) for _ in range(followers)]
    for thread in threads:
        thread.start()
    connected.wait()
    started = time.perf_counter()
    for number in range(entries):
        catalog.log(result, str(number))
        if number % 50 == 0:
            peak = max(peak, server.rss_mb())
    catalog.finish_result(result, "completed")
    written = time.perf_counter() - started
    for thread in threads:
        while thread.is_alive():
            thread.join(0.1)
            peak = max(peak, server.rss_mb())
    lost = sum(1 for seen in got if seen != list(range(entries)))
    return {
        "followers": followers,
        "entries": entries,
        "complete": len(got) - lost,
        "ended": sum(1 for status in ended if status == "completed"),
        "write_seconds": written,
        "rss_before": before,
        "rss_peak": peak,
        "rss_growth": peak - before,
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"webhook": webhook_phase(work, args.pushes)}
    listing, server, catalog = listing_phase(work, args.modules, args.jobs, args.runs)
    result["listing"] = listing
    try:
        result["followers"] = followers_phase(server, catalog, args.followers, args.entries)
    finally:
        catalog.close()
        result["serve_exit"] = server.stop()
    hook, listed, follow = result["webhook"], result["listing"], result["followers"]
    result["targets"] = {
        "webhook_p95": hook["p95"] <= 1.0,
        "listing_ratio": listed["ratio"] <= 1.5,
        "followers_complete": follow["complete"] == follow["followers"] == follow["ended"],
        "rss_growth": follow["rss_growth"] <= 50.0,
        "clean_exits": hook["daemon_exit"] == 0 and result["serve_exit"] == 0,
    }
    return result


def print_table(r: dict[str, Any], args: argparse.Namespace) -> None:
    hook, listed, follow, ok = r["webhook"], r["listing"], r["followers"], r["targets"]

    def mark(key: str) -> str:
        return "ok" if ok[key] else "MISSED"

    print(
        f"webhook -> visible in the API, {hook['pushes']} pushes (baseline: a poll every {hook['baseline_interval']:g} s)"
    )
    print(
        f"  p50 {hook['p50'] * 1000:7.0f} ms   p95 {hook['p95'] * 1000:7.0f} ms  (target p95 <= 1000 ms) {mark('webhook_p95')}"
    )
    print(
        f"  p95 / poll interval {hook['p95'] / hook['baseline_interval']:.3f};  202 answered in p50 {hook['accept_p50'] * 1000:.1f} ms, p95 {hook['accept_p95'] * 1000:.1f} ms (target < 50 ms)"
    )
    print(
        f"/api/jobs of {listed['jobs']} jobs: {listed['api'] * 1000:.0f} ms; jobs list --json: {listed['cli'] * 1000:.0f} ms"
    )
    print(f"  ratio {listed['ratio']:.2f}  (target <= 1.5) {mark('listing_ratio')}")
    print(
        f"{follow['followers']} SSE followers x {follow['entries']} entries (written in {follow['write_seconds']:.1f} s)"
    )
    print(
        f"  complete and in order: {follow['complete']}, ended: {follow['ended']} {mark('followers_complete')}"
    )
    print(
        f"  server RSS {follow['rss_before']:.0f} -> peak {follow['rss_peak']:.0f} MB, growth {follow['rss_growth']:.1f} MB (target <= 50) {mark('rss_growth')}"
    )
    print(f"clean exits on SIGTERM: {mark('clean_exits')}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pushes", type=int, default=50)
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=5, help="jobs per module")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each listing")
    parser.add_argument("--followers", type=int, default=100)
    parser.add_argument("--entries", type=int, default=1000)
    result = run_bench(parser, run, print_table)
    if not result["targets"]["followers_complete"] or not result["targets"]["clean_exits"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
