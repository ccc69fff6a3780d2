"""Team server under load: 20 clients reading version pages and 5 writing names and plans
for 60 s on a 1M-customer workspace, against a real `segtrail serve` on loopback, with one
server process and with `--workers 2` (one per core here).

    .venv/bin/python bench/bench_server_load.py [--workers 1,2] [--seconds 60]"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import BIN, DATA, Figure

from data import parquet_file

READERS = 20
WRITERS = 5
SECONDS = 60.0
CUSTOMERS = 1_000_000
LENS = "marketing"
GOAL_P95_READ = 0.300  # seconds

WORKERS = (1, 2)  # server processes (`segtrail serve --workers N`), one run each

NOTES = (
    "Loopback only: the server is a real `segtrail serve` subprocess (SQLite metadata, 2 job "
    "workers per process; one run with one server process, one with `--workers 2`) on "
    "127.0.0.1; the 25 clients are asyncio tasks with httpx in one process, each "
    "sending its next request as soon as the last is answered (closed loop), so the load "
    "adapts to the server. Readers fetch the version page (`/versions/LENS@N`, the HTML page "
    "when the pages are installed, else the API's `GET /api/v1/versions/LENS@N`); writers "
    "alternate naming a segment and re-mapping their own strategy (distinct strategies: a 409 "
    "would be a lost update, and is counted as an error). After the run every write answered "
    "200 is looked up in the history (`lost` must be 0). The baseline is one client alone "
    "reading the same page (median). The machine has 2 cores shared with other helpers' "
    "test runs and the clients run on the same 2 cores as the server: the latencies are "
    "noisy and pessimistic for the server; its CPU time per request does not depend on the "
    "other load."
)


def fresh_workspace(root: Path) -> dict[str, str]:
    """A copy of the pristine 1M-customer workspace at `root` (built once into
    bench/.data, a few minutes), so every run starts from the same history: names written by
    one run would otherwise lengthen the next run's version pages."""
    pristine = root.with_name(root.name + "-pristine")
    tokens = build_workspace(pristine)
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(pristine, root)
    return tokens


