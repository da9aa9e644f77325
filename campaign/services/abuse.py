"""Signing fraud defences, as the largest petition sites learned them.

A support that looks like abuse is not refused: it is stored as *suspect*, its signer sees
the same pages and emails as anyone, and it is never counted (counting reads
``confirmed_at``, which a suspect support never gets). A bot thus learns nothing from the
answer. What makes a support suspect, the most specific first:

1. an allow or block rule for its canonical email;
2. else the rule for the longest matching email domain (``example.org`` covers
   ``mail.example.org``);
3. else the rule for the narrowest IP range holding its address;
4. else, unless an allow rule matched, the per-IP limit on its campaign
   (``RATELIMIT_SUPPORT``, e.g. more than 1 support in 60 s or 5 in 5 minutes).

Moderators also invalidate supports after the fact by condition (IP range, email domain,
time window; one campaign or all) and read an hourly report of heavy signers.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import unicodedata
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from limits import parse_many
from redis.exceptions import RedisError
from sqlalchemy import and_, delete, func, or_, select, update

from campaign import hot_cache
from campaign.dbutil import insert_ignoring_conflicts
from campaign.extensions import db
from campaign.models import (
    AbuseRule,
    Campaign,
    CountDelta,
    Invalidation,
    RuleAction,
    RuleKind,
    SigningReport,
    Support,
    Suspect,
    User,
    canonical_email,
    utcnow,
)
from campaign.services import ServiceError

log = logging.getLogger(__name__)

#: Rules and invalidations may not cover wider ranges than these (a typo must not catch
#: a whole continent).
WIDEST_PREFIX = {4: 8, 6: 32}

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+{_LABEL}$")


# ---------------------------------------------------------------------------- values


def ip_key(address: str | None) -> str | None:
    """A fixed-width hex key of an IP address (IPv4 as IPv4-mapped IPv6), or None.

    Keys of one range sort between the keys of its ends, so a range matches by string
    comparison in SQL on every backend.
    """
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if ip.version == 4:
        ip = ipaddress.IPv6Address(f"::ffff:{ip}")
    return f"{int(ip):032x}"


@dataclass(frozen=True)
class Network:
    text: str  # "203.0.113.0/24", or a single address without a prefix
    low: str
    high: str


def parse_network(text: str) -> Network:
    """An address or CIDR range typed by a moderator; raises ServiceError if it is neither."""
    text = (text or "").strip()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ServiceError(_("“%(text)s” is not an IP address or a range like 203.0.113.0/24.",
                             text=text[:60])) from None
    if network.prefixlen < WIDEST_PREFIX[network.version]:
        raise ServiceError(_("A range wider than /%(prefix)s would catch too many people; use a "
                             "narrower one.", prefix=WIDEST_PREFIX[network.version]))
    single = network.num_addresses == 1
    return Network(str(network.network_address) if single else str(network),
                   ip_key(str(network.network_address)), ip_key(str(network.broadcast_address)))


def normalise_domain(text: str) -> str:
    """An email domain typed by a moderator (``@`` and case ignored); raises ServiceError."""
    domain = unicodedata.normalize("NFKC", text or "").strip().lower().lstrip("@").rstrip(".")
    try:  # as supporters' addresses are stored: IDNA, so look-alikes meet the same rule
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    if len(domain) > 253 or not _DOMAIN.match(domain):
        raise ServiceError(_("“%(text)s” is not an email domain like example.org.",
                             text=(text or "").strip()[:60]))
    return domain


def normalise_rule_email(text: str) -> str:
    text = (text or "").strip()
    local, sep, domain = text.rpartition("@")
    if not sep or not local or len(text) > 254 or any(c.isspace() for c in local):
        raise ServiceError(_("“%(text)s” is not an email address.", text=text[:60]))
    return canonical_email(f"{local}@{normalise_domain(domain)}")


def email_domain(canonical: str) -> str:
    return canonical.rpartition("@")[2]


def _domain_and_parents(domain: str) -> list[str]:
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


# ---------------------------------------------------------------------------- the lists


def add_rule(kind: str, action: str, value: str, note: str | None, moderator_id: int) -> AbuseRule:
    """Put ``value`` on the allow or block list. Commits.

    Raises ServiceError for a value that is not an address/range, domain or email, and
    when the value is already listed (remove it first to change its action).
    """
    _require_moderator(moderator_id)
    try:
        kind, action = RuleKind(kind), RuleAction(action)
    except ValueError:
        raise ServiceError(_("Choose what to list (IP, domain or email) and allow or block.")) \
            from None
    low = high = None
    if kind == RuleKind.IP:
        network = parse_network(value)
        value, low, high = network.text, network.low, network.high
    elif kind == RuleKind.DOMAIN:
        value = normalise_domain(value)
    else:
        value = normalise_rule_email(value)
    rule_id = insert_ignoring_conflicts(
        AbuseRule, ["kind", "value"], kind=kind, action=action, value=value, ip_low=low,
        ip_high=high, note=(note or "").strip()[:200] or None, created_by_id=moderator_id,
        created_at=utcnow())
    if rule_id is None:
        db.session.rollback()
        existing = db.session.execute(select(AbuseRule).filter_by(kind=kind, value=value)).scalar_one()
        raise ServiceError(_("%(value)s is already on the block list.", value=value)
                           if existing.action == RuleAction.BLOCK else
                           _("%(value)s is already on the allow list.", value=value))
    db.session.commit()
    return db.session.get(AbuseRule, rule_id)


def remove_rule(rule_id: int, moderator_id: int) -> str | None:
    """Take a rule off its list. Commits; returns its value, or None if it was gone already."""
    _require_moderator(moderator_id)
    value = db.session.execute(delete(AbuseRule).where(AbuseRule.id == rule_id)
                               .returning(AbuseRule.value)).scalar()
    db.session.commit()
    return value


def matching_rules(ip_address: str | None, canonical: str) -> list[AbuseRule]:
    """Every rule that names this email, its domain (or a parent) or a range holding the IP.

    Most of the time there are no rules at all: whether there are any is read once per
    ``HOT_CACHE_SECONDS`` per process (so the first rule applies within a second), sparing
    each signature of a surge this query.
    """
    if not hot_cache.cached("abuse-rules-exist", _any_rules):
        return []
    key = ip_key(ip_address)
    conditions = [and_(AbuseRule.kind == RuleKind.EMAIL, AbuseRule.value == canonical),
                  and_(AbuseRule.kind == RuleKind.DOMAIN,
                       AbuseRule.value.in_(_domain_and_parents(email_domain(canonical))))]
    if key:
        conditions.append(and_(AbuseRule.kind == RuleKind.IP, AbuseRule.ip_low <= key,
                               AbuseRule.ip_high >= key))
    return list(db.session.execute(select(AbuseRule).where(or_(*conditions))).scalars())


def _any_rules() -> bool:
    return db.session.execute(select(AbuseRule.id).limit(1)).first() is not None


def deciding_rule(rules: list[AbuseRule]) -> AbuseRule | None:
    """The most specific of ``rules``: an email's over a domain's over an IP range's."""
    order = {RuleKind.EMAIL: 2, RuleKind.DOMAIN: 1, RuleKind.IP: 0}
    return max(rules, key=lambda r: (order[r.kind], r.specificity), default=None)


