"""Fault injection against the production shape: ``make chaos`` (the full run) and, at a small
size, part of ``make test``.

:mod:`tests.system.chaos.run` starts PostgreSQL, Redis (AOF, ``everysec``), an SMTP sink, gunicorn,
several RQ workers and the clock (the bench's :class:`bench.stack.Stack`), drives supports,
confirmations, milestone notices and deliveries, and meanwhile kills workers mid-job, restarts
and kills Redis, restarts PostgreSQL and holds a lock on the hot campaign. After recovery it
checks that nothing was lost, duplicated or left undone, and prints its figures.
"""