def build_workspace(root: Path) -> dict[str, str]:
    """A 1M-customer workspace with one segmentation, five strategies and tokens."""
    from segtrail.services import access
    from segtrail.services.access import Role
    from segtrail.services.workspace import Workspace

    tokens_file = root / "tokens.txt"
    if tokens_file.exists():
        return dict(line.split("=", 1) for line in tokens_file.read_text().split())
    if root.exists():
        shutil.rmtree(root)
    source = parquet_file(CUSTOMERS, 20, 3)
    with Workspace.init(root, author="bench") as ws:
        ws.ingest(source, "customer_id", "customers")
        ws.segment(
            "customers",
            LENS,
            "Spend and activity separate the customers",
            features=[f"x{j:02d}" for j in range(8)],
            algorithm="kmeans",
            k=8,
        )
        for w in range(WRITERS):
            ws.strategy_add(f"load-{w}", f"Message {w}", ["email"])
        tokens = {
            "reader": access.add_user(ws, "reader", Role.VIEWER).token,
            "writer": access.add_user(ws, "writer", Role.ANALYST, [LENS]).token,
        }
    tokens_file.write_text("\n".join(f"{k}={v}" for k, v in tokens.items()) + "\n")
    return tokens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, workers: int = 1) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(BIN / "segtrail"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workspace",
            str(root),
            "--workers",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"segtrail serve exited: {process.stderr.read()}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("segtrail serve did not start")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children still running (the worker processes of
    `segtrail serve --workers N`; a child's time reaches its parent only once reaped)."""
    total = process_cpu_seconds(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else ():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # ended meanwhile
            total += tree_cpu_seconds(int(child))
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def load(
    url: str, tokens: dict[str, str], version: str, page: str, seconds: float = SECONDS
) -> dict:
    import httpx

    reads: list[float] = []
    writes: list[float] = []
    errors: list[str] = []
    named: list[tuple[int, str]] = []
    mapped: dict[str, list[str]] = {}
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=READERS + WRITERS)

    async def reader(http: httpx.AsyncClient) -> None:
        while time.monotonic() < stop:
            start = time.perf_counter()
            try:
                answer = await http.get(page)
                if answer.status_code != 200:
                    errors.append(f"read {answer.status_code}")
                reads.append(time.perf_counter() - start)
            except httpx.HTTPError as e:
                errors.append(f"read {type(e).__name__}")

    async def writer(http: httpx.AsyncClient, w: int) -> None:
        round_ = 0
        while time.monotonic() < stop:
            segment, name = w % 8, f"load {w}.{round_}"
            strategy = f"load-{w}"
            requests = (
                ("name", f"/api/v1/versions/{version}/segments/{segment}/name", {"name": name}),
                (
                    "map",
                    f"/api/v1/versions/{version}/plan/map",
                    {"strategy": strategy, "segments": [round_ % 8], "rationale": name},
                ),
            )
            for kind, path, body in requests:
                start = time.perf_counter()
                try:
                    answer = await http.post(path, json=body)
                    writes.append(time.perf_counter() - start)
                    if answer.status_code != 200:
                        errors.append(f"{kind} {answer.status_code}: {answer.text[:120]}")
                    elif kind == "name":
                        named.append((segment, name))
                    else:
                        mapped.setdefault(strategy, []).append(name)
                except httpx.HTTPError as e:
                    errors.append(f"{kind} {type(e).__name__}")
            round_ += 1

    read_headers = {"Authorization": f"Bearer {tokens['reader']}"}
    write_headers = {"Authorization": f"Bearer {tokens['writer']}"}
    async with (
        httpx.AsyncClient(base_url=url, headers=read_headers, timeout=60, limits=limits) as r,
        httpx.AsyncClient(base_url=url, headers=write_headers, timeout=60, limits=limits) as w,
    ):
        await asyncio.gather(
            *(reader(r) for _ in range(READERS)), *(writer(w, i) for i in range(WRITERS))
        )
    return {"reads": reads, "writes": writes, "errors": errors, "named": named, "mapped": mapped}


def lost_writes(root: Path, version: str, outcome: dict) -> int:
    """Writes answered 200 that the history does not hold."""
    from segtrail.services.workspace import Workspace

    with Workspace.open(root) as ws:
        # every name recorded (the event log; `show` lists only each segment's newest few)
        history = {
            (int(e.subject.rsplit(":", 1)[1]), e.details["name"])
            for e in ws.events()
            if e.action == "name" and e.subject.startswith(f"{version}:")
        }
        rationales = {e["rationale"] for c in ws.plan_history(LENS) for e in c["entries"]}
    lost = sum(1 for item in outcome["named"] if item not in history)
    lost += sum(1 for names in outcome["mapped"].values() for n in names if n not in rationales)
    return lost


def run(workers: tuple[int, ...] = WORKERS, seconds: float = SECONDS) -> list[Figure]:
    """The same load against each number of server processes, each on a fresh copy."""
    figures: list[Figure] = []
    for n in workers:
        figures += measure(n, seconds)
    return figures


def measure(workers: int, seconds: float) -> list[Figure]:
    import httpx

    root = DATA / "server-load-1M"
    tokens = fresh_workspace(root)
    process, url = start_server(root, workers)
    try:
        headers = {"Authorization": f"Bearer {tokens['reader']}"}
        version = httpx.get(f"{url}/api/v1/versions/{LENS}", headers=headers, timeout=60).json()[
            "version"
        ]
        page = f"/versions/{version}"
        probe = httpx.get(f"{url}{page}", headers=headers, timeout=60)
        if probe.status_code != 200 or "html" not in probe.headers.get("content-type", ""):
            page = f"/api/v1/versions/{version}"
        alone = []
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            for _ in range(20):
                start = time.perf_counter()
                http.get(page).raise_for_status()
                alone.append(time.perf_counter() - start)
        baseline = statistics.median(alone)
        load_before = os.getloadavg()[0]
        cpu_before = tree_cpu_seconds(process.pid)
        outcome = asyncio.run(load(url, tokens, version, page, seconds))
        cpu_used = tree_cpu_seconds(process.pid) - cpu_before
        load_after = os.getloadavg()[0]
    finally:
        process.terminate()
        process.wait(timeout=30)
    lost = lost_writes(root, version, outcome)
    reads, writes = outcome["reads"], outcome["writes"]
    extra = {
        "page": page,
        "reads": len(reads),
        "writes": len(writes),
        "errors": len(outcome["errors"]),
        "lost": lost,
        # what a request costs the server, whatever else the machine is doing
        "server CPU per request": f"{cpu_used / max(1, len(reads) + len(writes)) * 1000:.1f} ms",
        # the machine is shared: how busy it was says how far to trust the latencies
        "load average (1 min) before / after": f"{load_before:.1f} / {load_after:.1f}",
    }
    if outcome["errors"]:
        extra["first error"] = outcome["errors"][0]
    read_p95, read_p50 = percentile(reads, 0.95), percentile(reads, 0.5)
    write_p95, write_p50 = percentile(writes, 0.95), percentile(writes, 0.5)
    goal = "met" if read_p95 <= GOAL_P95_READ else "NOT met"
    processes = f"--workers {workers}"
    return [
        Figure(
            f"{processes}: version page reads under load, p95 ({READERS} readers + {WRITERS} "
            f"writers, {seconds:.0f} s, {CUSTOMERS:,} customers)",
            f"p95 read {read_p95 * 1000:.0f} ms (p50 {read_p50 * 1000:.0f} ms; goal p95 <= "
            f"{GOAL_P95_READ * 1000:.0f} ms: {goal})",
            read_p95,
            "one client alone, median",
            baseline,
            extra=extra,
        ),
        Figure(
            f"{processes}: writes under load, p95 (names and plan maps)",
            f"p95 write {write_p95 * 1000:.0f} ms (p50 {write_p50 * 1000:.0f} ms)",
            write_p95,
            "one reader alone, median",
            baseline,
        ),
    ]


if __name__ == "__main__":
    import argparse

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.chdir(Path(__file__).resolve().parent)
    from common import write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default=",".join(map(str, WORKERS)))
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args()
    figures = run(tuple(int(n) for n in args.workers.split(",")), args.seconds)
    for figure in figures:
        print(figure.line())
    # the HTML version page when the pages are installed, else the API's JSON of it
    target = "pages" if not figures[0].extra["page"].startswith("/api/") else "API"
    write_results(
        f"server_load ({target})" if target == "API" else "server_load",
        ".venv/bin/python bench/bench_server_load.py  # or: make bench",
        figures,
        NOTES,
    )
