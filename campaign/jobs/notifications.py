"""The notification topics: the one registry of what each notice loads, its email's template
and subject, and who gets it.

A topic's object id names a row of its ``model`` (a milestone, an update, a brand's answer,
...). The jobs that tell people at once (:mod:`campaign.jobs.notify`), the digests that
gather what members chose to read later (:mod:`campaign.jobs.digests`) and the outbox notice
that starts a fan-out (:mod:`campaign.jobs.notices`) all read it here. Every email a topic
renders (:meth:`Topic.email`) carries a one-click unsubscribe link and ``List-Unsubscribe``
headers, except the one transactional topic, a review's outcome.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from campaign.extensions import db
from campaign.i18n import language_of, writing_to
from campaign.mail import Email, add_unsubscribe_headers, batch_context, compiled_templates, render_email
from campaign.models import (
    Campaign,
    CampaignState,
    Delivery,
    Milestone,
    Response,
    StatusChange,
    Support,
    Update,
    User,
)
from campaign.services.accounts import member_token
from campaign.services.supports import support_token
from campaign.sharing import share_kit
from campaign.stencils import (
    PROBE_ID,
    PROBE_NAME,
    Blanks,
    NotBlank,
    Stencil,
    probe_links,
    proven,
    refused,
    share_kit_with_blanks,
    support_stand_in,
    support_values,
)
from campaign.urls import external_url


def member_links(user: User) -> dict[str, str]:
    """``settings_url`` and ``member_unsubscribe_url`` for a notice emailed to ``user``."""
    return {
        "settings_url": external_url("accounts.settings"),
        "member_unsubscribe_url": external_url("accounts.unsubscribe", token=member_token(user)),
    }


def support_member(support: Support) -> User | None:
    """The member a support's notices go to, when the support is theirs (their own address)."""
    return support.user if support.user_id else None


def unsubscribe_url(support: Support) -> str:
    return external_url("supports.unsubscribe", token=support_token("unsubscribe", support))


def withdraw_url(support: Support) -> str:
    """Every email to a supporter lets them take their support back (no account needed)."""
    return external_url("supports.withdraw", token=support_token("withdraw", support))


def verdict_url(support: Support, response: Response | None) -> str | None:
    if response is None:
        return None
    return external_url(
        "deliveries.verdict", response_id=response.id, token=support_token("verdict", support)
    )


def receipt_url(support: Support, delivery: Delivery | None) -> str | None:
    if delivery is None:
        return None
    return external_url("deliveries.receipt", token=support_token("receipt", support))


def campaign_url(campaign: Campaign) -> str:
    return external_url(f"{campaign.blueprint}.show", slug=campaign.slug)


def _counted(stmt: Select, obj) -> Select:
    return stmt.where(Support.withdrawn_at.is_(None))


def _in_round(stmt: Select, delivery: Delivery) -> Select:
    return _counted(stmt, delivery).where(
        Support.id > delivery.after_support_id, Support.id <= delivery.up_to_support_id
    )


def _moved_away(stmt: Select, change: StatusChange) -> Select:
    return stmt.where(Support.moved_to_id.is_not(None))


def _condition_met(stmt: Select, campaign: Campaign) -> Select:
    return _counted(stmt, campaign).where(Support.condition_met_at.is_not(None))


