"""The emails that confirm pending supports: sent in batches by the dispatcher.

A signature records the email it is owed in a row of ``confirmations_owed`` (written by the
statement that stores it; :class:`campaign.models.ConfirmationOwed`) and, after its commit,
raises the "mail is
waiting" counter in Redis and asks for a dispatcher unless a request stands (one asked
for within ``CONFIRMATION_DISPATCH_SECONDS``, or the running dispatcher's:
:func:`campaign.services.abuse.record_signature`). The
dispatcher claims up to ``CONFIRMATION_BATCH`` owed emails in one statement, renders them
(each language's words resolved once, the templates compiled once, each campaign's email
rendered once per language with blanks and filled in per reader), sends them over one
SMTP connection and records their receipts and sent marks in one transaction; it goes on
while emails keep being owed. While it runs it holds the standing request (renewed at each
look), so signatures ask for no other: one dispatcher runs at a time, however long the
surge, and the other workers stay free for folds and notices. It stops once nothing was
owed for ``CONFIRMATION_DISPATCH_SECONDS`` (letting go of its request in the same step as
its last look at the counter), or when it finds another's request standing (asked once its
own had lapsed, and started since: a dispatcher takes the request over as it starts). Once it
has run ``CONFIRMATION_DISPATCHER_SECONDS`` (60), it hands the run over to a new dispatcher
after its next batch, within RQ's job timeout however long the surge (an idle one just stops).

Exactly once: on PostgreSQL a claim is one ``SELECT … FOR UPDATE OF confirmations_owed SKIP
LOCKED``, whose row locks hold the batch in the transaction that then records its receipts
and deletes its rows of ``confirmations_owed`` (nothing written to claim it, and nothing
written to ``supports`` at all: clearing a mark there wrote a new version of each support,
with an entry in every one of its indexes); on SQLite, whose one writer must not wait on a
batch's sending, it is one ``UPDATE … RETURNING`` of the claim's time, committed. Either
way two dispatchers never hold the same email, and a dispatcher run twice finds the emails
sent (their rows gone, their receipts there) and sends nothing. **The resend
window**: the receipts of a batch are committed after its last message left, so a worker
killed mid-batch leaves that batch's emails unmarked; another dispatcher sends them again
(on PostgreSQL at once, the dead worker's transaction and its locks gone; on SQLite once
the claim is older than ``CONFIRMATION_CLAIM_SECONDS``, 120) — at most one batch's messages
already sent (up to ``CONFIRMATION_BATCH``, 200), each with the same Message-ID as before
(derived from its receipt key), so mail systems that deduplicate show it once. A per-email
job had a window of one message; the batch trades it for one connection, one claim and one
commit per batch.
If Redis loses the dispatcher, the sweeper finds the owed rows and asks for another.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from types import SimpleNamespace

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from redis.exceptions import RedisError
from sqlalchemy import String, TextClause, bindparam, cast, literal, literal_column, or_, select, text, update

from campaign import outbox
from campaign.dbutil import id_among
from campaign.extensions import db
from campaign.i18n import language_of, writing_to
from campaign.jobs import app_job
from campaign.mail import (
    Email,
    batch_context,
    compiled_templates,
    one_connection,
    receipt_message_id,
    render_email,
    send_each,
    send_once,
)
from campaign.models import Campaign, ConfirmationOwed, MailReceipt, Support, User, utcnow
from campaign.models.base import UTCDateTime
from campaign.queue import run_script
from campaign.services.abuse import confirmation_email_allowed, confirmation_emails_allowed
from campaign.services.supports import support_token
from campaign.sharing import share_kit
from campaign.stencils import (
    PROBE_ID,
    PROBE_NAME,
    PROBE_URL,
    Blanks,
    Stencil,
    proven,
    refused,
    share_kit_with_blanks,
    support_stand_in,
    support_values,
)
from campaign.urls import external_url, external_url_maker

#: How long an idle dispatcher waits between looks (at Redis's counter, not the database)
#: while the request that started it stands.
IDLE_POLL_SECONDS = 0.05
#: The longest a dispatcher lets the next batch gather (a fifth of
#: ``CONFIRMATION_DISPATCH_SECONDS``, so none in the tests).
GATHER_SECONDS = 0.2

#: A dispatcher's look, in one step: its hold on the standing request taken or renewed, and
#: the "mail is waiting" counter read. KEYS[1] the standing request, KEYS[2] the counter;
#: ARGV[1] its token, ARGV[2] how long a request stands (ms), ARGV[3] 1 at its first look.
#: At its first look, or with its own request standing or none, it holds the request for
#: that long again (signatures meanwhile ask for no other dispatcher). Another's standing
#: later (asked once this one's had lapsed, during a long batch say): it holds nothing and
#: stops; that one, started after those signatures committed, has taken over. Returns
#: {held (0/1), counter}.
LOOK_SCRIPT = """
local standing = redis.call('GET', KEYS[1])
local held = 0
if ARGV[3] == '1' or (not standing) or standing == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  held = 1
end
return {held, redis.call('GET', KEYS[2]) or '0'}
"""

#: A dispatcher that has run ``CONFIRMATION_DISPATCHER_SECONDS`` hands over, in one step:
#: KEYS[1] the standing request; ARGV[1] its token, ARGV[2] its successor's, ARGV[3] how long
#: a request stands (ms). Its own request standing, or none: the successor's set (1; the
#: caller enqueues it). Another's standing: nothing (0), that one takes over.
HANDOVER_SCRIPT = """
local standing = redis.call('GET', KEYS[1])
if standing and standing ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""

