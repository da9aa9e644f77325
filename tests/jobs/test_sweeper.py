"""The sweeper finishes what a lost job left undone, and only that: fan-out batches, pending
supports' confirmation emails, queued deliveries; RQ's own repair of a dead worker's jobs."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import redis
from sqlalchemy import select

from campaign.extensions import db
from campaign.jobs import notify
from campaign.jobs.sweeper import lost, sweep_job
from campaign.mail import Email, receipt_message_id, send_once
from campaign.models import CampaignKind, EmailFrequency, FanoutBatch, MailReceipt, Support
from campaign.queue import get_queue
from campaign.services import counting, proposals
from campaign.services import supports as service
from tests.factories import SupportFactory, every_other, make_campaign, make_user

pytestmark = pytest.mark.app_config(SWEEP_AFTER_SECONDS=0)


def lose_every_job(app) -> None:
    """What a Redis that lost its data looks like to the app."""
    redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()


@contextmanager
def redis_down(app):
    """Redis unreachable: every enqueue fails (and is logged) while the database goes on."""
    real = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app.extensions.pop("groundswell.redis", None)
    try:
        yield
    finally:
        app.config["REDIS_URL"] = real
        app.extensions.pop("groundswell.redis", None)


def test_a_fan_out_whose_batch_jobs_were_lost_is_finished_once(app, run_jobs, outbox, monkeypatch):
    monkeypatch.setattr("campaign.outbox.BATCH_SIZE", 2)
    organiser = make_user("organiser@example.org", email_frequency=EmailFrequency.IMMEDIATELY)
    petition = make_campaign(organiser=organiser, goal=10)
    # supporters 0, 2, 4, 6, 8 consented
    SupportFactory.create_batch(10, campaign=petition, consents_to_updates=every_other())
    lose_every_job(app)
    [goal_id] = counting.fold_counts().milestone_ids
    with redis_down(app):
        notify.notify_milestone(goal_id)  # organiser told; batches recorded, their jobs lost
    batches = db.session.execute(select(FanoutBatch).filter_by(topic="goal")).scalars().all()
    assert [(b.first_id < b.last_id, b.done_at) for b in batches] == [(True, None)] * 2 + [(False, None)]
    assert sweep_job() == 4  # the three batches and the delivery at the goal, nothing else
    assert sweep_job() == 0  # queued now: not enqueued twice
    run_jobs()
    # The goal's notice (the delivery at the goal tells them too, in a notice of its own).
    to_supporters = sorted(
        m["To"] for m in outbox() if m["To"].startswith("s") and m["Subject"].startswith("We reached")
    )
    assert to_supporters == [f"s{i}@example.org" for i in (0, 2, 4, 6, 8)]
    delivered = sorted(m["To"] for m in outbox() if m["Subject"].startswith("Delivered to"))
    assert delivered == to_supporters
    db.session.commit()
    assert all(b.done_at is not None for b in db.session.execute(select(FanoutBatch)).scalars())
    # The fan-out is decided once: the notice again adds no batch and sends nothing.
    before = len(outbox())
    notify.notify_milestone(goal_id)
    run_jobs()
    assert len(outbox()) == before
    assert db.session.query(FanoutBatch).filter_by(topic="goal").count() == 3
    assert sweep_job() == 0


def test_a_confirmation_email_whose_job_was_lost_is_sent_once(app, run_jobs, outbox):
    petition = make_campaign()
    result = service.add_support(petition.id, name="Ada", email="ada@example.org", country="GB")
    lose_every_job(app)
    assert sweep_job() == 1
    run_jobs()
    [message] = outbox()
    assert message["To"] == "ada@example.org" and "Confirm your" in message["Subject"]
    assert sweep_job() == 0  # its receipt is there
    # Confirmed (or withdrawn) supports are never chased.
    other = service.add_support(petition.id, name="Bo", email="bo@example.org", country="GB")
    service.withdraw(other.support_id)
    lose_every_job(app)
    assert sweep_job() == 0
    assert db.session.get(Support, result.support_id).confirmation_sends == 1


@pytest.mark.app_config(SWEEP_AFTER_SECONDS=300)
def test_work_asked_for_recently_is_left_to_its_job(app, run_jobs):
    petition = make_campaign()
    service.add_support(petition.id, name="Ada", email="ada@example.org", country="GB")
    lose_every_job(app)
    assert sweep_job() == 0


def test_only_jobs_rq_no_longer_holds_count_as_lost(app):
    assert lost("no-such-job")
    queue = get_queue("default")
    job = queue.enqueue("campaign.jobs.sweeper.sweep_job", job_id="held-job")
    assert not lost("held-job")
    # What a Redis crash can leave: the job's hash says queued, no queue holds its id.
    queue.remove(job.id)
    assert lost("held-job")
    queue.push_job_id(job.id)
    assert not lost("held-job")
    job.set_status("finished")
    assert lost("held-job")


def test_the_sweeper_repairs_a_job_whose_worker_died(app):
    """A job left "started" by a worker killed mid-job: once its heartbeat is overdue RQ's
    registry repair, which the sweeper runs, retries it (it has retries left)."""
    from rq import Retry
    from rq.job import JobStatus

    queue = get_queue("default")
    job = queue.enqueue(
        "campaign.jobs.lifecycle.close_due_campaigns_job", job_id="orphan", retry=Retry(max=2)
    )
    # What a worker does when it takes the job, then dies: no heartbeat ever again.
    conn = queue.connection
    queue.remove(job.id)
    job.set_status(JobStatus.STARTED)
    with conn.pipeline() as pipe:
        pipe.zadd(queue.started_job_registry.key, {f"{job.id}:dead-execution": 1})
        pipe.execute()
    assert not lost("orphan")
    sweep_job()
    job.refresh()
    assert job.get_status() in (JobStatus.QUEUED, JobStatus.SCHEDULED)
    assert job.retries_left == 1


def test_a_resent_email_keeps_its_message_id(app):
    email = Email(to="ada@example.org", subject="Hello", text="Hi", html="<p>Hi</p>")
    assert send_once("test:1", email) is True
    assert send_once("test:1", email) is False
    assert email.message_id == receipt_message_id("test:1") != receipt_message_id("test:2")
    assert email.message_id.startswith("<") and email.message_id.endswith("@groundswell.localhost>")
    assert db.session.query(MailReceipt).count() == 1


def test_a_coauthor_invitation_whose_job_was_lost_is_sent_once(app, run_jobs, outbox):
    organiser, invitee = make_user("organiser@example.org"), make_user("invitee@example.org")
    proposal = make_campaign(CampaignKind.PROPOSAL, organiser=organiser)
    with redis_down(app):  # the invitation is stored; its email's job is lost
        invitation_id = proposals.invite_coauthor(proposal.id, organiser.id, invitee.email)
    assert invitation_id is not None and run_jobs() == 0
    assert sweep_job() == 1 and sweep_job() == 0  # queued now: not enqueued twice
    run_jobs()
    assert [m["To"] for m in outbox()] == [invitee.email]
    lose_every_job(app)
    assert sweep_job() == 0  # it has its receipt: nothing is owed
    proposals.accept_coauthorship(invitation_id, invitee.id)
    assert sweep_job() == 0