@dataclass(frozen=True)
class Topic:
    """A kind of notice. Supporters' topics go to the counted supporters of
    ``recipients_of(obj)`` who asked for updates (``narrow`` picks among them), in batches;
    organisers' topics to the campaign's organiser."""

    name: str
    model: type
    template: str
    #: (object, the support it goes to or None) -> the subject, lazy: written in the reader's language
    subject: Callable[[Any, Support | None], Any]
    #: the campaign the email is about (its title and links)
    campaign: Callable[[Any], Campaign] = lambda obj: obj.campaign
    #: the campaign whose supporters get it, when not ``campaign(obj)``
    recipients_of: Callable[[Any], Campaign] | None = None
    #: the email's own template context
    context: Callable[[Any], dict] = lambda obj: {}
    narrow: Callable[[Select, Any], Select] = _counted
    #: the outbox notice that starts this topic's fan-out, and whether it applies to the object
    notice: str | None = None
    applies: Callable[[Any], bool] = lambda obj: True
    organiser: bool = False
    #: answers the organiser's own request (a review): no unsubscribe
    transactional: bool = False
    #: (object id, support id) -> the mail receipt's key, when not "topic:object:support"
    key: Callable[[int, int], str] | None = None
    #: only to supporters who asked for updates (a conditional pledger is told its boycott
    #: is on whatever they chose: that is what the pledge waited for)
    needs_consent: bool = True
    #: what of the support, besides its name and id, the email reads: the batch's emails are
    #: rendered once for each value it has among the readers (see :meth:`emails`)
    grouped_by: tuple[str, ...] = ()

    def load(self, object_id: int):
        """The object a notice of this topic is about, or None if it was deleted."""
        return db.session.get(self.model, object_id)

    def audience(self, obj) -> Campaign:
        return self.recipients_of(obj) if self.recipients_of else self.campaign(obj)

    def receipt_key(self, object_id: int, support_id: int) -> str:
        if self.key is not None:
            return self.key(object_id, support_id)
        return f"{self.name}:{object_id}:{support_id}"

    def recipients(self, campaign_id: int, obj) -> Select:
        """The ids of the supporters of ``campaign_id`` this topic about ``obj`` goes to."""
        stmt = select(Support.id).where(Support.campaign_id == campaign_id, Support.confirmed_at.is_not(None))
        if self.needs_consent:
            stmt = stmt.where(Support.consents_to_updates.is_(True))
        return self.narrow(stmt, obj).order_by(Support.id)

    def email(self, obj, support: Support | None = None) -> Email:
        """The email of this topic about ``obj`` to ``support`` (to the organiser for an
        organiser's topic), in the reader's language, with its unsubscribe headers."""
        campaign = self.campaign(obj)
        context = {"campaign": campaign, "campaign_url": campaign_url(campaign)}
        if self.organiser:
            reader = member = campaign.organiser
            to, unsubscribe = member.email, None
            context["organiser"] = member
        else:
            member, reader = support_member(support), support
            to, unsubscribe = support.email, unsubscribe_url(support)
            context.update(
                support=support,
                unsubscribe_url=unsubscribe,
                withdraw_url=withdraw_url(support),
            )
        links = member_links(member) if member is not None and not self.transactional else {}
        own = self.context(obj)
        if not self.organiser:
            context["verdict_url"] = verdict_url(support, own.get("response"))
            context["receipt_url"] = receipt_url(support, own.get("delivery"))
        context.update(links, **own)
        with writing_to(member, None if self.organiser else reader):
            email = render_email(self.template, to=to, subject=self.subject(obj, support), **context)
        unsubscribe = unsubscribe or links.get("member_unsubscribe_url")
        if unsubscribe:
            add_unsubscribe_headers(email, unsubscribe)
        return email

    def emails(
        self, obj, supports: list[Support], one_by_one: bool = False
    ) -> Iterator[tuple[Support, Email]]:
        """``(support, email)`` for each of ``supports``: the emails :meth:`email` writes
        (a supporters' topic), written a language at a time, in an order of its own.

        The templates are compiled once per language with its translations bound
        (:func:`campaign.mail.compiled_templates`) and the context the emails share is built
        once. A batch's emails then differ only in each reader's own values (their name,
        their signed links, the code in their share links), and in whether a member's links
        are there: the readers of a language are grouped by that (and by ``grouped_by``),
        each group's email is rendered once with blanks for those values and filled in for
        each reader (:mod:`campaign.stencils`). A group whose render cannot be used safely
        (see :meth:`_stencil`), a reader whose value is empty, and every email when
        ``one_by_one`` is asked for, are rendered one by one."""
        campaign = self.campaign(obj)
        own = self.context(obj)
        by_language: dict[str, list[Support]] = defaultdict(list)
        for support in supports:
            by_language[language_of(support_member(support), support)].append(support)
        for language, readers in by_language.items():
            with writing_to(locale=language):
                templates = compiled_templates(self.template, language)
                # The text and the HTML both ask for the reader's share links: made once.
                shared = batch_context(
                    campaign=campaign,
                    campaign_url=campaign_url(campaign),
                    share_kit=functools.cache(share_kit),
                )
                groups: dict[tuple, list[tuple[Support, dict]]] = defaultdict(list)
                for support in readers:
                    links = self._links(support, own)
                    shape = tuple(name for name, value in links.items() if value is not None)
                    groups[shape, tuple(getattr(support, name) for name in self.grouped_by)].append(
                        (support, links)
                    )
                for (_shape, same), group in groups.items():
                    subject, stencil = None, None
                    if not one_by_one:
                        subject, stencil = self._stencil(obj, own, shared, templates, group[0][1], same)
                    for support, links in group:
                        bodies = (
                            stencil.fill(support_values(stencil.names, support, links)) if stencil else None
                        )
                        if bodies is None:
                            email = self._render(obj, own, shared, templates, support, links)
                        else:
                            email = Email(to=support.email, subject=subject, text=bodies[0], html=bodies[1])
                        add_unsubscribe_headers(email, links["unsubscribe_url"])
                        yield support, email

    def _links(self, support: Support, own: dict) -> dict[str, str | None]:
        """The reader's own links in the email's context (None: not in this topic's email)."""
        links = {
            "unsubscribe_url": unsubscribe_url(support),
            "withdraw_url": withdraw_url(support),
            "verdict_url": verdict_url(support, own.get("response")),
            "receipt_url": receipt_url(support, own.get("delivery")),
        }
        member = support_member(support)
        if member is not None and not self.transactional:
            links.update(member_links(member))
        return links

    def _context(self, shared: dict, own: dict, subject: str, support, links: dict) -> dict:
        context = dict(shared, subject=subject, support=support, **links)
        context.update(own)
        return context

    def _render(self, obj, own: dict, shared: dict, templates, support, links: dict) -> Email:
        """The email to ``support`` rendered for them alone."""
        subject = str(self.subject(obj, support))
        context = self._context(shared, own, subject, support, links)
        text, html = templates
        return Email(to=support.email, subject=subject, text=text.render(context), html=html.render(context))

    def _stencil(
        self, obj, own: dict, shared: dict, templates, links: dict, same: tuple
    ) -> tuple[str | None, Stencil | None]:
        """The subject and the render with blanks of the email to readers whose links are
        ``links``'s kinds and whose ``grouped_by`` values are ``same``; (None, None) when it
        cannot stand for their renders.

        It cannot if the subject or the templates read anything else of the reader, if a
        template changed a marker, or if it fails its proof: a made-up reader whose values
        need escaping (``&<>"'``, accents, spaces), rendered alone, must come out as the
        render filled in with their values (a filter or a test applied to a reader's value
        would show there). The proof costs one render per group, against one per reader."""
        same_values = dict(zip(self.grouped_by, same, strict=True))
        blanks = Blanks()
        reader = support_stand_in(blanks, same_values)
        try:
            subject = str(self.subject(obj, reader))
            if blanks.seen_in(subject):
                raise NotBlank("the subject")
            context = self._context(
                dict(shared, share_kit=share_kit_with_blanks(blanks, shared["share_kit"])),
                own,
                subject,
                reader,
                {name: None if value is None else blanks(name) for name, value in links.items()},
            )
            text, html = templates
            rendered = text.render(context), html.render(context)
            probe = SimpleNamespace(name=PROBE_NAME, id=PROBE_ID, email="probe@example.org", **same_values)
            made_up_links = probe_links(links)
            alone = self._render(obj, own, shared, templates, probe, made_up_links)
            if alone.subject != subject:
                raise NotBlank("the proof")
            stencil = proven(
                blanks,
                rendered,
                (alone.text, alone.html),
                lambda stencil: support_values(stencil.names, probe, made_up_links),
            )
        except Exception as exc:  # noqa: BLE001 - each email is rendered alone, which raises if it must
            refused(self.template, exc)
            return None, None
        return subject, stencil


