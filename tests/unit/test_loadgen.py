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
