"""What an organiser does with a live campaign: updates, the goal, supporters and exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
)
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from campaign.acting import act
from campaign.campaigns.stalls import register_stall_routes
from campaign.extensions import db
from campaign.i18n import CountryNames
from campaign.models import Campaign, Support
from campaign.packages import neutralise
from campaign.search import page_number
from campaign.services import ServiceError
from campaign.services import campaigns as service
from campaign.services.abuse import held_count
from campaign.supports.forms import COUNTRY_NAMES, RaiseGoalForm, UpdateForm, VictoryForm
from campaign.urls import campaign_url


def csv_stream(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow([neutralise(cell) for cell in row])
        if n % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def undelivered_count(campaign: Campaign) -> int:
    """Counted supports a new delivery round would hold (those after the last round)."""
    after = max((d.up_to_support_id for d in campaign.deliveries), default=0)
    return db.session.execute(
        select(func.count())
        .select_from(Support)
        .where(
            Support.campaign_id == campaign.id,
            Support.id > after,
            Support.counts,
        )
    ).scalar_one()


def counted_supports(campaign_id: int):
    return (
        select(Support)
        .where(
            Support.campaign_id == campaign_id,
            Support.counts,
        )
        .order_by(Support.id)
    )


def _csv_response(campaign: Campaign, name: str, header, rows) -> Response:
    return Response(
        stream_with_context(csv_stream(header, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{campaign.slug}-{name}.csv"'},
    )


def confirm_first(campaign: Campaign, question: str, consequences: list[str], button: str):
    """The page that asks before an action that cannot be undone (works without script:
    the action's own form posts here, and only ``confirmed=yes`` goes ahead)."""
    return render_template(
        "campaigns/confirm.html",
        campaign=campaign,
        question=question,
        consequences=consequences,
        button=button,
    )


def register_organiser_routes(bp: Blueprint, load, organiser_only) -> None:
    """Add supporters, exports, updates, the goal, victory, closing and stalls to a kind's
    blueprint (every kind has them)."""

    register_stall_routes(bp, organiser_only)

    @bp.route("/<slug>/supporters")
    @organiser_only
    def supporters(campaign: Campaign):
        page = db.paginate(
            counted_supports(campaign.id)
            .order_by(None)
            .order_by(Support.confirmed_at.desc(), Support.id.desc()),
            page=page_number(),
            per_page=50,
            error_out=False,
        )
        referrals = [
            (ref or "direct", n)
            for ref, n in db.session.execute(
                select(Support.referral, func.count())
                .where(
                    Support.campaign_id == campaign.id,
                    Support.counts,
                )
                .group_by(Support.referral)
                .order_by(func.count().desc(), Support.referral)
            ).all()
        ]

        return render_template(
            "campaigns/supporters.html",
            campaign=campaign,
            pagination=page,
            countries=CountryNames(COUNTRY_NAMES),
            referrals=referrals,
            held=held_count(campaign.id),
        )

    @bp.route("/<slug>/supporters.csv")
    def supporters_csv(slug: str):
        """Public data, for anyone: the names supporters chose to show, country and date."""
        campaign = load(slug)
        campaign_id = campaign.id

        def rows():
            stmt = counted_supports(campaign_id).execution_options(yield_per=1000)
            for s in db.session.execute(stmt).scalars():
                yield (
                    s.name if s.is_public else "Name withheld",
                    s.country,
                    s.confirmed_at.date().isoformat(),
                )

        return _csv_response(campaign, "supporters", ["name", "country", "date"], rows())

    @bp.route("/<slug>/contacts.csv")
    @organiser_only
    def contacts_csv(campaign: Campaign):
        """Contact data of the supporters who agreed to hear from the organiser."""
        stmt = (
            counted_supports(campaign.id)
            .where(Support.consents_to_updates.is_(True))
            .execution_options(yield_per=1000)
        )

        def rows():
            # Runs while the response streams, in the request context stream_with_context keeps.
            for s in db.session.execute(stmt).scalars():
                yield (s.name, s.email, s.country, s.postcode or "", s.confirmed_at.isoformat())

        response = _csv_response(
            campaign, "contacts", ["name", "email", "country", "postcode", "confirmed_at"], rows()
        )
        # Emails and postcodes: kept by no cache, the browser's included.
        response.cache_control.no_store = True
        response.cache_control.private = True
        return response

    @bp.route("/<slug>/updates/new", methods=["GET", "POST"])
    @organiser_only
    def post_update(campaign: Campaign):
        form = UpdateForm()
        if form.validate_on_submit():
            try:
                _update, emailed = service.post_update(
                    campaign.id, current_user.id, form.title.data, form.body.data
                )
            except ServiceError as exc:
                flash(str(exc), "error")
            else:
                flash(
                    _("Your update is posted and is being emailed to supporters who asked for updates.")
                    if emailed
                    else _(
                        "Your update is posted. Supporters already had an email about this "
                        "campaign today, so this one is not emailed."
                    ),
                    "success",
                )
                return redirect(campaign_url(campaign))
        return render_template("campaigns/update_form.html", campaign=campaign, form=form)

    @bp.route("/<slug>/victory", methods=["GET", "POST"])
    @organiser_only
    def declare_victory(campaign: Campaign):
        form = VictoryForm()
        if form.validate_on_submit():
            try:
                service.declare_victory(campaign.id, current_user.id, form.story.data)
            except ServiceError as exc:
                form.story.errors.append(str(exc))
            else:
                flash(
                    _(
                        "Congratulations! Your victory is on the Victories page, and supporters "
                        "who asked for updates are being told."
                    ),
                    "success",
                )
                return redirect(campaign_url(campaign))
        return render_template(
            "campaigns/victory_form.html",
            campaign=campaign,
            form=form,
            minimum=service.MIN_SUPPORTERS_FOR_VICTORY,
        ), 400 if form.errors else 200

    @bp.route("/<slug>/close", methods=["POST"])
    @organiser_only
    def close(campaign: Campaign):
        if request.form.get("confirmed") != "yes":
            return confirm_first(
                campaign,
                _("Close this %(noun)s now?", noun=campaign.noun),
                [
                    _(
                        "It stops taking %(supporters)s at once, and it cannot be opened again.",
                        supporters=campaign.supporters_noun,
                    ),
                    _(
                        "It keeps its page, its count (%(counted)s) and its deliveries; you can "
                        "still declare victory.",
                        counted=campaign.count_phrase(),
                    ),
                ],
                _("Close it now"),
            )
        return act(
            lambda: service.close_campaign(campaign.id, current_user.id),
            done=_("The %(noun)s is closed; it keeps its page and its count.", noun=campaign.noun),
            category="info",
            then=campaign_url(campaign),
        )

    @bp.route("/<slug>/goal", methods=["POST"])
    @organiser_only
    def raise_goal(campaign: Campaign):
        form = RaiseGoalForm()
        if form.validate_on_submit():
            return act(
                lambda: service.raise_goal(campaign.id, current_user.id, form.goal.data),
                done=_("The new goal is %(goal)s. Onwards!", goal=format_decimal(form.goal.data)),
                then=campaign_url(campaign),
            )
        flash(" ".join(map(str, form.goal.errors)) or _("Enter the new goal."), "error")
        return redirect(campaign_url(campaign))
