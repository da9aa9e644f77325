"""Load from a separate process: wrk over loopback, bounded in count (a file of prepared
requests, shared out among wrk's threads) and in time (``-d``).

wrk is a small C program with an event loop: on two cores it drives thousands of requests a
second for a few percent of one core, where a Python load generator would take most of a core
away from the server it measures. ``bench/lua/replay.lua`` replays the prepared requests,
counts the answers by status and prints its summary as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).parent / "lua" / "replay.lua"


class LoadError(RuntimeError):
    pass


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise LoadError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    return path


def wrk_version() -> str:
    result = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True)
    return (result.stdout + result.stderr).splitlines()[0].strip()


@dataclass
class Load:
    """What one wrk run measured."""

    connections: int
    seconds: float  # from the first request sent to the last answer received
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    latency_ms: dict[str, float]
    expected: tuple[int, ...] = (200,)
    extra: dict = field(default_factory=dict)
    ran_seconds: float = 0.0  # wrk's own run: until -d ended, or every thread used up its share

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def good(self) -> int:
        return sum(n for code, n in self.statuses.items() if code in self.expected)

    @property
    def errors(self) -> int:
        """Answers with an unexpected status, plus connect, read, write errors and timeouts."""
        return self.answered - self.good + sum(self.socket_errors.values())

    @property
    def rate(self) -> float:
        return self.good / self.seconds if self.seconds else 0.0

    def summary(self) -> dict:
        return {
            "per_s": round(self.rate, 1),
            "good": self.good,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "socket_errors": self.socket_errors,
            "p50_ms": self.latency_ms["p50"],
            "p90_ms": self.latency_ms["p90"],
            "p99_ms": self.latency_ms["p99"],
            "max_ms": self.latency_ms["max"],
            "seconds": round(self.seconds, 2),
            "connections": self.connections,
            **self.extra,
        }


def write_requests(path: Path, requests: Iterable[tuple[str, str, str, dict[str, str]]]) -> int:
    """Write (method, path, body, headers) rows for ``replay.lua``; returns how many."""
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for method, target, body, headers in requests:
            fields = [method, target, body, *(f"{k}: {v}" for k, v in headers.items())]
            line = "\t".join(fields)
            if "\n" in line or line.count("\t") != len(fields) - 1:
                raise LoadError(f"a request field holds a tab or newline: {fields!r}")
            fh.write(line + "\n")
            n += 1
    return n


def run(
    url: str,
    *,
    seconds: float,
    connections: int,
    requests_file: Path | None = None,
    threads: int = 1,
    expected: tuple[int, ...] = (200,),
    timeout_s: int = 10,
    script: Path = SCRIPT,
) -> Load:
    """Run wrk against ``url`` for at most ``seconds`` (fewer if the prepared requests run out).

    ``script`` is another wrk script that builds on ``replay.lua`` (it must print its summary
    line the same way): the chaos suite's logs the time and status of every answer."""
    threads = max(1, min(threads, connections))
    stopped = tempfile.NamedTemporaryFile(prefix="wrk-stopped-", delete=False)  # noqa: SIM115
    stopped.close()
    env = {
        **os.environ,
        "BENCH_THREADS": str(threads),
        "BENCH_REQUESTS": str(requests_file) if requests_file else "",
        # Where the threads mark that they used up their share: the last wakes wrk early.
        "BENCH_STOPPED": stopped.name,
    }
    args = [
        wrk_path(),
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        f"{timeout_s}s",
        "-s",
        str(script),
        url,
    ]
    try:
        result = subprocess.run(
            args, capture_output=True, text=True, env=env, timeout=seconds + timeout_s + 30
        )
    finally:
        os.unlink(stopped.name)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH-JSON ")), None)
    if result.returncode != 0 or line is None:
        raise LoadError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    data = json.loads(line[len("BENCH-JSON ") :])
    window = data["window_us"] / 1e6 or data["duration_us"] / 1e6
    latency = {k: round(v / 1000, 2) for k, v in data["latency_us"].items()}
    return Load(
        connections=connections,
        seconds=window,
        statuses={int(k): v for k, v in data["statuses"].items()},
        socket_errors={k: v for k, v in data["errors"].items() if k != "status"},
        latency_ms=latency,
        expected=expected,
        ran_seconds=data["duration_us"] / 1e6,
    )


# The percentiles wrk gives, as the fraction of answers at or under each.
_QUANTILES = {"min": 0.0, "p50": 0.5, "p90": 0.9, "p99": 0.99, "p999": 0.999, "max": 1.0}


def _share_within(latency: dict[str, float], ms: float) -> float:
    """The fraction of a run's answers that took at most ``ms``, read off its percentiles
    (linear between two of them)."""
    points = sorted((latency[key], q) for key, q in _QUANTILES.items() if key in latency)
    if ms <= points[0][0]:
        return points[0][1] if ms == points[0][0] else 0.0
    for (low, q_low), (high, q_high) in zip(points, points[1:], strict=False):
        if ms <= high:
            return q_high if high == low else q_low + (q_high - q_low) * (ms - low) / (high - low)
    return 1.0


def _percentile_of_all(loads: list[Load], q: float) -> float:
    """The latency under which ``q`` of all the runs' answers fell, each run's answers
    spread as its own percentiles say (exact when the runs' percentiles agree; otherwise
    between the runs' own, and where the mixture of their spreads puts it)."""
    answered = sum(load.answered for load in loads) or 1
    low = min(load.latency_ms.get("min", load.latency_ms["p50"]) for load in loads)
    high = max(load.latency_ms["max"] for load in loads)
    for _ in range(60):
        middle = (low + high) / 2
        share = sum(load.answered * _share_within(load.latency_ms, middle) for load in loads) / answered
        low, high = (middle, high) if share < q else (low, middle)
    return round(high, 2)


def combined(loads: list[Load]) -> Load:
    """Several runs of one load read as one: their answers and seconds summed, so the rate is
    the whole's; their percentiles those of all their answers (:func:`_percentile_of_all`:
    wrk gives each run's percentiles, not its answers); the CPU each group used weighted by
    the runs' seconds. The runs' own summaries are kept under ``segments``."""
    if not loads:
        raise ValueError("no load to combine")
    statuses: Counter[int] = Counter()
    socket_errors: Counter[str] = Counter()
    cores: Counter[str] = Counter()
    for load in loads:
        statuses.update(load.statuses)
        socket_errors.update(load.socket_errors)
        for group, used in load.extra.get("cores_used", {}).items():
            cores[group] += used * load.seconds
    seconds = sum(load.seconds for load in loads)
    extra = {
        "segments": [load.summary() for load in loads],
        "load_average": max((load.extra.get("load_average", 0.0) for load in loads), default=0.0),
    }
    if cores:
        extra["cores_used"] = {group: round(total / seconds, 2) for group, total in cores.items()}
    latency = {}
    for key in loads[0].latency_ms:
        if key == "min":
            latency[key] = min(load.latency_ms[key] for load in loads)
        elif key == "max":
            latency[key] = max(load.latency_ms[key] for load in loads)
        elif key == "mean":
            answered = sum(load.answered for load in loads) or 1
            latency[key] = round(sum(load.latency_ms[key] * load.answered for load in loads) / answered, 2)
        else:
            latency[key] = _percentile_of_all(loads, _QUANTILES[key])
    return Load(
        connections=loads[0].connections,
        seconds=seconds,
        statuses=dict(statuses),
        socket_errors=dict(socket_errors),
        latency_ms=latency,
        expected=loads[0].expected,
        extra=extra,
        ran_seconds=sum(load.ran_seconds for load in loads),
    )
