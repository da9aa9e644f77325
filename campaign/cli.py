"""Flask CLI commands: ``flask worker`` and ``flask seed-demo``."""

from __future__ import annotations

import click
from flask import Flask, current_app

DEMO_PASSWORD = "groundswell-demo"


def register_cli(app: Flask) -> None:
    app.cli.add_command(worker)
    app.cli.add_command(seed_demo)
    app.cli.add_command(clock)


@click.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--scheduler/--no-scheduler", default=True,
              help="Also run the scheduler that releases retries and scheduled jobs.")
@click.option("--quiet", is_flag=True, help="Log warnings and errors only, not every job.")
def worker(queues: tuple[str, ...], burst: bool, scheduler: bool, quiet: bool) -> None:
    """Run an RQ worker on QUEUES (default: high, default, bulk), inside the app context."""
    from rq import Worker
    from rq.serializers import JSONSerializer

    # Mappers are configured once here, so forked work-horses don't each pay for it.
    from sqlalchemy.orm import configure_mappers

    from campaign.queue import get_queue, redis_connection

    configure_mappers()
    names = queues or current_app.config["RQ_QUEUES"]
    w = Worker([get_queue(name) for name in names], connection=redis_connection(),
               serializer=JSONSerializer)
    w.work(burst=burst, with_scheduler=scheduler, logging_level="WARNING" if quiet else "INFO")


@click.command("clock")
def clock() -> None:
    """Enqueue the periodic jobs (counting, closing, sweeping, the nightly recount)."""
    import logging

    from campaign.clock import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s clock: %(message)s")
    try:
        run_forever()
    except KeyboardInterrupt:
        pass


@click.command("seed-demo")
def seed_demo() -> None:
    """Create demo brands, people and open campaigns of every kind, once; print the logins."""
    from campaign.demo import seed

    created = seed()
    click.echo("Demo data created." if created else "Demo data already present.")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    from campaign.demo import DEMO_PEOPLE

    for email, _name, role in DEMO_PEOPLE:
        click.echo(f"  {email:36} {role}")