_BLOCKED = {RuleKind.EMAIL: Suspect.BLOCKED_EMAIL, RuleKind.DOMAIN: Suspect.BLOCKED_DOMAIN,
            RuleKind.IP: Suspect.BLOCKED_IP}


def suspect_reason(campaign_id: int, ip_address: str | None, canonical: str) -> Suspect | None:
    """Why a new support from this IP with this email would be held, or None.

    Also records the support against the per-IP limit (a Redis sliding window per IP and
    campaign, every attempt counted). An allow rule spares the support the limit.
    """
    rule = deciding_rule(matching_rules(ip_address, canonical))
    if rule is not None:
        return _BLOCKED[rule.kind] if rule.action == RuleAction.BLOCK else None
    if over_ip_limit(campaign_id, ip_address):
        return Suspect.RATE_LIMIT
    return None


def over_ip_limit(campaign_id: int, ip_address: str | None) -> bool:
    """Record one support from ``ip_address`` on the campaign; True if that is over a limit.

    One round trip: a sorted set of recent attempts (trimmed to what the longest window and
    largest amount need) is appended to and counted per window in a MULTI. When Redis is
    unreachable the support is not held: the database, not Redis, must decide what counts.
    """
    if not current_app.config["RATELIMIT_ENABLED"] or not ip_address:
        return False
    limits = parse_many(current_app.config["RATELIMIT_SUPPORT"])
    if not limits:
        return False
    from campaign.queue import redis_connection

    longest = max(limit.get_expiry() for limit in limits)
    keep = max(limit.amount for limit in limits) + 1
    key = f"groundswell:signing:{campaign_id}:{ip_address}"
    now = utcnow().timestamp()
    try:
        pipe = redis_connection().pipeline(transaction=True)
        pipe.zadd(key, {f"{now:.6f}:{uuid.uuid4().hex[:8]}": now})
        pipe.zremrangebyscore(key, "-inf", now - longest)
        pipe.zremrangebyrank(key, 0, -keep - 1)
        for limit in limits:
            pipe.zcount(key, now - limit.get_expiry(), "+inf")
        pipe.expire(key, longest)
        counts = pipe.execute()[3:3 + len(limits)]
    except RedisError:
        log.warning("per-IP signing limit unchecked: Redis unavailable")
        return False
    return any(count > limit.amount for count, limit in zip(counts, limits, strict=True))


