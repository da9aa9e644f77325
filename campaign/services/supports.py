"""Supporting a campaign: sign, pledge, endorse; confirm by email; withdraw; unsubscribe."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import (
    Boolean,
    Integer,
    SmallInteger,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row

from campaign import hot_cache
from campaign.dbutil import first_row_alone, insert_for, session_in_transaction, upsert
from campaign.extensions import db
from campaign.kinds import kind_of
from campaign.models import (
    PUBLIC_STATES,
    Campaign,
    CampaignKind,
    CampaignState,
    CampaignTerms,
    ConfirmationOwed,
    CountDelta,
    PledgeBrand,
    Support,
    Suspect,
    User,
    canonical_email,
    day_of,
    utcnow,
)
from campaign.names import name_problem
from campaign.outbox import later, request_fold, start_dispatcher
from campaign.services import ServiceError
from campaign.services.abuse import ip_key, record_signature, rule_decides, suspect_reason
from campaign.services.privacy import consent_text
from campaign.tokens import TokenError, make_token, read_token

#: A pending support gets at most this many confirmation emails, whatever is resubmitted.
MAX_CONFIRMATION_SENDS = 3


class Outcome(enum.StrEnum):
    CONFIRMED = "confirmed"  # counted now (a verified member)
    PENDING = "pending"  # waits for the emailed link
    ALREADY_CONFIRMED = "already_confirmed"
    RESENT = "resent"  # already pending: the link was sent again
    SEND_LIMIT = "send_limit"  # already pending, and enough links have gone out


@dataclass
class SupportResult:
    support_id: int
    outcome: Outcome
    # Confirmation emails sent so far, counting the one this call asks for (if any).
    sends: int = 0


class SupportRefused(ServiceError):
    """The campaign does not take support now (not public, or closed)."""


def campaign_terms(kind: CampaignKind, slug: str) -> CampaignTerms | None:
    """What taking a support reads of the campaign of ``kind`` at ``slug`` (None if there is
    none), read in one light query and kept by this process for ``HOT_CACHE_SECONDS``: the
    sign form's POST needs it for every signature. It may be a second old; whether the
    campaign takes the support is decided by the signing statement, in the database."""
    return hot_cache.cached(("terms", kind, slug), lambda: _read_terms(kind, slug))


def _read_terms(kind: CampaignKind, slug: str) -> CampaignTerms | None:
    query = select(Campaign.id, Campaign.kind, Campaign.state, Campaign.closes_at, Campaign.title).where(
        Campaign.kind == kind, Campaign.slug == slug
    )
    session = db.session()
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        # On a connection of its own, so that the session begins no transaction for it and
        # the support may be written alone (see add_support). Not on SQLite, whose
        # connections wait for each other's writes, nor in the session's transaction.
        with db.engine.connect() as connection:
            row = connection.execute(query).first()
    else:
        row = session.execute(query).first()
    return CampaignTerms(*row) if row is not None else None


def _refuse_unless_open(campaign: Campaign | CampaignTerms | None) -> None:
    """Raise :class:`SupportRefused` with the reason ``campaign`` takes no support now."""
    if campaign is None or campaign.state in (
        CampaignState.DRAFT,
        CampaignState.PENDING,
        CampaignState.REJECTED,
        CampaignState.HIDDEN,
    ):
        raise SupportRefused(_("This campaign is not published, so it cannot take support."))
    if campaign.state != CampaignState.OPEN or campaign.is_past_closing():
        raise SupportRefused(
            _(
                "This %(noun)s has closed and no longer takes %(supporters)s. Thank you for wanting to help.",
                noun=campaign.noun,
                supporters=campaign.supporters_noun,
            )
        )


def add_support(
    campaign_id: int,
    *,
    name: str,
    email: str,
    country: str,
    postcode: str | None = None,
    is_public: bool = True,
    comment: str | None = None,
    consents_to_updates: bool = False,
    monthly_spend: int | None = None,
    condition_threshold: int | None = None,
    pledged_brand_ids: list[int] | None = None,
    user_id: int | None = None,
    ip_address: str | None = None,
    referral: str | None = None,
    locale: str | None = None,
    stall_id: int | None = None,
    referred_by_id: int | None = None,
    terms: CampaignTerms | None = None,
) -> SupportResult:
    """Record one person's support, once per campaign and canonical email. Commits.

    A verified member supporting with their own address counts at once; anyone else is
    owed a confirmation email and counts when they confirm. A second attempt for the same
    person stores nothing new: a pending support gets its link again, at most
    :data:`MAX_CONFIRMATION_SENDS` times in all. Raises :class:`SupportRefused` when the
    campaign is not open.

    One statement writes the support: ``INSERT … SELECT … FROM campaigns WHERE`` the
    campaign is open ``… ON CONFLICT DO NOTHING RETURNING id``, which also checks the
    referrer and, on PostgreSQL, records the email owed (a row of ``confirmations_owed``,
    inserted by the same statement; on SQLite a second statement in the transaction), then
    the commit (on PostgreSQL a support owed its email is that statement alone, in
    autocommit). After
    the commit, one Redis script records the attempt against the per-IP limit, marks the
    email waiting and asks (unless a request stands: one asked for within
    ``CONFIRMATION_DISPATCH_SECONDS``, or the running dispatcher's) for the dispatcher that
    sends owed emails in batches (enqueued here when this call asked).
    The limit is read after the commit so that the dispatcher is only ever told of
    committed rows; a support it finds over the limit is then marked suspect (a second
    statement, for those only). No statement returns a row when the campaign is closed or
    the person already supports it: only then is the campaign read again, to say which.
    The campaign's words (consent text, kind) come from ``terms`` when the caller read them
    (:func:`campaign_terms`: the sign form does), else from the caller's session when it
    has the campaign already, otherwise from one read.

    A new support that the allow and block lists or the per-IP limit hold
    (:func:`campaign.services.abuse.suspect_reason`) is stored as suspect: the same outcome
    and emails as any other, but it never counts until a moderator releases it.
    ``stall_id``: signed at that stall (the caller checked it is open), which spares the
    support the per-IP limit for the stall's own.
    ``referred_by_id`` credits the supporter whose share link brought this one (ignored
    unless it is a support of the same campaign).
    """
    dialect = db.engine.dialect.name
    # A visitor's support (owed its email) writes the statement's one row and nothing else:
    # on PostgreSQL it runs alone, in autocommit (the statement is atomic by itself), on a
    # connection of the session's engine without the session's bookkeeping, sparing BEGIN
    # and COMMIT their round trips, when nothing was read before it in the session (the
    # sign form passes the campaign's terms; the abuse rules are read only when there are
    # any). Not when the session has begun a transaction already (it would be cut off from
    # it), nor on SQLite (its writers begin IMMEDIATE).
    alone = (
        dialect == "postgresql" and user_id is None and not pledged_brand_ids and not session_in_transaction()
    )
    if terms is not None and terms.id == campaign_id and not kind_of(terms).endorses_brands:
        campaign = terms
    else:
        campaign = db.session.get(Campaign, campaign_id)  # from the identity map, when loaded
    # What the caller loaded refuses first, in its words (no query); the statement decides.
    _refuse_unless_open(campaign)
    _check_kind_fields(campaign, condition_threshold, pledged_brand_ids)
    problem = name_problem(name)
    if problem:
        raise ServiceError(problem)
    canonical = canonical_email(email)
    user = db.session.get(User, user_id) if user_id else None
    owns_address = user is not None and canonical_email(user.email) == canonical
    verified_now = owns_address and user.is_verified

    if verified_now:
        # Counted at once: whether it is held must be known before the insert (no email owed).
        suspect, limited = suspect_reason(campaign.id, ip_address, canonical, stall_id), False
    else:
        decided, suspect = rule_decides(ip_address, canonical)
        limited = not decided
    counted_now = verified_now and suspect is None
    now = utcnow()
    new_id = _write_support(
        alone,
        _sign_statement(dialect),
        {
            "b_campaign_id": campaign_id,
            "b_now": now,
            "b_user_id": user.id if owns_address else None,
            "b_email": email.strip(),
            "b_email_canonical": canonical,
            "b_name": name.strip(),
            "b_is_public": is_public,
            "b_country": country,
            "b_postcode": (postcode or "").strip() or None,
            "b_comment": (comment or "").strip() or None,
            "b_monthly_spend": monthly_spend,
            "b_consents_to_updates": consents_to_updates,
            "b_ip_address": ip_address,
            "b_ip_key": ip_key(ip_address),
            "b_suspect": suspect.value if suspect else None,
            "b_confirmed_at": now if counted_now else None,
            "b_suspect_confirmed_at": now if verified_now and not counted_now else None,
            "b_confirmation_sends": 0 if verified_now else 1,
            "b_owes_email": not verified_now,
            "b_condition_threshold": condition_threshold,
            "b_consent_text": consent_text(campaign, is_public, consents_to_updates),
            "b_referral": referral,
            "b_locale": locale,
            "b_stall_id": stall_id,
            "b_referred_by_id": referred_by_id,
        },
    )
    if new_id is None:
        if alone:
            db.session.commit()  # what follows locks the support: in a transaction of its own
        # Closed meanwhile, or the person supports it already: the campaign as it is now.
        campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
        _refuse_unless_open(campaign)
        result = _again(campaign, canonical, verified_now, user)
        if not verified_now:
            _after_commit(
                campaign_id, ip_address, canonical, stall_id, limited, result.outcome == Outcome.RESENT
            )
        return result
    if not verified_now and dialect != "postgresql":
        # SQLite has no INSERT in a WITH: the email owed is a statement of its own, in the
        # same transaction.
        db.session.execute(insert(ConfirmationOwed).values(support_id=new_id, owed_at=now))
    for brand_id in sorted(set(pledged_brand_ids or [])):
        db.session.add(PledgeBrand(support_id=new_id, brand_id=brand_id))
    if counted_now:
        db.session.add(
            CountDelta(
                campaign_id=campaign.id, country=country, delta=1, spend=monthly_spend or 0, day=day_of(now)
            )
        )
    if verified_now:
        later("fold")
    if session_in_transaction():  # not when the statement ran alone and nothing was read
        db.session.commit()
    if verified_now:
        return SupportResult(new_id, Outcome.CONFIRMED)
    if _after_commit(campaign_id, ip_address, canonical, stall_id, limited, True):
        # Over the limit: held. Pending, so nothing counted it; its email is owed all the same.
        db.session.execute(
            update(Support)
            .where(Support.id == new_id, Support.suspect.is_(None), Support.confirmed_at.is_(None))
            .values(suspect=(Suspect.STALL_LIMIT if stall_id is not None else Suspect.RATE_LIMIT).value)
        )
        db.session.commit()
    return SupportResult(new_id, Outcome.PENDING, sends=1)


def _write_support(alone: bool, statement, params: dict) -> int | None:
    """The signing statement: the new support's id, or None (closed, or supported already).
    Alone on a connection of its own only while the session holds none (it read the campaign
    or the abuse rules otherwise): one connection a signature, never two."""
    if not alone or session_in_transaction():
        return db.session.execute(statement, params).scalar()
    engine = db.engine
    sql, literals, conversions = _driver_statement(statement, engine.dialect)
    values = {**literals, **params}
    for name, convert in conversions.items():
        values[name] = convert(values[name])
    row = first_row_alone(engine, sql, values)
    return row[0] if row else None


_DRIVER_STATEMENTS: dict[tuple[int, str], tuple[str, dict, dict]] = {}


def _driver_statement(statement, dialect) -> tuple[str, dict, dict]:
    """``statement`` as its driver takes it, compiled once: the SQL, the values of its own
    parameters (the open state) and each parameter's conversion (booleans, UTC times, enums,
    as SQLAlchemy converts them), for :func:`campaign.dbutil.first_row_alone`."""
    key = (id(statement), dialect.name)
    made = _DRIVER_STATEMENTS.get(key)
    if made is None:
        compiled = statement.compile(dialect=dialect)
        given = {name: None for name in compiled.binds if name.startswith("b_")}
        names = compiled.construct_params(given)
        literals = {name: value for name, value in names.items() if name not in given}
        conversions = {
            name: convert
            for name in names
            if (convert := compiled.binds[name].type.bind_processor(dialect)) is not None
        }
        made = _DRIVER_STATEMENTS[key] = (compiled.string, literals, conversions)
    return made


def _after_commit(
    campaign_id: int,
    ip_address: str | None,
    canonical: str,
    stall_id: int | None,
    limited: bool,
    owes_email: bool,
) -> bool:
    """The signature's Redis round trip once its transaction committed; starts the
    dispatcher if this signature asked for it. Returns whether it was over the limit."""
    over, token = record_signature(
        campaign_id, ip_address, canonical, stall_id, limited=limited, owes_email=owes_email
    )
    if token is not None:
        start_dispatcher(token)
    return over


_SIGN_STATEMENTS: dict[str, object] = {}

#: The columns the signing statement writes, each from a parameter ``b_<column>``.
_SIGN_COLUMNS = (
    "user_id",
    "email",
    "email_canonical",
    "name",
    "is_public",
    "country",
    "postcode",
    "comment",
    "monthly_spend",
    "consents_to_updates",
    "ip_address",
    "ip_key",
    "suspect",
    "confirmed_at",
    "suspect_confirmed_at",
    "confirmation_sends",
    "condition_threshold",
    "consent_text",
    "referral",
    "locale",
    "stall_id",
)


def _sign_statement(dialect: str):
    """``INSERT INTO supports (…) SELECT campaigns.id, :b_… FROM campaigns WHERE id = :id AND
    state = 'open' AND not past closing ON CONFLICT (campaign_id, email_canonical) DO NOTHING
    RETURNING id``, built once per dialect. The referrer is kept only when it is a support
    of the same campaign (a subquery). SQLite (3.35 and later) runs the same statement.

    On PostgreSQL the statement also records the email owed when ``b_owes_email``: the
    insert is a ``WITH`` whose new row, if any, a second insert in the same statement
    writes into ``confirmations_owed`` (no row, no email owed). SQLite takes no INSERT in a
    ``WITH``: :func:`add_support` writes that row itself."""
    if dialect not in _SIGN_STATEMENTS:
        supports, campaigns = Support.__table__, Campaign.__table__
        now = bindparam("b_now", type_=supports.c.created_at.type)
        referrer = supports.alias("referrer")
        values = [bindparam(f"b_{name}", type_=supports.c[name].type) for name in _SIGN_COLUMNS]
        source = select(
            campaigns.c.id,
            *values,
            select(referrer.c.id)
            .where(
                referrer.c.id == bindparam("b_referred_by_id", type_=Integer),
                referrer.c.campaign_id == campaigns.c.id,
            )
            .scalar_subquery(),
            now,
        ).where(
            campaigns.c.id == bindparam("b_campaign_id", type_=Integer),
            campaigns.c.state == CampaignState.OPEN,
            or_(campaigns.c.closes_at.is_(None), campaigns.c.closes_at > now),
        )
        signed = (
            insert_for(dialect)(supports)
            .from_select(["campaign_id", *_SIGN_COLUMNS, "referred_by_id", "created_at"], source)
            .on_conflict_do_nothing(index_elements=["campaign_id", "email_canonical"])
            .returning(supports.c.id)
        )
        if dialect == "postgresql":
            new = signed.cte("signed")
            owed = insert(ConfirmationOwed.__table__).from_select(
                ["support_id", "owed_at"],
                select(new.c.id, now).where(bindparam("b_owes_email", type_=Boolean)),
            )
            signed = select(new.c.id).add_cte(owed.cte("owed"))
        _SIGN_STATEMENTS[dialect] = signed
    return _SIGN_STATEMENTS[dialect]


def _check_kind_fields(
    campaign: Campaign | CampaignTerms, condition_threshold: int | None, pledged_brand_ids: list[int] | None
) -> None:
    """What only some kinds take (a condition, a choice of brands) is refused from the others,
    as their definitions say."""
    kind = kind_of(campaign)
    if condition_threshold is not None:
        if not kind.takes_conditions:
            raise ServiceError(_("Only boycott pledges can wait for others."))
        if not 2 <= condition_threshold <= 1_000_000:
            raise ServiceError(_("The number of pledges to wait for runs from 2 to 1,000,000."))
    if pledged_brand_ids:
        endorsed = {e.brand_id for e in campaign.endorsements} if kind.endorses_brands else set()
        if not set(pledged_brand_ids) <= endorsed:
            raise ServiceError(_("Choose among the brands this buycott endorses."))


def _again(campaign: Campaign, canonical: str, verified_now: bool, user) -> SupportResult:
    """The same person supports again: confirm, revive or resend, but never duplicate."""
    support = db.session.execute(
        select(Support).filter_by(campaign_id=campaign.id, email_canonical=canonical).with_for_update()
    ).scalar_one()
    if support.withdrawn_at is not None:
        # Coming back after withdrawing: the support counts again once confirmed.
        was_confirmed = support.email_confirmed_at is not None
        support.withdrawn_at = None
        support.confirmed_at = None
        support.suspect_confirmed_at = None
        if was_confirmed and not verified_now:
            support.confirmation_sends = 0
    if support.email_confirmed_at is not None:
        if not verified_now:
            # Tell the address owner, not whoever typed it (the page shows them nothing).
            later("already-supporting", support.id, utcnow().date().isoformat())
        db.session.commit()
        return SupportResult(support.id, Outcome.ALREADY_CONFIRMED)
    if verified_now and support.suspect is not None:
        # Held: the member sees what any member sees, and it still does not count.
        support.suspect_confirmed_at = utcnow()
        support.user_id = user.id
        db.session.commit()
        return SupportResult(support.id, Outcome.CONFIRMED)
    if verified_now:
        support.confirmed_at = utcnow()
        support.user_id = user.id
        db.session.add(
            CountDelta(
                campaign_id=campaign.id,
                country=support.country,
                delta=1,
                spend=support.monthly_spend or 0,
                day=day_of(support.confirmed_at),
            )
        )
        later("fold")
        db.session.commit()
        return SupportResult(support.id, Outcome.CONFIRMED)
    if support.confirmation_sends >= MAX_CONFIRMATION_SENDS:
        db.session.commit()
        return SupportResult(support.id, Outcome.SEND_LIMIT)
    support.confirmation_sends += 1
    sends = support.confirmation_sends
    owe_confirmation(support.id)
    db.session.commit()
    return SupportResult(support.id, Outcome.RESENT, sends=sends)


def owe_confirmation(support_id: int) -> None:
    """Make the support's confirmation email owed (again), in the session's transaction: its
    row of ``confirmations_owed`` written, or renewed and unclaimed. A dispatcher holding the
    last email's claim leaves this one owed (on PostgreSQL this waits for its commit, which
    deletes the row, and then writes it anew; on SQLite its claim is gone, and only a
    claimed row is deleted)."""
    now = utcnow()
    upsert(
        ConfirmationOwed,
        ["support_id"],
        {"owed_at": now, "claimed_at": None},
        support_id=support_id,
        owed_at=now,
    )


def support_token(purpose: str, support: Support) -> str:
    """The signed token of a link about ``support`` (confirm, withdraw, unsubscribe, ...),
    read back by :func:`support_from_token`."""
    return make_token(purpose, {"s": support.id, "e": support.email_canonical})


def support_from_token(purpose: str, token: str, max_age: int | None = None) -> Support:
    """The support a signed link is for; raises TokenError when forged, stale or mismatched."""
    payload = read_token(purpose, token, max_age or current_app.config["SUPPORT_TOKEN_MAX_AGE"])
    support = db.session.get(Support, payload.get("s"))
    if support is None or support.email_canonical != payload.get("e"):
        raise TokenError(expired=False)
    return support


class CampaignCard(NamedTuple):
    """What the confirmation page shows of the campaign."""

    id: int
    title: str
    slug: str
    blueprint: str
    is_public: bool
    confirmed_count: int


class ConfirmedSupport(NamedTuple):
    """What the confirmation page shows of the support, read by the statement confirming it
    (not an ORM object: nothing is loaded or refreshed after the commit)."""

    id: int
    email_canonical: str
    name: str
    withdrawn_at: datetime | None
    condition_threshold: int | None
    condition_met_at: datetime | None
    campaign: CampaignCard


def confirm(token: str) -> tuple[ConfirmedSupport, bool]:
    """Confirm the support in an emailed link. Idempotent. Commits.

    Returns what the page shows of the support and its campaign, and whether this call
    confirmed it (False: it already was, or it was withdrawn). Mail scanners open links
    before people do, so a repeat is never an error. Raises TokenError. A suspect support is
    confirmed alike (``suspect_confirmed_at``) and still not counted. Asks for a fold when
    the support now counts.

    The token's check (the support's id and address), the state change, the count delta and
    the page's reading are one statement on PostgreSQL (an ``UPDATE … RETURNING`` and an
    ``INSERT`` of the delta in ``WITH``; in autocommit unless the caller's session is in a
    transaction), three in one transaction on SQLite.
    """
    payload = read_token("confirm-support", token, current_app.config["SUPPORT_TOKEN_MAX_AGE"])
    support_id, email = payload.get("s"), payload.get("e")
    if not isinstance(support_id, int) or not isinstance(email, str):
        raise TokenError(expired=False)
    now = utcnow()
    params = {"b_support_id": support_id, "b_email": email, "b_now": now, "b_day": day_of(now)}
    statements = _confirm_statements(db.engine.dialect.name)
    if len(statements) == 1 and not session_in_transaction():
        row, confirmed_now = _confirm_alone(statements[0], params)
    else:
        row, confirmed_now = _confirm_in_session(statements, params)
    if row is None:
        raise TokenError(expired=False)
    card = CampaignCard(
        row.campaign_id,
        row.title,
        row.slug,
        kind_of(row.kind).name,
        row.state in PUBLIC_STATES,
        row.confirmed_count,
    )
    support = ConfirmedSupport(
        support_id,
        email,
        row.name,
        row.withdrawn_at,
        row.condition_threshold,
        row.condition_met_at,
        card,
    )
    return support, confirmed_now


def _confirm_alone(statement, params: dict) -> tuple[Row | None, bool]:
    """The one statement that confirms (PostgreSQL), atomic by itself: run in autocommit (no
    BEGIN or COMMIT round trips) on a connection of the session's engine, without the
    session's bookkeeping. It has committed when it returns, so the fold is asked for then.
    Returns the page's row (None: no such support) and whether it was confirmed now."""
    with db.engine.connect() as connection:
        row = connection.execution_options(isolation_level="AUTOCOMMIT").execute(statement, params).first()
    if row is None:
        return None, False
    if row.counted:
        request_fold()
    return row, row.confirmed_now


