"""``python -m bench.request_cpu_gevent``: :mod:`bench.request_cpu` in a process patched for
gevent, as the bench's gevent workers are, its requests sent 16 at a time (``--greenlets``).

    python -m bench.request_cpu_gevent --ceilings
    python -m bench.request_cpu_gevent --greenlets 1 --ceilings   # one at a time, under gevent
"""

from gevent import monkey

monkey.patch_all()  # before anything opens a socket or takes a lock

from bench import request_cpu  # noqa: E402 (after the patch)

if __name__ == "__main__":
    request_cpu.main(greenlets=16)
