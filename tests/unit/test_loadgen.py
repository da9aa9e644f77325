"""The bench's load generator sends exactly the requests it was given, each once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import loadgen


class _Recorder(BaseHTTPRequestHandler):
    seen: Counter
    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn answers wrk

    def do_GET(self):  # noqa: N802 - the name http.server calls
        time.sleep(self.server.delay)
        self.server.seen[self.path] += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(
    ("threads", "connections", "delay", "count"), [(1, 1, 0, 9), (2, 2, 0, 9), (1, 8, 0.02, 40)]
)
def test_every_prepared_request_is_sent_once(tmp_path, threads, connections, delay, count):
    """wrk calls request() once to check a script and never sends that request: the first
    prepared line must not be used up by that call. Once the lines are used up, wrk reports
    at once instead of sleeping out its -d; and the answers still on their way on a
    thread's other connections are waited for and counted (over eight connections of slow
    answers, the first to find the lines used up used to stop its thread with up to seven
    requests sent and their answers never counted)."""
    loadgen.wrk_path()  # fails with a clear message when wrk is missing
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = Counter()
    server.delay = delay
    # Polled often, so that shutdown() below returns at once (the default waits up to 0.5 s).
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        paths = [f"/r/{i}" for i in range(count)]
        requests_file = tmp_path / "requests.tsv"
        loadgen.write_requests(requests_file, (("GET", p, "", {}) for p in paths))
        load = loadgen.run(
            f"http://127.0.0.1:{server.server_port}/",
            seconds=30,
            connections=connections,
            threads=threads,
            requests_file=requests_file,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert load.answered == len(paths)
    assert load.ran_seconds < 30
    assert dict(server.seen) == {p: 1 for p in paths}


def _load(seconds, good, errors, p99, web, p50=None):
    p50 = p99 / 4 if p50 is None else p50
    return loadgen.Load(
        connections=8,
        seconds=seconds,
        statuses={303: good, 500: errors},
        socket_errors={"timeout": 1},
        latency_ms={"min": 1.0, "p50": p50, "p90": p99 / 2, "p99": p99, "p999": p99 * 1.5, "max": p99 * 2},
        expected=(303,),
        extra={"cores_used": {"web": web}, "load_average": 1.0 + web},
        ran_seconds=seconds,
    )


def test_runs_combined_read_as_one_load():
    """Alternated runs of one side are one figure: answers and seconds summed (so the rate is
    the whole's), the CPU weighted by each run's seconds, the runs' own figures kept."""
    first, second = _load(10.0, 1_000, 2, 40.0, 1.0), _load(5.0, 800, 0, 40.0, 1.6)
    whole = loadgen.combined([first, second])
    assert whole.good == 1_800 and whole.errors == 2 + 2
    assert whole.seconds == 15.0 and whole.rate == 120.0
    assert whole.extra["cores_used"] == {"web": 1.2}
    assert whole.extra["load_average"] == 2.6
    assert [s["good"] for s in whole.summary()["segments"]] == [1_000, 800]
    with pytest.raises(ValueError):
        loadgen.combined([])


def test_percentiles_of_runs_combined_are_those_of_all_their_answers():
    """Runs that agree give their own percentiles; a slow run and a fast one of as many
    answers give, at each percentile, where half of each run's answers sit below it."""
    same = loadgen.combined([_load(10.0, 1_000, 0, 40.0, 1.0), _load(10.0, 1_000, 0, 40.0, 1.0)])
    assert same.latency_ms == {"min": 1.0, "p50": 10.0, "p90": 20.0, "p99": 40.0, "p999": 60.0, "max": 80.0}
    fast, slow = _load(10.0, 1_000, 0, 20.0, 1.0, p50=5.0), _load(10.0, 1_000, 0, 120.0, 1.0, p50=5.0)
    whole = loadgen.combined([fast, slow])
    assert whole.latency_ms["p50"] == pytest.approx(5.0, abs=0.01)  # both runs' medians
    assert whole.latency_ms["max"] == 240.0 and whole.latency_ms["min"] == 1.0
    # The p99 of all: where 99 % of the two runs' answers together fall within it (the fast
    # run has nearly all of its within, the slow run about 98 %).
    p99 = whole.latency_ms["p99"]
    assert fast.latency_ms["p99"] < p99 < slow.latency_ms["p99"]
    share_slow = loadgen._share_within(slow.latency_ms, p99)
    share_fast = loadgen._share_within(fast.latency_ms, p99)
    assert (share_slow + share_fast) / 2 == pytest.approx(0.99, abs=1e-4)
