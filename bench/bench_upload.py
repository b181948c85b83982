"""Evidence uploads over HTTP against baselines measured in the same run (issue 4; perf-baselines.md §1, §2).

Large file (default 1 GiB of random bytes), sent with curl to a local uvicorn (``--loop uvloop --http
httptools``, 1 worker), raw PUT and multipart POST, against:

- the durable ceiling: plain Python read + SHA-256 + write + fsync of the same file, 1 MiB blocks;
- the usual FastAPI way: ``UploadFile`` into the same kind of store (``bench/reference_app.py``).

For each server: throughput, server CPU seconds per GiB, bytes the server wrote per byte received
(``/proc/<pid>/io``: ``wchar`` = bytes passed to write(), ``write_bytes`` = bytes sent to the disk), and peak RSS
above the idle process (sampled every 5 ms). Variants run interleaved, so drifting load hits all of them.

Small files (10 KiB, fsync on, every request a new file): requests per second with ``wrk -t1`` (c=1 and c=4)
against the async hello-world endpoint on the same stack.

    .venv/bin/python bench/bench_upload.py [--size-mib 1024] [--runs 3] [--dir var/bench] [--no-small]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024
STACK = ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
WRK_LUA = """\
-- A new 10 KiB body per request: every upload stores a new file (fsync included).
wrk.method = "PUT"
local counter = 0
local filler = string.rep("x", 10240 - 24)
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format("%08d%016d", math.random(0, 99999999), counter) .. filler)
end
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: psutil.Process
    popen: subprocess.Popen[bytes]


@contextmanager
def uvicorn(app: list[str], env: dict[str, str]) -> Iterator[Server]:
    """Run uvicorn on a free port with the fast stack; yield once it answers."""
    port = free_port()
    popen = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port), *STACK],
        env={**os.environ, **env},
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            urllib.request.urlopen(f"{url}/healthz" if "--factory" in app else f"{url}/hello", timeout=1)  # noqa: S310
            break
        except OSError:
            time.sleep(0.05)
    else:
        popen.kill()
        raise RuntimeError("server did not start")
    try:
        yield Server(url, psutil.Process(popen.pid), popen)
    finally:
        popen.send_signal(signal.SIGINT)
        popen.wait(timeout=30)


class RssSampler(threading.Thread):
    """Sample a process's RSS every 5 ms; keep the peak."""

    def __init__(self, process: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.005)


def proc_io(process: psutil.Process) -> dict[str, int]:
    lines = Path(f"/proc/{process.pid}/io").read_text().splitlines()
    return {key: int(value) for key, value in (line.split(": ") for line in lines)}


@dataclass
class Run:
    seconds: float
    cpu: float
    wchar: int
    write_bytes: int
    peak_rss_above_idle: int


@dataclass
class Variant:
    name: str
    runs: list[Run] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return float(statistics.median(getattr(run, attribute) for run in self.runs))