#: Whether a dispatcher may stop (1) or must look again (0), in one step with what it saw:
#: KEYS[1] the standing request, KEYS[2] the "mail is waiting" counter; ARGV[1] its token,
#: ARGV[2] the counter it read before its last (empty) claim. Another's request standing:
#: stop, that one takes over. Otherwise stop only if nothing was marked since that look
#: (every mark comes after its commit, so that claim saw it), letting go of its own request
#: in the same step, so that the next signature asks for a new dispatcher.
FINISH_SCRIPT = """
local standing = redis.call('GET', KEYS[1])
if standing and standing ~= ARGV[1] then return 1 end
if (redis.call('GET', KEYS[2]) or '0') == ARGV[2] then
  if standing then redis.call('DEL', KEYS[1]) end
  return 1
end
return 0
"""


@app_job
def dispatch_confirmations(token: str) -> int:
    """Send the owed confirmation emails in batches until none is owed; returns how many
    it sent. ``token``: the request that asked for it (see the module's docstring). One SMTP
    connection serves the whole run.

    Raises (for RQ to retry) when the mail server fails; the batch's emails sent before
    the failure are marked sent, the others released for the next dispatcher.
    """
    return one_connection(_dispatch)(token)


def _dispatch(token: str) -> int:
    batch = current_app.config["CONFIRMATION_BATCH"]
    stays = current_app.config["CONFIRMATION_DISPATCH_SECONDS"]
    # After a batch that was not full, wait this long for the next to gather: a surge's
    # emails then go a few dozen to a claim, not one or two (each claim is a transaction).
    gather = min(GATHER_SECONDS, stays / 5)
    sent, drained_at = 0, None  # drained_at: the counter when a claim last found all
    idle_since = None  # when a look last found nothing marked since that claim
    first = True
    hand_over_at = time.monotonic() + current_app.config["CONFIRMATION_DISPATCHER_SECONDS"]
    while True:
        held, seen = _look(token, first)
        first = False
        if not held:
            return sent  # another dispatcher was asked: it goes on from here
        if seen is not None and seen == drained_at:
            # Nothing marked owed since everything was claimed: no need to ask the database.
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= stays and _may_finish(token, seen):
                return sent
            time.sleep(IDLE_POLL_SECONDS)
            continue
        idle_since = None
        claimed, just_sent = _send_owed(batch)
        sent += just_sent
        if claimed and time.monotonic() >= hand_over_at and _hand_over(token):
            return sent  # between batches: everything this one claimed is marked
        if seen is None:  # Redis is away: drain, then leave the rest to the sweeper
            if claimed < batch:
                return sent
            continue
        if claimed >= batch:
            continue
        # Every email marked up to ``seen`` was committed before it was marked, so this
        # claim, which began after reading ``seen``, took all of them.
        drained_at = seen
        if claimed and gather:
            time.sleep(gather)


