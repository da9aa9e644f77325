"""Groundswell's benchmark suite: ``python -m bench`` (``make bench``).

It starts the production shape on this machine (PostgreSQL, Redis, an SMTP sink, gunicorn,
RQ workers and the clock), seeds data in bulk, drives load from a separate process (wrk, over
loopback, bounded in count and time) and runs each scenario twice: against the app and against
a bare ceiling (:mod:`bench.bare`) doing the same I/O with nothing else. Results are printed as
a table and written to ``bench/results/latest.json``. ``--smoke`` is a run of a few seconds per
scenario that the test suite runs so the harness cannot rot.
"""
