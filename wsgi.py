"""WSGI entry point: ``gunicorn wsgi:app``.

Python's cyclic garbage collector now and then scans every object a process holds. A web
process holds about 200,000 that live as long as it does (modules, mappers, templates,
compiled statements, caches); a full scan of them took 130 ms of CPU every few hundred
requests, the slowest search pages of the bench. Once the app is built, and again once its
first requests have compiled what pages use, those objects are moved out of the collector's
sight (``gc.freeze``): a scan then sees only what requests leave behind.
"""

import gc
import itertools

from sqlalchemy.orm import configure_mappers

from campaign import create_app

#: Requests after which a process freezes again what its first requests built.
FREEZE_AFTER_REQUESTS = 200

app = create_app()
configure_mappers()
gc.collect()
gc.freeze()

_served = itertools.count(1)  # its next() is atomic: threaded workers count each request once


@app.teardown_request
def _freeze_once_warm(_exc) -> None:
    if next(_served) == FREEZE_AFTER_REQUESTS:
        gc.collect()
        gc.freeze()
