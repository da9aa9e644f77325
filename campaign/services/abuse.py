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

import functools
import ipaddress
import logging
import re
import unicodedata
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from limits import parse_many
from redis.exceptions import RedisError
from sqlalchemy import and_, case, delete, func, or_, select, update

from campaign import hot_cache, outbox
from campaign.dbutil import insert_ignoring_conflicts
from campaign.extensions import db
from campaign.models import (
    HELD_FOR_REVIEW,
    AbuseRule,
    Campaign,
    CountDelta,
    DecisionAction,
    Delivery,
    Invalidation,
    RuleAction,
    RuleKind,
    SigningReport,
    Stall,
    Support,
    Suspect,
    canonical_email,
    day_of,
    utcnow,
)
from campaign.outbox import later
from campaign.queue import redis_connection, run_script
from campaign.services import ServiceError, require_moderator
from campaign.services.transparency import append_log_entry

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
    ip = _parsed_ip(address)
    if ip is None:
        return None
    return f"{int(ip) | _IPV4_MAPPED if ip.version == 4 else int(ip):032x}"


#: ``::ffff:0:0``, the prefix of IPv4-mapped IPv6 addresses (``::ffff:a.b.c.d``).
_IPV4_MAPPED = 0xFFFF << 32


@functools.lru_cache(maxsize=1024)
def _parsed_ip(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``address`` parsed, or None: a signature reads its address for its key and its limit,
    parsed once (and a visitor's next signatures find it parsed)."""
    try:
        return ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None


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
        raise ServiceError(
            _("“%(text)s” is not an IP address or a range like 203.0.113.0/24.", text=text[:60])
        ) from None
    if network.prefixlen < WIDEST_PREFIX[network.version]:
        raise ServiceError(
            _(
                "A range wider than /%(prefix)s would catch too many people; use a narrower one.",
                prefix=WIDEST_PREFIX[network.version],
            )
        )
    single = network.num_addresses == 1
    return Network(
        str(network.network_address) if single else str(network),
        ip_key(str(network.network_address)),
        ip_key(str(network.broadcast_address)),
    )


def normalise_domain(text: str) -> str:
    """An email domain typed by a moderator (``@`` and case ignored); raises ServiceError."""
    domain = unicodedata.normalize("NFKC", text or "").strip().lower().lstrip("@").rstrip(".")
    try:  # as supporters' addresses are stored: IDNA, so look-alikes meet the same rule
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    if len(domain) > 253 or not _DOMAIN.match(domain):
        raise ServiceError(
            _("“%(text)s” is not an email domain like example.org.", text=(text or "").strip()[:60])
        )
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
    require_moderator(moderator_id)
    try:
        kind, action = RuleKind(kind), RuleAction(action)
    except ValueError:
        raise ServiceError(_("Choose what to list (IP, domain or email) and allow or block.")) from None
    low = high = None
    if kind == RuleKind.IP:
        network = parse_network(value)
        value, low, high = network.text, network.low, network.high
    elif kind == RuleKind.DOMAIN:
        value = normalise_domain(value)
    else:
        value = normalise_rule_email(value)
    rule_id = insert_ignoring_conflicts(
        AbuseRule,
        ["kind", "value"],
        kind=kind,
        action=action,
        value=value,
        ip_low=low,
        ip_high=high,
        note=(note or "").strip()[:200] or None,
        created_by_id=moderator_id,
        created_at=utcnow(),
    )
    if rule_id is None:
        db.session.rollback()
        existing = db.session.execute(select(AbuseRule).filter_by(kind=kind, value=value)).scalar_one()
        raise ServiceError(
            _("%(value)s is already on the block list.", value=value)
            if existing.action == RuleAction.BLOCK
            else _("%(value)s is already on the allow list.", value=value)
        )
    db.session.commit()
    return db.session.get(AbuseRule, rule_id)


def remove_rule(rule_id: int, moderator_id: int) -> str | None:
    """Take a rule off its list. Commits; returns its value, or None if it was gone already."""
    require_moderator(moderator_id)
    value = db.session.execute(
        delete(AbuseRule).where(AbuseRule.id == rule_id).returning(AbuseRule.value)
    ).scalar()
    db.session.commit()
    return value


def matching_rules(ip_address: str | None, canonical: str) -> list[AbuseRule]:
    """Every rule that names this email, its domain (or a parent) or a range holding the IP.

    Most of the time there are no rules at all: whether there are any is read once per
    ``HOT_CACHE_SECONDS`` per process (so the first rule applies within two seconds), sparing
    each signature of a surge this query.
    """
    if not hot_cache.cached("abuse-rules-exist", _any_rules):
        return []
    key = ip_key(ip_address)
    conditions = [
        and_(AbuseRule.kind == RuleKind.EMAIL, AbuseRule.value == canonical),
        and_(
            AbuseRule.kind == RuleKind.DOMAIN,
            AbuseRule.value.in_(_domain_and_parents(email_domain(canonical))),
        ),
    ]
    if key:
        conditions.append(
            and_(AbuseRule.kind == RuleKind.IP, AbuseRule.ip_low <= key, AbuseRule.ip_high >= key)
        )
    return list(db.session.execute(select(AbuseRule).where(or_(*conditions))).scalars())


def _any_rules() -> bool:
    return db.session.execute(select(AbuseRule.id).limit(1)).first() is not None


def deciding_rule(rules: list[AbuseRule]) -> AbuseRule | None:
    """The most specific of ``rules``: an email's over a domain's over an IP range's."""
    order = {RuleKind.EMAIL: 2, RuleKind.DOMAIN: 1, RuleKind.IP: 0}
    return max(rules, key=lambda r: (order[r.kind], r.specificity), default=None)


_BLOCKED = {
    RuleKind.EMAIL: Suspect.BLOCKED_EMAIL,
    RuleKind.DOMAIN: Suspect.BLOCKED_DOMAIN,
    RuleKind.IP: Suspect.BLOCKED_IP,
}


def suspect_reason(
    campaign_id: int, ip_address: str | None, canonical: str, stall_id: int | None = None
) -> Suspect | None:
    """Why a new support from this IP with this email would be held, or None.

    Also records the support against the per-IP limit (a Redis sliding window per IP and
    campaign, every attempt counted), or, signed at a stall, against the stall's limit
    instead (everyone at a stall shares its network). An allow rule spares the support
    either limit.
    """
    rule = deciding_rule(matching_rules(ip_address, canonical))
    if rule is not None:
        return _BLOCKED[rule.kind] if rule.action == RuleAction.BLOCK else None
    if stall_id is not None:
        return Suspect.STALL_LIMIT if over_stall_limit(stall_id) else None
    if over_ip_limit(campaign_id, ip_address, canonical):
        return Suspect.RATE_LIMIT
    return None


def rule_decides(ip_address: str | None, canonical: str) -> tuple[bool, Suspect | None]:
    """Whether an allow or block rule decides about this support (then no limit applies),
    and the reason a block rule holds it for."""
    rule = deciding_rule(matching_rules(ip_address, canonical))
    if rule is None:
        return False, None
    return True, _BLOCKED[rule.kind] if rule.action == RuleAction.BLOCK else None


#: A signature's one Redis round trip, run once its statement committed: the attempt
#: recorded in its limit's sliding window (KEYS[1], skipped when empty: a rule decided or no
#: limit applies) and counted per window; then, when the signature owes a confirmation
#: email, the "mail is waiting" counter raised (KEYS[2]) and a dispatcher asked for unless a
#: request stands (KEYS[3], SET NX PX). Returns {asked (0/1), count per window...}.
#: ARGV: now, member, longest window, entries kept, owes mail (0/1), request token,
#: request ms, then each window's seconds.
SIGNATURE_SCRIPT = """
local counts = {}
if KEYS[1] ~= '' then
  local now = tonumber(ARGV[1])
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[4]) - 1)
  for i = 8, #ARGV do
    counts[#counts + 1] = redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[i]), '+inf')
  end
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
local asked = 0
if ARGV[5] == '1' then
  redis.call('INCR', KEYS[2])
  if redis.call('SET', KEYS[3], ARGV[6], 'NX', 'PX', ARGV[7]) then asked = 1 end
end
return {asked, unpack(counts)}
"""


@functools.lru_cache(maxsize=16)
def _parsed_limits(text: str) -> tuple:
    """A limit setting ("5 per minute; 20 per day") parsed once, not for every signature."""
    return tuple(parse_many(text))


def record_signature(
    campaign_id: int,
    ip_address: str | None,
    canonical: str,
    stall_id: int | None,
    *,
    limited: bool,
    owes_email: bool,
) -> tuple[bool, str | None]:
    """A signature's one Redis round trip, after its commit: its limit and its email.

    Records the attempt against the per-IP limit of the campaign (or, signed at a stall,
    the stall's limit) when ``limited`` (no allow or block rule decided), and, when
    ``owes_email``, tells the dispatcher an email is waiting. Returns whether the attempt
    is over the limit, and the token of the dispatcher this call asked for (the caller
    enqueues it), or None. When Redis is unreachable nothing is held and no dispatcher
    asked: the database has the support and its owed email, which the sweeper finds.
    In a gevent worker the round trip is shared with the signatures of other requests
    waiting at the same moment (:class:`campaign.queue.JoinedScripts`): the answer is the
    same, the CPU a round trip costs the worker is paid once for them all.
    """
    key, limits, who = "", [], canonical
    if limited and current_app.config["RATELIMIT_ENABLED"]:
        if stall_id is not None:
            limits = _parsed_limits(current_app.config["RATELIMIT_STALL"])
            key, who = f"groundswell:stall:{stall_id}", None
        elif ip_address and (address_key := limit_key(ip_address)) is not None:
            limits = _parsed_limits(current_app.config["RATELIMIT_SUPPORT"])
            key = f"groundswell:signing:{campaign_id}:{address_key}"
    if not limits:
        key = ""
    if not key and not owes_email:
        return False, None
    now = utcnow().timestamp()
    token = uuid.uuid4().hex
    args = [
        f"{now:.6f}",
        who or f"{now:.6f}:{uuid.uuid4().hex[:8]}",
        max((limit.get_expiry() for limit in limits), default=0),
        max((limit.amount for limit in limits), default=0) + 1,
        1 if owes_email else 0,
        token,
        outbox.dispatch_ttl_ms(),
        *(limit.get_expiry() for limit in limits),
    ]
    try:
        asked, *counts = run_script(
            "signature",
            SIGNATURE_SCRIPT,
            [key, outbox.CONFIRMATIONS_WAITING, outbox.CONFIRMATIONS_REQUESTED],
            args,
            joined=True,
        )
    except RedisError:
        log.warning("signature's limit and email flag not recorded: Redis unavailable")
        return False, None
    over = any(count > limit.amount for count, limit in zip(counts, limits, strict=True))
    return over, token if asked else None


def over_ip_limit(campaign_id: int, ip_address: str | None, canonical: str) -> bool:
    """Record one support from ``ip_address`` on the campaign by the person at ``canonical``;
    True if that is over a limit.

    A person is counted once per IP and campaign: one who sends the form again (after a 503
    during a failover, say) replaces their own attempt instead of being held as a second one.

    One round trip: a sorted set of recent attempts (trimmed to what the longest window and
    largest amount need) is appended to and counted per window in a MULTI. When Redis is
    unreachable the support is not held: the database, not Redis, must decide what counts.
    """
    if not current_app.config["RATELIMIT_ENABLED"] or not ip_address:
        return False
    limits = _parsed_limits(current_app.config["RATELIMIT_SUPPORT"])
    if not limits:
        return False
    key = limit_key(ip_address)
    if key is None:
        return False
    return _over_limits(f"groundswell:signing:{campaign_id}:{key}", limits, who=canonical)


def over_stall_limit(stall_id: int) -> bool:
    """Record one support at the stall; True if that is over ``RATELIMIT_STALL`` (a stall
    whose link leaked must not become a way round the per-IP limit)."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return False
    limits = _parsed_limits(current_app.config["RATELIMIT_STALL"])
    return bool(limits) and _over_limits(f"groundswell:stall:{stall_id}", limits)


def limit_key(address: str | None) -> str | None:
    """Who the per-IP limit counts: an IPv4 address, or an IPv6 address's /64.

    One IPv6 host is given a whole /64 by its provider and picks any address in it, so
    counting addresses would let it sign as often as it likes. An IPv4-mapped IPv6 address
    counts as its IPv4 address.
    """
    ip = _parsed_ip(address)
    if ip is None:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.version == 4:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def _over_limits(key: str, limits: list, who: str | None = None) -> bool:
    """Record one attempt under ``key`` (by ``who``: theirs replaces their earlier one); True if
    that is over one of ``limits``."""
    longest = max(limit.get_expiry() for limit in limits)
    keep = max(limit.amount for limit in limits) + 1
    now = utcnow().timestamp()
    try:
        pipe = redis_connection().pipeline(transaction=True)
        pipe.zadd(key, {who or f"{now:.6f}:{uuid.uuid4().hex[:8]}": now})
        pipe.zremrangebyscore(key, "-inf", now - longest)
        pipe.zremrangebyrank(key, 0, -keep - 1)
        for limit in limits:
            pipe.zcount(key, now - limit.get_expiry(), "+inf")
        pipe.expire(key, longest)
        counts = pipe.execute()[3 : 3 + len(limits)]
    except RedisError:
        log.warning("signing limit %s unchecked: Redis unavailable", key.split(":")[1])
        return False
    return any(count > limit.amount for count, limit in zip(counts, limits, strict=True))


# ---------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Conditions:
    """Which supports a moderator's decision is about; every condition given must hold.

    An invalidation takes supports that are not held; a release takes held ones (those
    ``held_reason`` names, or any held for review: never an invalidated one unless
    ``held_reason`` says so, since undoing an invalidation must be meant).
    """

    campaign_id: int | None = None
    network: Network | None = None
    domain: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    stall_id: int | None = None
    held_reason: str | None = None
    support_id: int | None = None
    action: DecisionAction = DecisionAction.INVALIDATE

    @property
    def is_release(self) -> bool:
        return self.action == DecisionAction.RELEASE

    def where(self) -> list:
        """The SQL conditions of the supports this decision would change."""
        if self.is_release:
            # A withdrawn support would not count anyway; it stays as it is.
            clauses = [
                Support.suspect.in_([self.held_reason] if self.held_reason else HELD_FOR_REVIEW),
                Support.withdrawn_at.is_(None),
            ]
        else:
            clauses = [Support.suspect.is_(None)]
        if self.campaign_id is not None:
            clauses.append(Support.campaign_id == self.campaign_id)
        if self.network is not None:
            clauses += [Support.ip_key >= self.network.low, Support.ip_key <= self.network.high]
        if self.domain is not None:
            # The domain and its subdomains; domains hold no LIKE wildcards (validated).
            clauses.append(
                or_(
                    Support.email_canonical.like(f"%@{self.domain}"),
                    Support.email_canonical.like(f"%.{self.domain}"),
                )
            )
        if self.since is not None:
            clauses.append(Support.created_at >= self.since)
        if self.until is not None:
            clauses.append(Support.created_at < self.until)
        if self.stall_id is not None:
            clauses.append(Support.stall_id == self.stall_id)
        if self.support_id is not None:
            clauses.append(Support.id == self.support_id)
        return clauses


def conditions(
    campaign_slug: str | None = None,
    ip: str | None = None,
    domain: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    stall: str | int | None = None,
    held_reason: str | None = None,
    support: str | int | None = None,
    action: DecisionAction | str = DecisionAction.INVALIDATE,
) -> Conditions:
    """Check what a moderator typed; raises ServiceError with a message for each mistake."""
    action = DecisionAction(action)
    campaign_id = None
    if campaign_slug:
        campaign_id = db.session.execute(select(Campaign.id).filter_by(slug=campaign_slug.strip())).scalar()
        if campaign_id is None:
            raise ServiceError(_("There is no campaign “%(slug)s”.", slug=campaign_slug.strip()[:80]))
    network = parse_network(ip) if ip and ip.strip() else None
    domain = normalise_domain(domain) if domain and domain.strip() else None
    if since is not None and until is not None and since >= until:
        raise ServiceError(_("The time window must start before it ends."))
    stall_id = _existing_id(Stall, stall, _("There is no stall number %(number)s."))
    support_id = _existing_id(Support, support, _("There is no support number %(number)s."))
    if held_reason:
        if action != DecisionAction.RELEASE or held_reason not in set(Suspect):
            raise ServiceError(_("Choose one of the reasons supports are held."))
    else:
        held_reason = None
    if not any(c is not None for c in (network, domain, since, until, stall_id, held_reason, support_id)):
        raise ServiceError(
            _("Give at least one condition: an IP or range, an email domain, or a time window.")
            if action == DecisionAction.INVALIDATE
            else _(
                "Give at least one condition: why they are held, an IP or range, "
                "an email domain, a time window or a stall."
            )
        )
    return Conditions(campaign_id, network, domain, since, until, stall_id, held_reason, support_id, action)


def _existing_id(model, typed: str | int | None, missing: str) -> int | None:
    """The id of a ``model`` row typed as a number, or None if nothing was typed."""
    text = str(typed).strip() if typed is not None else ""
    if not text:
        return None
    number = int(text) if text.isdigit() and len(text) <= 12 else None
    if number is None or db.session.get(model, number) is None:
        raise ServiceError(missing % {"number": text[:20]})
    return number


@dataclass(frozen=True)
class Preview:
    matching: int  # supports the decision would change
    counted: int  # of those, how many count now (invalidate) or would at once (release)
    campaigns: int  # how many campaigns they are on


def preview(cond: Conditions) -> Preview:
    """How many supports a decision with these conditions would change, and how many of
    them would leave the counts (an invalidation) or join them at once (a release: those
    already confirmed by email; the others join when they confirm)."""
    confirmed = Support.suspect_confirmed_at if cond.is_release else Support.confirmed_at
    counted = func.count().filter(confirmed.is_not(None), Support.withdrawn_at.is_(None))
    matching, counted, campaigns = db.session.execute(
        select(func.count(), counted, func.count(func.distinct(Support.campaign_id))).where(*cond.where())
    ).one()
    return Preview(matching, counted, campaigns)


def start_decision(cond: Conditions, reason: str, moderator_id: int) -> Invalidation:
    """Record an invalidation or a release (the audit log's row) and enqueue the job that
    carries it out. Commits first; raises ServiceError without a reason or a match.

    Only supports that exist now are changed; later ones are judged when they come.
    """
    require_moderator(moderator_id)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(
            _("Say why these supports are released (moderators read it later).")
            if cond.is_release
            else _("Say why these supports are invalid (moderators read it later).")
        )
    found = preview(cond)
    if found.matching == 0:
        raise ServiceError(
            _("No held support matches these conditions; nothing to release.")
            if cond.is_release
            else _("No support matches these conditions; nothing to invalidate.")
        )
    campaign_id = cond.campaign_id
    if campaign_id is None and cond.stall_id is not None:
        campaign_id = db.session.get(Stall, cond.stall_id).campaign_id
    inv = Invalidation(
        action=cond.action,
        campaign_id=campaign_id,
        ip=cond.network.text if cond.network else None,
        ip_low=cond.network.low if cond.network else None,
        ip_high=cond.network.high if cond.network else None,
        domain=cond.domain,
        since=cond.since,
        until=cond.until,
        stall_id=cond.stall_id,
        held_reason=cond.held_reason,
        support_id=cond.support_id,
        reason=reason[:200],
        matched=found.matching,
        created_by_id=moderator_id,
        created_at=utcnow(),
    )
    db.session.add(inv)
    db.session.flush()
    later("invalidation", inv.id)
    db.session.commit()
    return inv


def conditions_of(inv: Invalidation) -> Conditions:
    network = Network(inv.ip, inv.ip_low, inv.ip_high) if inv.ip else None
    return Conditions(
        inv.campaign_id,
        network,
        inv.domain,
        inv.since,
        inv.until,
        inv.stall_id,
        inv.held_reason,
        inv.support_id,
        inv.action,
    )


INVALIDATE_BATCH = 1000


def decide_batch(invalidation_id: int, batch: int = INVALIDATE_BATCH) -> int:
    """Carry out the next ``batch`` supports of a decision. Commits; returns how many were
    changed (0: done). Safe to run again: changed supports no longer match.

    An invalidation marks them invalidated and takes the counted ones out of the counts;
    a release clears their hold, and those confirmed by email while held count from then
    (``suspect_confirmed_at`` becomes ``confirmed_at``; the others count when they
    confirm). Either way the count deltas are appended in the same transaction.
    """
    inv = db.session.get(Invalidation, invalidation_id)
    rows = db.session.execute(
        select(
            Support.id,
            Support.campaign_id,
            Support.country,
            Support.confirmed_at,
            Support.suspect_confirmed_at,
            Support.withdrawn_at,
            Support.monthly_spend,
        )
        .where(*conditions_of(inv).where(), Support.created_at <= inv.created_at)
        .order_by(Support.id)
        .limit(batch)
        .with_for_update()
    ).all()
    if not rows:
        db.session.commit()
        return 0
    release = inv.action == DecisionAction.RELEASE
    if release:
        # SET reads the row as it was: confirmed_at takes the old suspect_confirmed_at.
        values = dict(suspect=None, confirmed_at=Support.suspect_confirmed_at, suspect_confirmed_at=None)
    else:
        values = dict(
            suspect=Suspect.INVALIDATED.value,
            suspect_confirmed_at=func.coalesce(Support.suspect_confirmed_at, Support.confirmed_at),
            confirmed_at=None,
        )
    db.session.execute(
        update(Support).where(Support.id.in_([r.id for r in rows])).values(invalidation_id=inv.id, **values)
    )
    sign = 1 if release else -1
    changed: Counter[tuple[int, str, date]] = Counter()
    spend: defaultdict[tuple[int, str, date], int] = defaultdict(int)
    for r in rows:
        counted = r.suspect_confirmed_at if release else r.confirmed_at
        if counted is not None and r.withdrawn_at is None:
            key = (r.campaign_id, r.country, day_of(counted))  # the day it counts (or counted) in
            changed[key] += 1
            spend[key] += r.monthly_spend or 0
    for (campaign_id, country, day), n in sorted(changed.items()):
        db.session.add(
            CountDelta(
                campaign_id=campaign_id,
                country=country,
                delta=sign * n,
                spend=sign * spend[campaign_id, country, day],
                day=day,
            )
        )
    inv.invalidated += len(rows)
    db.session.commit()
    return len(rows)


def affected_campaigns(invalidation_id: int) -> list[int]:
    return list(
        db.session.execute(
            select(Support.campaign_id)
            .where(Support.invalidation_id == invalidation_id)
            .distinct()
            .order_by(Support.campaign_id)
        ).scalars()
    )


def unfinished_invalidations(older_than: timedelta) -> list[int]:
    return list(
        db.session.execute(
            select(Invalidation.id)
            .where(Invalidation.finished_at.is_(None), Invalidation.created_at < utcnow() - older_than)
            .order_by(Invalidation.id)
        ).scalars()
    )


def finish_invalidation(invalidation_id: int) -> None:
    """Mark the decision finished and, in the same transaction (so once), append to the
    public log how many supports it took out of (an invalidation) or added to (a release)
    each round already delivered. Commits."""
    claimed = db.session.execute(
        update(Invalidation)
        .where(Invalidation.id == invalidation_id, Invalidation.finished_at.is_(None))
        .values(finished_at=utcnow())
        .returning(Invalidation.id)
    ).first()
    if claimed is not None:
        which = Support.invalidation_id == invalidation_id
        if db.session.get(Invalidation, invalidation_id).action == DecisionAction.RELEASE:
            log_releases_after_delivery(invalidation_id, which)
        else:
            log_removals_after_delivery("invalidation", invalidation_id, which)
    db.session.commit()


# ---------------------------------------------------------------------------- held supports

_V4_MAPPED = "00000000000000000000ffff"  # the ip_key prefix of every IPv4 address


@dataclass(frozen=True)
class HeldGroup:
    value: str  # a Suspect value, a range, a domain or a campaign id
    supports: int
    confirmed: int  # of those, confirmed by email (they count as soon as released)


@dataclass(frozen=True)
class HeldOverview:
    total: int
    confirmed: int
    by_reason: list[HeldGroup]
    by_range: list[HeldGroup]
    by_domain: list[HeldGroup]
    by_campaign: list[HeldGroup]
    sample: list[Support]


def held_filter(campaign_id: int | None = None, stall_id: int | None = None) -> list:
    """Supports held for review (not invalidated, not withdrawn), on one campaign or stall."""
    clauses = [Support.suspect.in_(HELD_FOR_REVIEW), Support.withdrawn_at.is_(None)]
    if campaign_id is not None:
        clauses.append(Support.campaign_id == campaign_id)
    if stall_id is not None:
        clauses.append(Support.stall_id == stall_id)
    return clauses


def held_count(campaign_id: int) -> int:
    """How many supports of the campaign wait for a moderator's review."""
    return db.session.execute(select(func.count()).where(*held_filter(campaign_id))).scalar_one()


def held_overview(
    campaign_id: int | None = None, stall_id: int | None = None, groups: int = 20, sample: int = 50
) -> HeldOverview:
    """Held supports grouped by why they are held, IP range, email domain and campaign
    (the largest ``groups`` of each), with the newest ``sample`` of them."""
    where = held_filter(campaign_id, stall_id)
    confirmed = func.count(Support.suspect_confirmed_at)

    def grouped(expr) -> list[tuple]:
        return db.session.execute(
            select(expr, func.count(), confirmed)
            .where(*where, expr.is_not(None))
            .group_by(expr)
            .order_by(func.count().desc(), expr)
            .limit(groups)
        ).all()

    total, total_confirmed = db.session.execute(select(func.count(), confirmed).where(*where)).one()
    ranges = case(
        (Support.ip_key.like(_V4_MAPPED + "%"), func.substr(Support.ip_key, 1, 30)),
        else_=func.substr(Support.ip_key, 1, 16),
    )
    rows = (
        db.session.execute(
            select(Support).where(*where).order_by(Support.created_at.desc(), Support.id.desc()).limit(sample)
        )
        .scalars()
        .all()
    )
    return HeldOverview(
        total,
        total_confirmed,
        by_reason=[HeldGroup(*row) for row in grouped(Support.suspect)],
        by_range=[HeldGroup(_range_of_key_prefix(p), n, c) for p, n, c in grouped(ranges)],
        by_domain=[HeldGroup(*row) for row in grouped(_domain_of(Support.email_canonical))],
        by_campaign=[]
        if campaign_id is not None
        else [HeldGroup(str(cid), n, c) for cid, n, c in grouped(Support.campaign_id)],
        sample=list(rows),
    )


def _range_of_key_prefix(prefix: str) -> str:
    """The range an ip_key prefix stands for: 30 hex digits of an IPv4 key give its /24
    ("203.0.113.0/24"), 16 of an IPv6 key its /64."""
    address = ipaddress.IPv6Address(int(prefix.ljust(32, "0"), 16))
    if len(prefix) == 30 and address.ipv4_mapped is not None:
        return f"{address.ipv4_mapped}/24"
    return f"{address}/64"


def _domain_of(email):
    """SQL for the domain of an email column (each backend spells it its own way)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.split_part(email, "@", 2)
    return func.substr(email, func.instr(email, "@") + 1)


def log_removals_after_delivery(kind: str, reference: int, which) -> int:
    """Append to the public log, for each delivered round whose package held supports that
    match ``which`` (a SQL condition on Support), how many of them were taken back
    (``kind``: "invalidation" or "release"; ``reference``: the id of what did it). In the
    caller's transaction (no commit). Returns the number of entries appended."""
    rows = db.session.execute(
        select(Campaign.slug, Delivery.round, func.count(Support.id))
        .join(
            Delivery,
            and_(
                Delivery.campaign_id == Support.campaign_id,
                Support.id > Delivery.after_support_id,
                Support.id <= Delivery.up_to_support_id,
            ),
        )
        .join(Campaign, Campaign.id == Support.campaign_id)
        # Only supports the package held: counted when it was built, not withdrawn before.
        .where(
            which,
            Delivery.sent_at.is_not(None),
            func.coalesce(Support.confirmed_at, Support.suspect_confirmed_at) <= Delivery.sent_at,
            or_(Support.withdrawn_at.is_(None), Support.withdrawn_at > Delivery.sent_at),
        )
        .group_by(Campaign.slug, Delivery.round)
        .order_by(Campaign.slug, Delivery.round)
    ).all()
    for slug, round_, count in rows:
        append_log_entry(kind, {"campaign": slug, "round": round_, "removed": count, kind: reference})
    return len(rows)


def log_releases_after_delivery(reference: int, which) -> int:
    """Append to the public log, for each delivered round whose range of supports holds
    supports matching ``which`` that were held when it was built (so not in its package)
    and now count, how many (``reference``: the release's id). In the caller's transaction
    (no commit). Returns the number of entries appended."""
    rows = db.session.execute(
        select(Campaign.slug, Delivery.round, func.count(Support.id))
        .join(
            Delivery,
            and_(
                Delivery.campaign_id == Support.campaign_id,
                Support.id > Delivery.after_support_id,
                Support.id <= Delivery.up_to_support_id,
            ),
        )
        .join(Campaign, Campaign.id == Support.campaign_id)
        .where(which, Delivery.sent_at.is_not(None))
        .group_by(Campaign.slug, Delivery.round)
        .order_by(Campaign.slug, Delivery.round)
    ).all()
    for slug, round_, count in rows:
        append_log_entry(
            "release", {"campaign": slug, "round": round_, "released": count, "release": reference}
        )
    return len(rows)


# ---------------------------------------------------------------------------- the report


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def report_hour(start: datetime) -> int:
    """Write the report of the hour from ``start``. Commits; returns how many lines.

    Two kinds of line: an IP or email domain that signed one campaign at least
    ``ABUSE_REPORT_THRESHOLD`` times; and an IP, IP range (IPv4 /24, IPv6 /64) or email
    domain that signed at least ``ABUSE_SPREAD_THRESHOLD`` campaigns, however few times
    each (a bot spreading thin stays under every per-campaign limit). Allow-listed IPs and
    domains are left out. Replaces any earlier report of that hour.
    """
    start = hour_start(start)
    threshold = current_app.config["ABUSE_REPORT_THRESHOLD"]
    rows = db.session.execute(
        select(Support.campaign_id, Support.ip_address, Support.email_canonical, Support.suspect).where(
            Support.created_at >= start, Support.created_at < start + timedelta(hours=1)
        )
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
    spread = _spread_thin(rows)
    db.session.execute(delete(SigningReport).where(SigningReport.hour == start))
    for (campaign_id, kind, value), (supports, held) in sorted(heavy.items()):
        db.session.add(
            SigningReport(
                hour=start,
                campaign_id=campaign_id,
                kind=kind,
                value=value[:254],
                supports=supports,
                held=held,
            )
        )
    for (kind, value), (campaigns, supports, held) in sorted(spread.items()):
        db.session.add(
            SigningReport(
                hour=start,
                campaign_id=None,
                kind=kind,
                value=value[:254],
                supports=supports,
                held=held,
                campaigns=campaigns,
            )
        )
    db.session.commit()
    return len(heavy) + len(spread)


def ip_range(address: str | None) -> str | None:
    """The range one network most likely holds: an IPv4 address's /24, an IPv6 one's /64."""
    key = limit_key(address)
    if key is None:
        return None
    prefix = 64 if ":" in key else 24
    return str(ipaddress.ip_network(f"{key.split('/')[0]}/{prefix}", strict=False))


def _spread_thin(rows) -> dict[tuple[RuleKind, str], tuple[int, int, int]]:
    """IPs, ranges and domains that signed at least ``ABUSE_SPREAD_THRESHOLD`` campaigns:
    ``{(kind, value): (campaigns, supports, held)}``. A range with one address in it is
    left to that address's line."""
    threshold = current_app.config["ABUSE_SPREAD_THRESHOLD"]
    campaigns: defaultdict[tuple[RuleKind, str], set[int]] = defaultdict(set)
    counts: dict[tuple[RuleKind, str], list[int]] = defaultdict(lambda: [0, 0])
    addresses: defaultdict[str, set[str]] = defaultdict(set)
    for campaign_id, ip, canonical, suspect in rows:
        keys = [(RuleKind.DOMAIN, email_domain(canonical))]
        network = ip_range(ip)
        if network:
            keys += [(RuleKind.IP, ip), (RuleKind.IP, network)]
            addresses[network].add(ip)
        for key in keys:
            campaigns[key].add(campaign_id)
            counts[key][0] += 1
            counts[key][1] += suspect is not None
    return {
        key: (len(campaigns[key]), *counts[key])
        for key in campaigns
        if len(campaigns[key]) >= threshold
        and not (key[1] in addresses and len(addresses[key[1]]) == 1)
        and not _allowed(*key)
    }


def _allowed(kind: RuleKind, value: str) -> bool:
    if kind == RuleKind.IP:
        key = ip_key(value.split("/")[0])
        condition = (
            and_(AbuseRule.kind == RuleKind.IP, AbuseRule.ip_low <= key, AbuseRule.ip_high >= key)
            if key
            else None
        )
    else:
        condition = and_(AbuseRule.kind == RuleKind.DOMAIN, AbuseRule.value.in_(_domain_and_parents(value)))
    if condition is None:
        return False
    rules = list(db.session.execute(select(AbuseRule).where(condition)).scalars())
    rule = deciding_rule(rules)
    return rule is not None and rule.action == RuleAction.ALLOW


def recent_report(hours: int = 48) -> list[SigningReport]:
    since = hour_start(utcnow()) - timedelta(hours=hours)
    return list(
        db.session.execute(
            select(SigningReport)
            .where(SigningReport.hour >= since)
            .order_by(SigningReport.hour.desc(), SigningReport.supports.desc(), SigningReport.id)
        ).scalars()
    )


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

    caps = [
        (
            f"groundswell:confirmations:mailbox:{mailbox}",
            parse_many(current_app.config["RATELIMIT_CONFIRMATION_MAILBOX"]),
        )
    ]
    if ip_address:
        caps.append(
            (
                f"groundswell:confirmations:ip:{ip_address}",
                parse_many(current_app.config["RATELIMIT_CONFIRMATION_IP"]),
            )
        )
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
    except RedisError as exc:
        # Unreachable, or refusing (out of memory, a script error): the warning says which.
        log.warning("confirmation email caps unchecked: %s: %s", type(exc).__name__, exc)
        return True
    return not over


#: The confirmation caps of a batch of emails in one round trip, each email in turn as
#: :func:`confirmation_email_allowed` would record it: added to each of its caps' sorted
#: sets (NX: a send key counts once), trimmed and counted per window; an email over any cap
#: is taken back out of all of them. A set the email has just made (its first member) needs
#: neither: it holds one send, over a cap only if the cap allows none. ARGV: now, the
#: mailbox cap's windows and the IP cap's (each "seconds amount seconds amount ...", empty
#: for none), then the emails as one value, a line each: its send key, its mailbox and its
#: IP (empty for none), tab-separated. One value, where three an email (and before them
#: each cap's key and windows for each email) made packing the arguments the most of the
#: batch's Redis CPU on the client. Returns 1 (allowed) or 0 per email.
CAPS_SCRIPT = """
local now = tonumber(ARGV[1])
local function windows(spec)
  local list, longest = {}, 0
  for seconds, amount in string.gmatch(spec, '(%d+) (%d+)') do
    seconds, amount = tonumber(seconds), tonumber(amount)
    list[#list + 1] = {seconds, amount}
    if seconds > longest then longest = seconds end
  end
  return list, longest
end
local caps = {}
caps[1] = {'groundswell:confirmations:mailbox:', windows(ARGV[2])}
caps[2] = {'groundswell:confirmations:ip:', windows(ARGV[3])}
for _, cap in ipairs(caps) do
  cap[4] = false  -- whether the cap allows no send at all
  for _, window in ipairs(cap[2]) do
    if window[2] < 1 then cap[4] = true end
  end
end
local allowed = {}
for member, mailbox, ip in string.gmatch(ARGV[4], '([^\\t\\n]*)\\t([^\\t\\n]*)\\t([^\\t\\n]*)\\n') do
  local keys, over, whos = {}, false, {mailbox, ip}
  for c = 1, 2 do
    local who, list, longest = whos[c], caps[c][2], caps[c][3]
    if who ~= '' and #list > 0 then
      local key = caps[c][1] .. who
      keys[#keys + 1] = key
      if redis.call('ZADD', key, 'NX', now, member) == 1 and redis.call('ZCARD', key) == 1 then
        if caps[c][4] then over = true end
      else
        redis.call('ZREMRANGEBYSCORE', key, '-inf', now - longest)
        for _, window in ipairs(list) do
          if redis.call('ZCOUNT', key, now - window[1], '+inf') > window[2] then over = true end
        end
      end
      redis.call('EXPIRE', key, longest)
    end
  end
  if over then
    for _, key in ipairs(keys) do redis.call('ZREM', key, member) end
  end
  allowed[#allowed + 1] = over and 0 or 1
end
return allowed
"""


def _windows(limits) -> str:
    return " ".join(f"{limit.get_expiry()} {limit.amount}" for limit in limits)


def confirmation_emails_allowed(emails: list[tuple[str, str, str | None]]) -> list[bool]:
    """:func:`confirmation_email_allowed` for a batch of ``(send_key, mailbox, ip_address)``
    in one Redis round trip, with the same outcome as asking for each in turn. When Redis
    is unreachable every email goes."""
    if not current_app.config["RATELIMIT_ENABLED"] or not emails:
        return [True] * len(emails)
    args: list = [
        utcnow().timestamp(),
        _windows(parse_many(current_app.config["RATELIMIT_CONFIRMATION_MAILBOX"])),
        _windows(parse_many(current_app.config["RATELIMIT_CONFIRMATION_IP"])),
    ]
    lines = "".join(
        [f"{send_key}\t{mailbox}\t{ip_address or ''}\n" for send_key, mailbox, ip_address in emails]
    )
    if lines.count("\n") != len(emails) or lines.count("\t") != 2 * len(emails):
        # A tab or a line break inside a value (never in an address the forms took): blanked.
        lines = "".join(
            "\t".join(value.replace("\t", " ").replace("\n", " ") for value in (key, box, ip or "")) + "\n"
            for key, box, ip in emails
        )
    args.append(lines)
    try:
        return [bool(allowed) for allowed in run_script("caps", CAPS_SCRIPT, args=args)]
    except RedisError as exc:
        # Unreachable, or refusing (out of memory, a script error): the warning says which.
        log.warning("confirmation email caps unchecked: %s: %s", type(exc).__name__, exc)
        return [True] * len(emails)
