"""Flask CLI commands: worker, clock, anonymise, seed-demo and signing-key."""

from __future__ import annotations

import logging
import time

import click
from flask import Flask, current_app
from redis.exceptions import RedisError
from rq.serializers import JSONSerializer
from sqlalchemy.orm import configure_mappers

from campaign.clock import run_forever
from campaign.jobs import ForkWorker, InProcessWorker, import_every_job
from campaign.mail import compile_mail_templates
from campaign.queue import get_queue, redis_connection
from campaign.services.privacy import anonymise_ended_campaigns
from campaign.signing import new_private_key_pem


def register_cli(app: Flask) -> None:
    app.cli.add_command(worker)
    app.cli.add_command(seed_demo)
    app.cli.add_command(clock)
    app.cli.add_command(signing_key)
    app.cli.add_command(anonymise)


@click.command("signing-key")
def signing_key() -> None:
    """Print a new Ed25519 private key (PEM) for SIGNING_KEY. To rotate: set it and restart
    every process; the old key stays published with the period it was in use."""
    click.echo(new_private_key_pem(), nl=False)


@click.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    help="Also run the scheduler that releases retries and scheduled jobs.",
)
@click.option("--quiet", is_flag=True, help="Log warnings and errors only, not every job.")
@click.option(
    "--fork/--no-fork",
    default=True,
    help="Run each job in a forked work-horse (the default), or in this process, "
    "its connections kept: for many small jobs (mail, folds) on `high`.",
)
def worker(queues: tuple[str, ...], burst: bool, scheduler: bool, quiet: bool, fork: bool) -> None:
    """Run an RQ worker on QUEUES (default: high, default, bulk), inside the app context."""
    # Mappers are configured, the jobs imported and the email templates compiled once here,
    # so forked work-horses don't each pay for it (an in-process worker would at its first).
    configure_mappers()
    import_every_job()
    compile_mail_templates()
    names = queues or current_app.config["RQ_QUEUES"]
    conn = redis_connection()
    while True:
        # A dead worker's job is noticed when its heartbeat (every job_monitoring_interval) has
        # been missing for RQ's 60 s margin; RQ's registry repair runs every minute, not ten.
        worker_class = ForkWorker if fork else InProcessWorker
        w = worker_class(
            [get_queue(name) for name in names],
            connection=conn,
            serializer=JSONSerializer,
            job_monitoring_interval=10,
            maintenance_interval=60,
        )
        try:
            w.work(burst=burst, with_scheduler=scheduler, logging_level="WARNING" if quiet else "INFO")
        except RedisError as exc:  # raised by RQ's teardown when Redis went away mid-job
            click.echo(f"worker: lost Redis ({exc})", err=True)
        # RQ's worker quits when Redis goes away under a job; a restart of Redis must not stop
        # the workers, so this one waits for Redis and starts again, until it is told to stop
        # (RQ's own signal handler sets the flag).
        if burst or _told_to_stop(w):
            return
        click.echo("worker: starting again once Redis answers", err=True)
        while not _told_to_stop(w):
            try:
                conn.ping()
                break
            except RedisError:
                time.sleep(0.5)
        else:
            return
        time.sleep(0.5)


def _told_to_stop(w) -> bool:
    # RQ's signal handler marks a busy worker with _stop_requested; an idle one it stops at
    # once and only dates the request: either way it was told to stop, Redis did not go away.
    return bool(getattr(w, "_stop_requested", False) or getattr(w, "_shutdown_requested_date", None))


@click.command("clock")
def clock() -> None:
    """Enqueue the periodic jobs (counting, closing, sweeping, the nightly recount)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s clock: %(message)s")
    try:
        run_forever()
    except KeyboardInterrupt:
        pass


@click.command("anonymise")
def anonymise() -> None:
    """Anonymise now the supporters of campaigns that ended ANONYMISE_AFTER_DAYS ago (the
    clock does it every night at 04:00 UTC)."""
    done = anonymise_ended_campaigns()
    click.echo(
        f"Anonymised the supporters of {len(done)} campaign(s)"
        + (f": {', '.join(map(str, done))}." if done else ".")
    )


@click.command("seed-demo")
def seed_demo() -> None:
    """Create demo brands, people and open campaigns of every kind, once; print the logins."""
    # The demo data and its pictures load only for this command, not with every app.
    from campaign.demo import DEMO_PASSWORD, DEMO_PEOPLE, seed

    created = seed()
    click.echo("Demo data created." if created else "Demo data already present.")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for email, _name, role in DEMO_PEOPLE:
        click.echo(f"  {email:36} {role}")