def _confirm_in_session(statements: tuple, params: dict) -> tuple[Row | None, bool]:
    """:func:`_confirm_alone` in the session's transaction (SQLite's three statements, or the
    caller's own transaction), committed; the fold is asked for once committed."""
    if len(statements) == 1:
        row = db.session.execute(statements[0], params).first()
        confirmed_now = row is not None and row.confirmed_now
        counted = row is not None and row.counted
    else:
        update_stmt, delta_stmt, page_stmt = statements
        changed = db.session.execute(update_stmt, params).first()
        counted = changed is not None and changed.suspect is None
        if counted:
            db.session.execute(
                delta_stmt,
                {
                    "b_campaign_id": changed.campaign_id,
                    "b_country": changed.country,
                    "b_monthly_spend": changed.monthly_spend,
                    "b_day": params["b_day"],
                },
            )
        row = db.session.execute(page_stmt, params).first()
        confirmed_now = changed is not None
    if counted:
        later("fold")
    db.session.commit()
    return row, confirmed_now


_CONFIRM_STATEMENTS: dict[str, tuple] = {}


def _confirm_statements(dialect: str) -> tuple:
    """The statements :func:`confirm` runs, built once per dialect (bound by name)."""
    if dialect not in _CONFIRM_STATEMENTS:
        _CONFIRM_STATEMENTS[dialect] = _build_confirm_statements(dialect)
    return _CONFIRM_STATEMENTS[dialect]


