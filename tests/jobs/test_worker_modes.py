"""`flask worker --no-fork` runs each job in its own process (no work-horse), each in a fresh
app context: a job that leaves its session broken does not break the next one. A worker
compiles the email templates before it forks work-horses, which then compile none."""

import pytest
from rq.registry import FailedJobRegistry

from campaign.extensions import db
from campaign.jobs import ForkWorker, InProcessWorker
from campaign.models import MailReceipt
from campaign.queue import get_queue, redis_connection
from tests.factories import make_user


def break_the_session() -> None:
    """A job that fails half-way through a transaction (a duplicate key) and never rolls back."""
    db.session.add(MailReceipt(key="twice", recipient="a@example.org"))
    db.session.add(MailReceipt(key="twice", recipient="a@example.org"))
    db.session.flush()


def in_process_worker() -> InProcessWorker:
    return InProcessWorker(
        [get_queue("high")], connection=redis_connection(), serializer=get_queue("high").serializer
    )


def test_the_in_process_worker_gives_each_job_a_fresh_session(app, outbox):
    from campaign.jobs.accounts import send_verification_email

    users = [make_user(f"w{i}@example.org", verified=False) for i in range(2)]
    queue = get_queue("high")
    queue.enqueue(send_verification_email, users[0].id, "r0")
    queue.enqueue(break_the_session)
    queue.enqueue(send_verification_email, users[1].id, "r1")
    worker = in_process_worker()
    worker.work(burst=True)
    db.session.commit()
    assert FailedJobRegistry(queue=queue).count == 1 and queue.count == 0
    sent = sorted(r.recipient for r in db.session.query(MailReceipt))
    assert sent == ["w0@example.org", "w1@example.org"]


@pytest.mark.parametrize("worker_class", [ForkWorker, InProcessWorker])
def test_a_stopped_worker_leaves_no_thread_listening_for_commands(app, worker_class):
    """RQ's own order (unsubscribe, then stop the thread) left the thread waiting a minute
    for a new subscription, and each stop waited a second for it."""
    queue = get_queue("high")
    for _ in range(3):  # RQ's order lost that race in about half of the stops here
        worker = worker_class([queue], connection=redis_connection(), serializer=queue.serializer)
        worker.work(burst=True, with_scheduler=False)
        assert worker.pubsub_thread is not None and not worker.pubsub_thread.is_alive()


def test_flask_worker_no_fork_takes_jobs(app, runner, outbox):
    from campaign.jobs.accounts import send_verification_email

    user = make_user("fork@example.org", verified=False)
    get_queue("high").enqueue(send_verification_email, user.id, "r")
    result = runner.invoke(args=["worker", "--burst", "--no-fork", "--no-scheduler", "--quiet", "high"])
    assert result.exit_code == 0, result.output
    db.session.commit()
    assert [r.recipient for r in db.session.query(MailReceipt)] == ["fork@example.org"]


def test_the_worker_imports_every_job_before_it_forks(app, runner, monkeypatch):
    """A work-horse finds its job's module loaded (RQ imports a job by its dotted name)."""
    from pathlib import Path

    import campaign.cli
    import campaign.jobs
    from campaign.jobs import import_every_job

    files = {p.stem for p in Path(campaign.jobs.__file__).parent.glob("*.py")} - {"__init__"}
    assert {"notify", "digests", "supports", "sweeper"} <= files
    assert sorted(import_every_job()) == sorted(f"campaign.jobs.{name}" for name in files)
    calls = []
    monkeypatch.setattr(campaign.cli, "import_every_job", lambda: calls.append("imported"))
    result = runner.invoke(args=["worker", "--burst", "--no-scheduler", "--quiet", "high"])
    assert result.exit_code == 0, result.output
    assert calls == ["imported"]


def test_the_email_templates_compiled_before_forking_are_all_a_batch_needs(app, monkeypatch, outbox):
    from flask import current_app

    from campaign.jobs.supports import send_owed_confirmations
    from campaign.mail import compile_mail_templates
    from campaign.services import supports as service
    from tests.factories import make_campaign

    emails = current_app.jinja_env.list_templates(filter_func=lambda name: name.startswith("email/"))
    assert "email/_layout.html" in emails and "email/confirm_support.txt" in emails
    current_app.extensions.pop("groundswell.mail_environments", None)  # as a new worker has it
    assert compile_mail_templates() == 2 * len(emails)  # English and Spanish
    # What a work-horse forked now would find: no template, layout or partial loaded again.
    loader = current_app.jinja_env.loader
    monkeypatch.setattr(loader, "get_source", lambda *args: (_ for _ in ()).throw(AssertionError(args)))
    petition = make_campaign()
    for n, locale in enumerate(("en", "es")):
        service.add_support(petition.id, name="Ana", email=f"a{n}@example.org", country="GB", locale=locale)
    assert send_owed_confirmations(10) == (2, 2)
    assert sorted(m["Subject"].split(":")[0] for m in outbox()) == [
        "Confirm your signature",
        "Confirma tu firma",
    ]