# ---------------------------------------------------------------------------- invalidation


@dataclass(frozen=True)
class Conditions:
    campaign_id: int | None = None
    network: Network | None = None
    domain: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list:
        """The SQL conditions of the supports this would invalidate (not already suspect)."""
        clauses = [Support.suspect.is_(None)]
        if self.campaign_id is not None:
            clauses.append(Support.campaign_id == self.campaign_id)
        if self.network is not None:
            clauses += [Support.ip_key >= self.network.low, Support.ip_key <= self.network.high]
        if self.domain is not None:
            # The domain and its subdomains; domains hold no LIKE wildcards (validated).
            clauses.append(or_(Support.email_canonical.like(f"%@{self.domain}"),
                               Support.email_canonical.like(f"%.{self.domain}")))
        if self.since is not None:
            clauses.append(Support.created_at >= self.since)
        if self.until is not None:
            clauses.append(Support.created_at < self.until)
        return clauses


def conditions(campaign_slug: str | None = None, ip: str | None = None,
               domain: str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> Conditions:
    """Check what a moderator typed; raises ServiceError with a message for each mistake."""
    campaign_id = None
    if campaign_slug:
        campaign_id = db.session.execute(
            select(Campaign.id).filter_by(slug=campaign_slug.strip())).scalar()
        if campaign_id is None:
            raise ServiceError(_("There is no campaign “%(slug)s”.", slug=campaign_slug.strip()[:80]))
    network = parse_network(ip) if ip and ip.strip() else None
    domain = normalise_domain(domain) if domain and domain.strip() else None
    if since is not None and until is not None and since >= until:
        raise ServiceError(_("The time window must start before it ends."))
    if network is None and domain is None and since is None and until is None:
        raise ServiceError(_("Give at least one condition: an IP or range, an email domain, "
                           "or a time window."))
    return Conditions(campaign_id, network, domain, since, until)


@dataclass(frozen=True)
class Preview:
    matching: int  # supports that would be invalidated
    counted: int  # of those, how many count now
    campaigns: int  # how many campaigns they are on


def preview(cond: Conditions) -> Preview:
    """How many supports an invalidation with these conditions would take out of the counts."""
    counted = func.count().filter(Support.confirmed_at.is_not(None),
                                  Support.withdrawn_at.is_(None))
    matching, counted, campaigns = db.session.execute(
        select(func.count(), counted, func.count(func.distinct(Support.campaign_id)))
        .where(*cond.where())).one()
    return Preview(matching, counted, campaigns)


def start_invalidation(cond: Conditions, reason: str, moderator_id: int) -> Invalidation:
    """Record an invalidation and enqueue the job that carries it out. Commits first.

    Only supports that exist now are invalidated; later ones are judged when they come.
    """
    _require_moderator(moderator_id)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Say why these supports are invalid (moderators read it later)."))
    found = preview(cond)
    if found.matching == 0:
        raise ServiceError(_("No support matches these conditions; nothing to invalidate."))
    inv = Invalidation(
        campaign_id=cond.campaign_id, ip=cond.network.text if cond.network else None,
        ip_low=cond.network.low if cond.network else None,
        ip_high=cond.network.high if cond.network else None, domain=cond.domain,
        since=cond.since, until=cond.until, reason=reason[:200], matched=found.matching,
        created_by_id=moderator_id, created_at=utcnow())
    db.session.add(inv)
    db.session.commit()
    from campaign.jobs.abuse import enqueue_invalidation

    enqueue_invalidation(inv.id)
    return inv


def conditions_of(inv: Invalidation) -> Conditions:
    network = Network(inv.ip, inv.ip_low, inv.ip_high) if inv.ip else None
    return Conditions(inv.campaign_id, network, inv.domain, inv.since, inv.until)


INVALIDATE_BATCH = 1000


def invalidate_batch(invalidation_id: int, batch: int = INVALIDATE_BATCH) -> int:
    """Mark the next ``batch`` matching supports invalidated, taking the counted ones out of
    the counts by appending negative deltas in the same transaction. Commits; returns how
    many were marked (0: done). Safe to run again: marked supports no longer match."""
    inv = db.session.get(Invalidation, invalidation_id)
    rows = db.session.execute(
        select(Support.id, Support.campaign_id, Support.country, Support.confirmed_at,
               Support.withdrawn_at, Support.monthly_spend)
        .where(*conditions_of(inv).where(), Support.created_at <= inv.created_at)
        .order_by(Support.id).limit(batch).with_for_update()).all()
    if not rows:
        db.session.commit()
        return 0
    db.session.execute(
        update(Support).where(Support.id.in_([r.id for r in rows]))
        .values(suspect=Suspect.INVALIDATED.value, invalidation_id=inv.id,
                suspect_confirmed_at=func.coalesce(Support.suspect_confirmed_at,
                                                   Support.confirmed_at),
                confirmed_at=None))
    removed: Counter[tuple[int, str]] = Counter()
    spend: defaultdict[tuple[int, str], int] = defaultdict(int)
    for r in rows:
        if r.confirmed_at is not None and r.withdrawn_at is None:
            removed[r.campaign_id, r.country] += 1
            spend[r.campaign_id, r.country] += r.monthly_spend or 0
    for (campaign_id, country), n in sorted(removed.items()):
        db.session.add(CountDelta(campaign_id=campaign_id, country=country, delta=-n,
                                  spend=-spend[campaign_id, country]))
    inv.invalidated += len(rows)
    db.session.commit()
    return len(rows)


def affected_campaigns(invalidation_id: int) -> list[int]:
    return list(db.session.execute(
        select(Support.campaign_id).where(Support.invalidation_id == invalidation_id)
        .distinct().order_by(Support.campaign_id)).scalars())


def unfinished_invalidations(older_than: timedelta) -> list[int]:
    return list(db.session.execute(
        select(Invalidation.id).where(Invalidation.finished_at.is_(None),
                                      Invalidation.created_at < utcnow() - older_than)
        .order_by(Invalidation.id)).scalars())


def finish_invalidation(invalidation_id: int) -> None:
    db.session.execute(update(Invalidation).where(Invalidation.id == invalidation_id,
                                                  Invalidation.finished_at.is_(None))
                       .values(finished_at=utcnow()))
    db.session.commit()


# ---------------------------------------------------------------------------- the report


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def report_hour(start: datetime) -> int:
    """Write the report of IPs and email domains that signed a campaign at least
    ``ABUSE_REPORT_THRESHOLD`` times in the hour from ``start``. Allow-listed IPs and
    domains are left out. Replaces any earlier report of that hour. Commits; returns lines.
    """
    start = hour_start(start)
    threshold = current_app.config["ABUSE_REPORT_THRESHOLD"]
    rows = db.session.execute(
        select(Support.campaign_id, Support.ip_address, Support.email_canonical, Support.suspect)
        .where(Support.created_at >= start, Support.created_at < start + timedelta(hours=1))
    ).all()
    tallies: dict[tuple[int, RuleKind, str], list[int]] = defaultdict(lambda: [0, 0])
    for campaign_id, ip, canonical, suspect in rows:
        keys = [(campaign_id, RuleKind.DOMAIN, email_domain(canonical))]
        if ip:
            keys.append((campaign_id, RuleKind.IP, ip))
        for key in keys:
            tallies[key][0] += 1
            tallies[key][1] += suspect is not None
    heavy = {k: v for k, v in tallies.items() if v[0] >= threshold and not _allowed(k[1], k[2])}
    db.session.execute(delete(SigningReport).where(SigningReport.hour == start))
    for (campaign_id, kind, value), (supports, held) in sorted(heavy.items()):
        db.session.add(SigningReport(hour=start, campaign_id=campaign_id, kind=kind,
                                     value=value[:254], supports=supports, held=held))
    db.session.commit()
    return len(heavy)


def _allowed(kind: RuleKind, value: str) -> bool:
    if kind == RuleKind.IP:
        key = ip_key(value)
        condition = and_(AbuseRule.kind == RuleKind.IP, AbuseRule.ip_low <= key,
                         AbuseRule.ip_high >= key) if key else None
    else:
        condition = and_(AbuseRule.kind == RuleKind.DOMAIN,
                         AbuseRule.value.in_(_domain_and_parents(value)))
    if condition is None:
        return False
    rules = list(db.session.execute(select(AbuseRule).where(condition)).scalars())
    rule = deciding_rule(rules)
    return rule is not None and rule.action == RuleAction.ALLOW


def recent_report(hours: int = 48) -> list[SigningReport]:
    since = hour_start(utcnow()) - timedelta(hours=hours)
    return list(db.session.execute(
        select(SigningReport).where(SigningReport.hour >= since)
        .order_by(SigningReport.hour.desc(), SigningReport.supports.desc(), SigningReport.id)
    ).scalars())


def _require_moderator(user_id: int) -> None:
    user = db.session.get(User, user_id)
    if user is None or not user.is_moderator:
        raise ServiceError(_("Only moderators can do this."))


# ---------------------------------------------------------------------------- mail bombing


def confirmation_email_allowed(send_key: str, mailbox: str, ip_address: str | None) -> bool:
    """Record confirmation email ``send_key`` to ``mailbox`` (a canonical address) asked from
    ``ip_address``; False if that is over the per-mailbox or per-IP cap, across campaigns.

    Each cap is a sorted set of send keys in Redis: a job run twice records its email once.
    A send over a cap is taken back out, so refused attempts do not lengthen the wait. When
    Redis is unreachable the email goes (confirming a support must not depend on Redis).
    """
    if not current_app.config["RATELIMIT_ENABLED"]:
        return True
    from campaign.queue import redis_connection

    caps = [(f"groundswell:confirmations:mailbox:{mailbox}",
             parse_many(current_app.config["RATELIMIT_CONFIRMATION_MAILBOX"]))]
    if ip_address:
        caps.append((f"groundswell:confirmations:ip:{ip_address}",
                     parse_many(current_app.config["RATELIMIT_CONFIRMATION_IP"])))
    caps = [(key, limits) for key, limits in caps if limits]
    now = utcnow().timestamp()
    try:
        redis = redis_connection()
        pipe = redis.pipeline(transaction=True)
        for key, limits in caps:
            longest = max(limit.get_expiry() for limit in limits)
            pipe.zadd(key, {send_key: now}, nx=True)
            pipe.zremrangebyscore(key, "-inf", now - longest)
            for limit in limits:
                pipe.zcount(key, now - limit.get_expiry(), "+inf")
            pipe.expire(key, longest)
        results = iter(pipe.execute())
        over = False
        for _key, limits in caps:
            next(results), next(results)
            counts = [next(results) for _limit in limits]
            next(results)
            over = over or any(n > limit.amount for n, limit in zip(counts, limits, strict=True))
        if over:
            pipe = redis.pipeline(transaction=True)
            for key, _limits in caps:
                pipe.zrem(key, send_key)
            pipe.execute()
    except RedisError:
        log.warning("confirmation email caps unchecked: Redis unavailable")
        return True
    return not over
