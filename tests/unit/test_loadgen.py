"""The bench's load generator sends exactly the requests it was given, each once."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import loadgen


class _Recorder(BaseHTTPRequestHandler):
    seen: Counter

    def do_GET(self):  # noqa: N802 - the name http.server calls
        self.server.seen[self.path] += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("threads", [1, 2])
def test_every_prepared_request_is_sent_once(tmp_path, threads):
    """wrk calls request() once to check a script and never sends that request: the first
    prepared line must not be used up by that call. Once the lines are used up, wrk reports
    at once instead of sleeping out its -d."""
    loadgen.wrk_path()  # fails with a clear message when wrk is missing
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = Counter()
    # Polled often, so that shutdown() below returns at once (the default waits up to 0.5 s).
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        paths = [f"/r/{i}" for i in range(9)]
        requests_file = tmp_path / "requests.tsv"
        loadgen.write_requests(requests_file, (("GET", p, "", {}) for p in paths))
        load = loadgen.run(
            f"http://127.0.0.1:{server.server_port}/",
            seconds=30,
            connections=threads,
            threads=threads,
            requests_file=requests_file,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert load.answered == len(paths)
    assert load.ran_seconds < 30
    assert dict(server.seen) == {p: 1 for p in paths}


def _load(seconds, good, errors, p99, web):
    return loadgen.Load(
        connections=8,
        seconds=seconds,
        statuses={303: good, 500: errors},
        socket_errors={"timeout": 1},
        latency_ms={"p50": p99 / 4, "p90": p99 / 2, "p99": p99, "max": p99 * 2},
        expected=(303,),
        extra={"cores_used": {"web": web}, "load_average": 1.0 + web},
        ran_seconds=seconds,
    )


def test_runs_combined_read_as_one_load():
    """Alternated runs of one side are one figure: answers and seconds summed (so the rate is
    the whole's), each percentile the worse run's, the CPU weighted by each run's seconds."""
    first, second = _load(10.0, 1_000, 2, 40.0, 1.0), _load(5.0, 800, 0, 25.0, 1.6)
    whole = loadgen.combined([first, second])
    assert whole.good == 1_800 and whole.errors == 2 + 2
    assert whole.seconds == 15.0 and whole.rate == 120.0
    assert whole.latency_ms == {"p50": 10.0, "p90": 20.0, "p99": 40.0, "max": 80.0}
    assert whole.extra["cores_used"] == {"web": 1.2}
    assert whole.extra["load_average"] == 2.6
    assert [s["good"] for s in whole.summary()["segments"]] == [1_000, 800]
    with pytest.raises(ValueError):
        loadgen.combined([])