def _hand_over(token: str) -> bool:
    """Hand the run over to a new dispatcher (:data:`HANDOVER_SCRIPT`), enqueued here; True
    when this one may stop (a successor or another dispatcher takes over). Redis away:
    False, this one goes on."""
    successor = uuid.uuid4().hex
    try:
        handed = run_script(
            "handover",
            HANDOVER_SCRIPT,
            [outbox.CONFIRMATIONS_REQUESTED],
            [token, successor, outbox.dispatch_ttl_ms()],
        )
        if handed:
            outbox.start_dispatcher(successor)
    except RedisError:
        return False
    return True


def _look(token: str, first: bool) -> tuple[bool, str | None]:
    """Hold the standing request for ``token`` (taking it over at the ``first`` look) and
    read the "mail is waiting" counter (:data:`LOOK_SCRIPT`): (whether this dispatcher holds
    the request, the counter). Redis away: (True, None)."""
    try:
        held, seen = run_script(
            "look",
            LOOK_SCRIPT,
            [outbox.CONFIRMATIONS_REQUESTED, outbox.CONFIRMATIONS_WAITING],
            [token, outbox.dispatch_ttl_ms(), 1 if first else 0],
        )
    except RedisError:
        return True, None
    return bool(held), seen.decode() if isinstance(seen, bytes) else str(seen)


def _may_finish(token: str, seen: str) -> bool:
    try:
        return bool(
            run_script(
                "finish",
                FINISH_SCRIPT,
                [outbox.CONFIRMATIONS_REQUESTED, outbox.CONFIRMATIONS_WAITING],
                [token, seen],
            )
        )
    except RedisError:
        return True


_CLAIMED = (
    Support.id,
    Support.campaign_id,
    Support.user_id,
    Support.name,
    Support.email,
    Support.email_canonical,
    Support.locale,
    Support.ip_address,
    Support.confirmation_sends,
    Support.confirmed_at,
    Support.suspect_confirmed_at,
    Support.withdrawn_at,
)


def receipt_key(support_id: int, send_number: int) -> str:
    """The receipt key of a support's confirmation email (its ``send_number``-th)."""
    return f"confirm-support:{support_id}:{send_number}"


def _receipt_key_sql():
    """:func:`receipt_key` of each row of ``supports`` in SQL (``||`` on both databases). Its
    columns are named with their table: SQLite's RETURNING names them bare, and a bare ``id``
    in a subquery on ``mail_receipts`` would be the receipt's own."""
    return (
        literal("confirm-support:")
        + cast(literal_column("supports.id"), String)
        + literal(":")
        + cast(literal_column("supports.confirmation_sends"), String)
    )