def _build_confirm_statements(dialect: str) -> tuple:
    now = bindparam("b_now", type_=Support.__table__.c.confirmed_at.type)
    suspect = Support.suspect.is_not(None)
    matches = (Support.id == bindparam("b_support_id")) & (Support.email_canonical == bindparam("b_email"))
    confirm_update = (
        update(Support)
        .where(
            matches,
            Support.withdrawn_at.is_(None),
            or_(
                ~suspect & Support.confirmed_at.is_(None),
                suspect & Support.suspect_confirmed_at.is_(None),
            ),
        )
        .values(
            confirmed_at=case((suspect, Support.confirmed_at), else_=now),
            suspect_confirmed_at=case((suspect, now), else_=Support.suspect_confirmed_at),
        )
        .returning(Support.campaign_id, Support.country, Support.monthly_spend, Support.suspect)
    )
    page_columns = (
        Support.campaign_id,
        Support.name,
        Support.withdrawn_at,
        Support.condition_threshold,
        Support.condition_met_at,
        Campaign.title,
        Campaign.slug,
        Campaign.kind,
        Campaign.state,
        Campaign.confirmed_count,
    )
    page = (
        select(*page_columns)
        .select_from(Support)
        .join(Campaign, Campaign.id == Support.campaign_id)
        .where(matches)
    )
    delta_columns = ["campaign_id", "country", "delta", "spend", "day"]
    day = bindparam("b_day", type_=CountDelta.__table__.c.day.type)
    if dialect == "postgresql":
        # Every part of a WITH runs once, to completion, on the same snapshot; the SELECT
        # sees the row as it was before the UPDATE, which changes nothing the page shows.
        confirmed = confirm_update.cte("confirmed")
        delta = insert(CountDelta).from_select(
            delta_columns,
            select(
                confirmed.c.campaign_id,
                confirmed.c.country,
                literal(1, SmallInteger),
                func.coalesce(confirmed.c.monthly_spend, 0),
                day,
            ).where(confirmed.c.suspect.is_(None)),
        )
        changed = select(func.count()).select_from(confirmed)
        counted = changed.where(confirmed.c.suspect.is_(None))
        statement = page.add_columns(
            (changed.scalar_subquery() > 0).label("confirmed_now"),
            (counted.scalar_subquery() > 0).label("counted"),
        ).add_cte(delta.cte("delta"))
        return (statement,)
    delta = insert(CountDelta).values(
        campaign_id=bindparam("b_campaign_id"),
        country=bindparam("b_country"),
        delta=1,
        spend=func.coalesce(bindparam("b_monthly_spend", type_=Integer), 0),
        day=day,
    )
    return confirm_update, delta, page


def withdraw(support_id: int) -> bool:
    """Withdraw a support so it no longer counts. Commits; returns False if already withdrawn."""
    row = db.session.execute(
        update(Support)
        .where(Support.id == support_id, Support.withdrawn_at.is_(None))
        .values(withdrawn_at=utcnow())
        .returning(Support.campaign_id, Support.country, Support.confirmed_at, Support.monthly_spend)
    ).first()
    if row is None:
        db.session.commit()
        return False
    if row.confirmed_at is not None:
        db.session.add(
            CountDelta(
                campaign_id=row.campaign_id,
                country=row.country,
                delta=-1,
                spend=-(row.monthly_spend or 0),
                day=day_of(row.confirmed_at),
            )
        )
    later("fold")
    db.session.commit()
    return True


def unsubscribe(support_id: int) -> None:
    """Stop update emails for this support. Idempotent. Commits."""
    db.session.execute(update(Support).where(Support.id == support_id).values(consents_to_updates=False))
    db.session.commit()