def measure(server: Server, command: list[str], expected: str) -> Run:
    """Run one curl upload; return wall time and the server's CPU, writes and peak RSS during it."""
    idle_rss = server.process.memory_info().rss
    sampler = RssSampler(server.process)
    sampler.start()
    io0, cpu0 = proc_io(server.process), server.process.cpu_times()
    out = subprocess.run(
        [*command, "-w", "\n%{http_code} %{time_total}"], capture_output=True, text=True, check=True
    )
    io1, cpu1 = proc_io(server.process), server.process.cpu_times()
    sampler.running = False
    sampler.join()
    body, tail = out.stdout.rsplit("\n", 1)
    status, seconds = tail.split()
    assert status in ("200", "201"), out.stdout[-500:]
    answer = json.loads(body)
    assert expected in (answer.get("sha256"), answer.get("digest", "").removeprefix("sha256:")), answer
    return Run(
        seconds=float(seconds),
        cpu=(cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        wchar=io1["wchar"] - io0["wchar"],
        write_bytes=io1["write_bytes"] - io0["write_bytes"],
        peak_rss_above_idle=max(sampler.peak - idle_rss, 0),
    )


def durable_ceiling(source: Path, workdir: Path) -> float:
    """Seconds for plain Python read + SHA-256 + write + fsync of the file (1 MiB blocks)."""
    target = workdir / "ceiling.part"
    start = time.perf_counter()
    hasher = hashlib.sha256()
    with source.open("rb", buffering=0) as reader, target.open("wb", buffering=0) as writer:
        while block := reader.read(MiB):
            hasher.update(block)
            writer.write(block)
        os.fsync(writer.fileno())
    elapsed = time.perf_counter() - start
    target.unlink()
    return elapsed


def make_source(path: Path, size_mib: int) -> str:
    """Write (or reuse) a random file of ``size_mib`` MiB; return its SHA-256 hex."""
    if not path.exists() or path.stat().st_size != size_mib * MiB:
        with path.open("wb") as out:
            for _ in range(size_mib):
                out.write(os.urandom(MiB))
    hasher = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(MiB):
            hasher.update(block)
    return hasher.hexdigest()


def prepare_precedent(data_dir: Path) -> tuple[dict[str, str], str]:
    """Migrate a fresh SQLite database, create a documenter and a token; return the server env and token."""
    env = {
        "PRECEDENT_DATA_DIR": str(data_dir),
        "PRECEDENT_SECRET_KEY": "bench-secret-key-0123456789-0123456789-0123",
        "PRECEDENT_MAX_UPLOAD_BYTES": str(4 * 1024 * MiB),
    }
    os.environ.update(env)
    from api import migrate
    from api.auth import service as auth_service
    from api.config import Settings
    from api.context import AppContext
    from schemas.enums import Role

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    ctx = AppContext.build(settings)
    try:
        with ctx.db.write_session() as session:
            auth_service.create_user(
                session=session, username="bench", role=Role.DOCUMENTER, password="x" * 16
            )
            token, _ = auth_service.create_api_token(ctx=ctx, session=session, username="bench", days=1)
    finally:
        ctx.close()
    return env, token


def create_case(url: str, token: str) -> str:
    body = json.dumps({"title": "Benchmark", "country": "BY", "occurred_from": "2022-04-19"}).encode()
    request = urllib.request.Request(  # noqa: S310
        f"{url}/api/v1/cases",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310
        return str(json.loads(response.read())["id"])


def drop_blob(store: Path, hex_: str) -> None:
    """Remove a stored blob so the next run stores it anew (the benchmark owns this store)."""
    (store / "sha256" / hex_[:2] / hex_[2:4] / hex_).unlink(missing_ok=True)


def wrk(url: str, headers: dict[str, str], script: Path | None, connections: int, seconds: int) -> float:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert non2xx is None, out
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--no-small", action="store_true", help="skip the 10 KiB wrk runs")
    parser.add_argument("--small-seconds", type=int, default=5)
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    source = args.dir / f"source-{args.size_mib}m.bin"
    expected = make_source(source, args.size_mib)
    size = source.stat().st_size
    work = Path(tempfile.mkdtemp(dir=args.dir, prefix="run-"))
    print(
        f"load average at start: {os.getloadavg()}; {os.cpu_count()} CPUs; file {size / MiB:.0f} MiB",
        flush=True,
    )

    env, token = prepare_precedent(work / "precedent")
    store = work / "precedent" / "evidence"
    ref_store = work / "reference"
    auth = ["-H", f"Authorization: Bearer {token}"]
    ceiling = Variant("durable ceiling (read+sha256+write+fsync)")
    raw = Variant("Precedent raw PUT")
    multipart = Variant("Precedent multipart POST")
    reference = Variant("reference UploadFile (multipart)")

    with (
        uvicorn(["api.main:app_factory", "--factory"], env) as ours,
        uvicorn(["bench.reference_app:app"], {"BENCH_STORE": str(ref_store), "TMPDIR": str(work)}) as ref,
    ):
        case = create_case(ours.url, token)
        target = f"{ours.url}/api/v1/cases/{case}/evidence"
        curl = ["curl", "-s", "-S", "-H", "Expect:"]
        for run in range(args.runs):
            seconds = durable_ceiling(source, work)
            ceiling.runs.append(Run(seconds, 0, size, size, 0))
            raw.runs.append(
                measure(
                    ours,
                    [
                        *curl,
                        *auth,
                        "-T",
                        str(source),
                        "-H",
                        "Content-Type: application/octet-stream",
                        "-X",
                        "PUT",
                        target,
                    ],
                    expected,
                )
            )
            drop_blob(store, expected)
            multipart.runs.append(measure(ours, [*curl, *auth, "-F", f"file=@{source}", target], expected))
            drop_blob(store, expected)
            reference.runs.append(
                measure(ref, [*curl, "-F", f"file=@{source}", f"{ref.url}/upload"], expected)
            )
            drop_blob(ref_store, expected)
            print(f"run {run + 1}/{args.runs} done (load {os.getloadavg()[0]:.1f})", flush=True)

        gib = size / 1024**3
        ceiling_rate = size / MiB / ceiling.median("seconds")
        reference_rate = size / MiB / reference.median("seconds")
        print(
            f"\nLarge file: {size / MiB:.0f} MiB, median of {args.runs} runs, fast stack (uvloop + httptools)"
        )
        print(
            f"{'variant':44s} {'MiB/s':>7s} {'x ceiling':>9s} {'x UploadFile':>12s} {'CPU s/GiB':>9s} {'wchar/B':>8s} {'disk/B':>7s} {'RSS+ MiB':>8s}"
        )
        for variant in (ceiling, raw, multipart, reference):
            rate = size / MiB / variant.median("seconds")
            runs = ", ".join(f"{size / MiB / r.seconds:.0f}" for r in variant.runs)
            if variant is ceiling:
                print(f"{variant.name:44s} {rate:7.0f} {1:9.2f} {rate / reference_rate:12.2f}  (runs {runs})")
                continue
            print(
                f"{variant.name:44s} {rate:7.0f} {rate / ceiling_rate:9.2f} {rate / reference_rate:12.2f} "
                f"{variant.median('cpu') / gib:9.2f} {variant.median('wchar') / size:8.2f} "
                f"{variant.median('write_bytes') / size:7.2f} {variant.median('peak_rss_above_idle') / MiB:8.1f}  (runs {runs})"
            )

        if args.no_small or shutil.which("wrk") is None:
            print("\n(small-file runs skipped: --no-small, or wrk not installed)")
            return
        script = work / "put10k.lua"
        script.write_text(WRK_LUA)
        print(
            f"\nSmall files: 10 KiB, fsync on, a new file per request; wrk -t1, {args.small_seconds} s per cell"
        )
        wrk(f"{ref.url}/hello", {}, None, 4, 2)  # warm-up
        wrk(
            target,
            {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
            script,
            1,
            2,
        )
        for connections in (1, 4):
            hello = wrk(f"{ref.url}/hello", {}, None, connections, args.small_seconds)
            ours_rate = wrk(
                target,
                {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
                script,
                connections,
                args.small_seconds,
            )
            print(
                f"c={connections}: hello {hello:7.0f} req/s   raw PUT 10 KiB {ours_rate:6.0f} req/s   {ours_rate / hello:.2f}x hello"
            )
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