def claim_owed_confirmations(limit: int, hold: bool = False):
    """Claim up to ``limit`` owed confirmation emails (rows of ``confirmations_owed``, in
    the order of their supports' ids): by default written (the claim's time) and
    committed, ``(claim time, rows)``. Emails claimed so by a dispatcher that died (a claim
    older than ``CONFIRMATION_CLAIM_SECONDS``) are claimed again.

    ``hold`` (PostgreSQL only): the rows are claimed by their locks (``FOR UPDATE OF
    confirmations_owed SKIP LOCKED``, the supports read, not locked) in the transaction left
    open, not by writing the claim's time, in one statement: ``(None, rows)``, the claim
    lasting until the caller's commit (:func:`_mark`) or its end however it ends (a worker
    killed, a connection lost: the rows are owed, unclaimed, at once).

    Each row is the support's columns the email needs, and whether its email's receipt
    exists already (``sent_before``: sent by a job from before the dispatcher), one look-up
    of the receipts' unique key per row. (A statement of its own, ``key = ANY(the batch's
    keys)``, was planned as a scan of every receipt, most of what a batch cost PostgreSQL.)"""
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["CONFIRMATION_CLAIM_SECONDS"])
    owed = ConfirmationOwed.__table__
    supports = Support.__table__
    unclaimed = or_(owed.c.claimed_at.is_(None), owed.c.claimed_at < stale)
    sent_before = select(MailReceipt.key).where(MailReceipt.key == _receipt_key_sql()).exists()
    columns = (*(supports.c[column.key] for column in _CLAIMED), sent_before.label("sent_before"))
    if hold:
        # The rows locked, not written: the caller's transaction holds them until its commit.
        # The batch is taken from confirmations_owed alone, then its supports read by id
        # (:func:`campaign.dbutil.id_among`): joined, the planner walked every support in id
        # order, looking each up here (28 ms a claim at 45,000 supports; a join on the batch
        # alone read a hash of every support, 11 ms; this 0.2 ms).
        batch = (
            select(owed.c.support_id)
            .where(unclaimed)
            .order_by(owed.c.support_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .subquery("batch")
        )
        rows = db.session.execute(
            select(*columns).where(id_among(supports.c.id, batch.c.support_id)).order_by(supports.c.id)
        ).all()
        return None, rows
    oldest = select(owed.c.support_id).where(unclaimed).order_by(owed.c.support_id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)  # two claims at once take different rows
    claimed = (
        db.session.execute(
            update(owed)
            .where(owed.c.support_id.in_(oldest.scalar_subquery()))
            .values(claimed_at=now)
            .returning(owed.c.support_id)
        )
        .scalars()
        .all()
    )
    rows = (
        db.session.execute(select(*columns).where(supports.c.id.in_(claimed)).order_by(supports.c.id)).all()
        if claimed
        else []
    )
    db.session.commit()
    return now, rows


def _holds() -> bool:
    """Whether a batch is claimed by its rows' locks (PostgreSQL), or by writing the claim's
    time and committing (SQLite, whose one writer at a time must not wait on a batch's
    sending)."""
    return db.session.get_bind().dialect.name == "postgresql"


def send_owed_confirmations(limit: int) -> tuple[int, int]:
    """Claim a batch of owed confirmation emails, send them over one SMTP connection and
    mark them sent; returns how many were claimed and how many sent (see :func:`_send_owed`)."""
    return one_connection(_send_owed)(limit)


def _send_owed(limit: int) -> tuple[int, int]:
    """Claim a batch of owed confirmation emails, send them over the connection open (or
    one each) and mark them sent; returns how many were claimed and how many sent.

    An email is not sent, and no longer owed, when its support was confirmed or withdrawn
    meanwhile, when its receipt exists already (sent by a job from before the dispatcher),
    or when its mailbox or the IP that typed it is over the confirmation caps (the support
    waits, uncounted, as before). A mailbox the server refuses for good gets a receipt
    marked with the error, as with every email.
    """
    claimed_at, rows = claim_owed_confirmations(limit, hold=_holds())
    if not rows:
        db.session.commit()
        return 0, 0
    keys = {row.id: receipt_key(row.id, row.confirmation_sends) for row in rows}
    waiting = [
        row
        for row in rows
        if row.confirmed_at is None
        and row.suspect_confirmed_at is None
        and row.withdrawn_at is None
        and not row.sent_before
    ]
    allowed = confirmation_emails_allowed([(keys[r.id], r.email_canonical, r.ip_address) for r in waiting])
    to_send = [row for row, ok in zip(waiting, allowed, strict=True) if ok]
    emails = confirmation_emails(to_send, keys)
    receipts: list[dict] = []
    unsent: list[int] = []
    try:
        _send_all(emails, receipts)
    except Exception:
        # The emails go a language at a time, not in the claim's order.
        done = {receipt["key"] for receipt in receipts}
        unsent = [row.id for row in to_send if keys[row.id] not in done]
        raise
    finally:
        _mark(rows, receipts, unsent, claimed_at)
    return len(rows), sum(1 for receipt in receipts if receipt["error"] is None)


def _send_all(emails: list[tuple[str, Email]], receipts: list[dict]) -> None:
    """Send the emails in turn over the caller's one connection, pipelined where the server
    offers it (:func:`campaign.mail.send_each`); ``receipts`` grows as the server takes (or
    refuses for good) each."""
    recipients = {key: email.to for key, email in emails}
    for key, error in send_each(emails):
        receipts.append({"key": key, "recipient": recipients[key], "error": error and error[:300]})


def _mark(rows, receipts: list[dict], unsent: list[int], claimed_at) -> None:
    """Record the batch in one transaction: the receipts of what was sent (one statement),
    then the rows of ``confirmations_owed`` deleted of everything claimed but what is still
    unsent (one statement; a support owed again meanwhile lost its claim, so it stays owed),
    and the unsent released for the next dispatcher."""
    statements = _STATEMENTS[db.session.get_bind().dialect.name]
    if receipts:
        rows_param = (
            {
                "keys": [receipt["key"] for receipt in receipts],
                "recipients": [receipt["recipient"] for receipt in receipts],
                "errors": [receipt["error"] for receipt in receipts],
            }
            if db.session.get_bind().dialect.name == "postgresql"
            else {"rows": json.dumps([[r["key"], r["recipient"], r["error"]] for r in receipts])}
        )
        db.session.execute(statements["receipts"], {**rows_param, "now": utcnow()})
    left = set(unsent)
    finished = [row.id for row in rows if row.id not in left]
    if claimed_at is None:
        # Claimed by their locks: they are ours until the commit; the unsent stay owed.
        if finished:
            db.session.execute(statements["finished held"], _listed(finished, "ids"))
    else:
        if finished:
            db.session.execute(statements["finished"], {**_listed(finished, "ids"), "claimed_at": claimed_at})
        if unsent:
            db.session.execute(statements["released"], {**_listed(unsent, "ids"), "claimed_at": claimed_at})
    db.session.commit()


# A batch's statements take each list as one value (an array on PostgreSQL, a JSON list on
# SQLite), so each is the same for every batch: compiled once, and parsed once by the
# driver, where an IN list or a VALUES list of 200 was compiled and parsed again for each
# batch (a sixth of the dispatcher's CPU).
_LISTS = {
    "postgresql": ("= ANY(CAST(:{0} AS {1}[]))", lambda values: list(values)),
    "sqlite": ("IN (SELECT value FROM json_each(:{0}))", lambda values: json.dumps(list(values))),
}
_RECEIPT_ROWS = {
    "postgresql": "SELECT k, r, e, :now FROM unnest(CAST(:keys AS text[]), CAST(:recipients AS text[]),"
    " CAST(:errors AS text[])) AS t (k, r, e)",
    # "WHERE true": SQLite's parser needs it before ON CONFLICT after a SELECT.
    "sqlite": "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),"
    " :now FROM json_each(:rows) WHERE true",
}


def _statements(dialect: str) -> dict[str, TextClause]:
    listed = _LISTS[dialect][0]
    stamps = {"now": UTCDateTime(), "claimed_at": UTCDateTime()}
    sql = {
        "receipts": f"INSERT INTO mail_receipts (key, recipient, error, sent_at) {_RECEIPT_ROWS[dialect]}"
        " ON CONFLICT (key) DO NOTHING",
        "finished": f"DELETE FROM confirmations_owed WHERE support_id {listed.format('ids', 'integer')}"
        " AND claimed_at = :claimed_at",
        # Rows locked by this transaction's claim: a support owed again meanwhile (a resend)
        # waits for the commit, and is owed again after it.
        "finished held": f"DELETE FROM confirmations_owed WHERE support_id {listed.format('ids', 'integer')}",
        "released": "UPDATE confirmations_owed SET claimed_at = NULL"
        f" WHERE support_id {listed.format('ids', 'integer')} AND claimed_at = :claimed_at",
    }
    return {
        name: text(statement).bindparams(
            *(bindparam(param, type_=type_) for param, type_ in stamps.items() if f":{param}" in statement)
        )
        for name, statement in sql.items()
    }


_STATEMENTS = {dialect: _statements(dialect) for dialect in _LISTS}


def _listed(values, name: str) -> dict:
    """``values`` as the list parameter ``name`` of one of :data:`_STATEMENTS`."""
    return {name: _LISTS[db.session.get_bind().dialect.name][1](values)}


def confirmation_emails(rows, keys: dict[int, str], one_by_one: bool = False) -> list[tuple[str, Email]]:
    """``(receipt key, email)`` for each of ``rows`` (claimed as
    :func:`claim_owed_confirmations` returns them; ``keys``: their receipt keys by id), each
    with its receipt's Message-ID, written a language and a campaign at a time.

    Each language's words are looked up once for the batch, its templates compiled once
    with its translations bound (:func:`campaign.mail.compiled_templates`) and the context
    its emails share built once. The emails of one campaign in one language then differ
    only in each reader's own values (their confirmation link, the code in their share
    links): each such group's email is rendered once with blanks for those values and
    filled in for each reader (:mod:`campaign.stencils`), as the fan-out does. A group whose
    render cannot be used safely (see :func:`_stencil`), a reader whose value is empty, and
    every email when ``one_by_one`` is asked for, are rendered for their reader alone."""
    campaigns = {
        c.id: c
        for c in db.session.execute(
            select(Campaign).where(Campaign.id.in_({row.campaign_id for row in rows}))
        ).scalars()
    }
    user_ids = {row.user_id for row in rows if row.user_id}
    members = (
        dict(db.session.execute(select(User.id, User.locale).where(User.id.in_(user_ids))).all())
        if user_ids
        else {}
    )
    groups: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        member = _Locale(members.get(row.user_id)) if row.user_id else None
        groups[language_of(member, row)][row.campaign_id].append(row)
    confirm_link = external_url_maker("supports.confirm", "token")
    emails: list[tuple[str, Email]] = []
    for language, by_campaign in groups.items():
        with force_locale(language):
            templates = compiled_templates(TEMPLATE, language)
            text, html = templates
            # The text and the HTML both ask for the reader's share links: made once.
            shared = batch_context(share_kit=functools.cache(share_kit))
            for campaign_id, readers in by_campaign.items():
                campaign = campaigns[campaign_id]
                subject = _(
                    "Confirm your %(support)s: %(title)s", support=campaign.support_noun, title=campaign.title
                )
                fixed = dict(
                    shared,
                    subject=subject,
                    campaign=campaign,
                    act=str(campaign.support_noun),
                    campaign_url=external_url(f"{campaign.blueprint}.show", slug=campaign.slug),
                )
                stencil = None if one_by_one else _stencil(templates, fixed)
                for row in readers:
                    link = confirm_link(support_token("confirm-support", row))
                    bodies = (
                        stencil.fill(support_values(stencil.names, row, {"link": link})) if stencil else None
                    )
                    if bodies is None:
                        context = dict(fixed, support=row, link=link)
                        bodies = text.render(context), html.render(context)
                    email = Email(to=row.email, subject=subject, text=bodies[0], html=bodies[1])
                    email.message_id = receipt_message_id(keys[row.id])
                    emails.append((keys[row.id], email))
    return emails


#: the confirmation email's templates (``templates/email/confirm_support.txt`` and ``.html``)
TEMPLATE = "confirm_support"


def _stencil(templates, fixed: dict) -> Stencil | None:
    """The confirmation email of a campaign in a language (what ``fixed`` holds) rendered
    with blanks for the reader's link and the support's id (its share code), proven; None
    when it cannot stand for each reader's render.

    It cannot if the templates read anything else of the support, if a template changed a
    marker, or if it fails its proof: a made-up reader whose link needs escaping
    (``&<>"'``, accents), rendered alone, must come out as the render filled in with their
    values (see :func:`campaign.stencils.proven`). The proof costs one render per group."""
    blanks = Blanks()
    text, html = templates
    try:
        context = dict(
            fixed,
            share_kit=share_kit_with_blanks(blanks, fixed["share_kit"]),
            support=support_stand_in(blanks),
            link=blanks("link"),
        )
        rendered = text.render(context), html.render(context)
        probe = SimpleNamespace(name=PROBE_NAME, id=PROBE_ID)
        links = {"link": PROBE_URL + "link"}
        alone = dict(fixed, support=probe, **links)
        return proven(
            blanks,
            rendered,
            (text.render(alone), html.render(alone)),
            lambda stencil: support_values(stencil.names, probe, links),
        )
    except Exception as exc:  # noqa: BLE001 - each email is rendered alone, which raises if it must
        refused(TEMPLATE, exc)
        return None


class _Locale:
    """A member's stored language, as :func:`campaign.i18n.language_of` reads a record."""

    def __init__(self, locale: str | None):
        self.locale = locale


@app_job
def send_support_confirmation(support_id: int, send_number: int) -> bool:
    """Email the confirmation link of a pending support; once per ``send_number``.

    The per-support job of before the dispatcher, kept for the jobs queued before the
    upgrade: its receipt key is the dispatcher's, so the two never send one email twice."""
    support = db.session.get(Support, support_id)
    if support is None or support.email_confirmed_at is not None or support.withdrawn_at is not None:
        return False
    send_key = receipt_key(support.id, send_number)
    if not confirmation_email_allowed(send_key, support.email_canonical, support.ip_address):
        # Capped: the mailbox (or the typist's IP) had its share; the support stays pending.
        return False
    campaign = support.campaign
    with writing_to(support.user, support):
        email = render_email(
            "confirm_support",
            to=support.email,
            subject=_(
                "Confirm your %(support)s: %(title)s", support=campaign.support_noun, title=campaign.title
            ),
            support=support,
            campaign=campaign,
            act=str(campaign.support_noun),
            link=external_url("supports.confirm", token=support_token("confirm-support", support)),
            campaign_url=external_url(f"{campaign.blueprint}.show", slug=campaign.slug),
        )
    return send_once(send_key, email)


@app_job
def send_already_supporting(support_id: int, day: str) -> bool:
    """Tell a supporter, at most once a day, that their support was already counted when
    someone submitted the form again with their address."""
    support = db.session.get(Support, support_id)
    if support is None or support.email_confirmed_at is None or support.withdrawn_at is not None:
        return False
    campaign = support.campaign
    with writing_to(support.user, support):
        email = render_email(
            "already_supporting",
            to=support.email,
            subject=_("You already support: %(title)s", title=campaign.title),
            support=support,
            campaign=campaign,
            campaign_url=external_url(f"{campaign.blueprint}.show", slug=campaign.slug),
            withdraw_url=external_url("supports.withdraw", token=support_token("withdraw", support)),
        )
    return send_once(f"already:{support.id}:{day}", email)
