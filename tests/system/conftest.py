"""The system lane runs in two processes (``make test``); its runs mostly wait (on RQ noticing a
killed worker, on a load's seconds), so two share the cores. pytest-xdist's worksteal hands
each process a contiguous half of the tests, so the order below puts the long runs in
different halves: each half ends up about as long as the other, longest first."""

from __future__ import annotations

import pytest

#: About how long each long run takes on a quiet 2-core machine, in seconds; any other test: 1.
SECONDS = {
    "test_faults_lose_duplicate_and_leave_undone_nothing": 110,  # the small chaos run
    "test_smoke_run_reports_every_scenario": 70,  # the bench's smoke run
    "test_the_cluster_heals_every_failure_and_loses_nothing": 40,  # the small cluster run
    "test_sigterm_stops_every_child_and_sigkill_leaves_no_orphans": 20,  # make run's launcher
}


@pytest.hookimpl(trylast=True)  # after ``-m`` has deselected and the lanes are marked
def pytest_collection_modifyitems(config, items):
    if not all(item.get_closest_marker("system") for item in items):
        return  # a lane of its own only: mixed with other tests, keep pytest's order
    halves: tuple[list, list] = ([], [])
    loads = [0, 0]
    for item in sorted(items, key=lambda i: -SECONDS.get(i.originalname, 1)):
        lighter = loads.index(min(loads))
        halves[lighter].append(item)
        loads[lighter] += SECONDS.get(item.originalname, 1)
    # Equal counts, so that worksteal's halves are these halves: pad the shorter with the
    # longer's short tests (each a second or so).
    longer, shorter = sorted(halves, key=len, reverse=True)
    while len(longer) - len(shorter) > 1:
        shorter.append(longer.pop())
    items[:] = halves[0] + halves[1]