def _milestone_subject(milestone: Milestone, support: Support | None):
    campaign = milestone.campaign
    if milestone.is_goal:
        return _l("Goal reached: %(title)s", title=campaign.title)
    return _l(
        "%(counted)s: %(title)s", counted=campaign.count_phrase(milestone.threshold), title=campaign.title
    )


def _review_subject(campaign: Campaign, support: Support | None):
    if campaign.state == CampaignState.OPEN:
        return _l("Your %(noun)s is published: %(title)s", noun=campaign.noun, title=campaign.title)
    return _l("Your %(noun)s needs changes: %(title)s", noun=campaign.noun, title=campaign.title)


def _review_context(campaign: Campaign) -> dict:
    approved = campaign.state == CampaignState.OPEN
    endpoint = "show" if approved else "edit"
    return {
        "approved": approved,
        "campaign_url": external_url(f"{campaign.blueprint}.{endpoint}", slug=campaign.slug),
    }


def _moved_context(change: StatusChange) -> dict:
    return {"change": change, "old": change.campaign}


_TOPICS = (
    # An organiser's: a threshold or the goal reached, a review's outcome.
    Topic(
        "milestone",
        Milestone,
        "milestone_organiser",
        _milestone_subject,
        context=lambda milestone: {"milestone": milestone},
        organiser=True,
    ),
    Topic(
        "review",
        Campaign,
        "review_organiser",
        _review_subject,
        campaign=lambda campaign: campaign,
        context=_review_context,
        notice="review",
        organiser=True,
        transactional=True,
    ),
    # Supporters'.
    Topic(
        "goal",
        Milestone,
        "goal_supporter",
        lambda m, s: _l("We reached the goal: %(title)s", title=m.campaign.title),
        context=lambda milestone: {"milestone": milestone},
    ),
    Topic(
        "update",
        Update,
        "update_supporter",
        lambda item, s: f"{item.title} — {item.campaign.title}",
        context=lambda item: {"update": item},
        notice="update",
    ),
    Topic(
        "answer",
        Response,
        "answer_supporter",
        lambda r, s: _l("%(brand)s answered: %(title)s", brand=r.brand.name, title=r.campaign.title),
        context=lambda response: {"response": response},
        notice="answer",
    ),
    Topic(
        "delivered",
        Delivery,
        "delivered_supporter",
        lambda d, s: _l("Delivered to %(brand)s: %(title)s", brand=d.brand.name, title=d.campaign.title),
        context=lambda delivery: {"delivery": delivery},
        narrow=_in_round,
        notice="delivered",
        applies=lambda delivery: delivery.sent_at is not None,
    ),
    Topic(
        "victory",
        Campaign,
        "victory_supporter",
        lambda c, s: _l("We won: %(title)s", title=c.title),
        campaign=lambda campaign: campaign,
        notice="victory",
    ),
    Topic(
        "status",
        StatusChange,
        "status_supporter",
        lambda c, s: _l("%(status)s: %(title)s", status=c.label, title=c.campaign.title),
        context=lambda change: {"change": change},
        notice="status",
        applies=lambda change: change.duplicate_of_id is None,
    ),
    Topic(
        "moved",
        StatusChange,
        "moved_supporter",
        lambda c, s: _l("Your endorsement moved to: %(title)s", title=c.duplicate_of.title),
        campaign=lambda change: change.duplicate_of,
        recipients_of=lambda change: change.campaign,
        context=_moved_context,
        narrow=_moved_away,
        notice="status",
        applies=lambda change: change.duplicate_of_id is not None,
    ),
    Topic(
        "invite",
        Campaign,
        "escalation_invite",
        lambda c, s: _l("Next step: %(title)s", title=c.title),
        campaign=lambda campaign: campaign,
        recipients_of=lambda campaign: campaign.escalated_from,
        context=lambda campaign: {"old": campaign.escalated_from},
        notice="escalation",
        applies=lambda campaign: campaign.escalated_from_id is not None,
    ),
    Topic(
        "condition-met",
        Campaign,
        "condition_met",
        lambda c, s: _l(
            "It's on: %(count)s people pledged — %(title)s",
            count=format_decimal(s.condition_threshold),
            title=c.title,
        ),
        campaign=lambda campaign: campaign,
        narrow=_condition_met,
        key=lambda campaign_id, support_id: f"condition-met:{support_id}",
        needs_consent=False,
        grouped_by=("condition_threshold",),
    ),
)

#: name -> topic
TOPICS: dict[str, Topic] = {topic.name: topic for topic in _TOPICS}


def topic_of_notice(notice_topic: str, obj) -> Topic | None:
    """The topic an outbox notice about ``obj`` starts (None when none applies any more)."""
    for topic in _TOPICS:
        if topic.notice == notice_topic and topic.applies(obj):
            return topic
    return None


def notice_model(notice_topic: str) -> type:
    """What the object id of a notice of ``notice_topic`` names."""
    return next(topic.model for topic in _TOPICS if topic.notice == notice_topic)
