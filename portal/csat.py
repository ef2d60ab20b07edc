"""The satisfaction survey's rating page, on the portal blueprint: opened from the signed link in the
survey email, signed in or not (the token is the proof)."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g, render_template, request

from core.db import utcnow
from core.errors import DomainError, NotFound
from core.security.roles import Actor
from core.support import csat
from core.support.tokens import read_rating_token
from portal.views import bp


def _survey_id(token: str) -> int:
    rating_id = read_rating_token(current_app.config["SECRET_KEY"], token)
    if rating_id is None:
        abort(404)
    return rating_id


@bp.route("/support/rate/<token>", methods=["GET", "POST"])
def rate_support(token: str) -> Any:
    """Rate our answer 1-5 with an optional comment, or change the rating while the survey is open;
    `?score=N` (the email's buttons) preselects a score without saving it."""
    rating_id = _survey_id(token)
    error, status, saved = None, 200, False
    score = request.form.get("score") if request.method == "POST" else request.args.get("score")
    comment = request.form.get("comment", "")[: csat.MAX_COMMENT + 100]
    try:
        if request.method == "POST":
            survey = csat.rating_page(g.db, rating_id, now=utcnow())
            actor = Actor(
                label=f"customer:{survey.rating.customer_id}" if survey.rating.customer_id else "guest",
                role="customer",
                ip_address=request.remote_addr,
            )
            csat.rate_conversation(g.db, rating_id, score, comment, actor=actor, now=utcnow())
            g.db.commit()
            saved = True
        page = csat.rating_page(g.db, rating_id, now=utcnow())
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        error, status = str(exc), 422
        page = csat.rating_page(g.db, rating_id, now=utcnow())
    chosen = page.rating.score if saved or score is None else score
    return render_template(
        "portal/support/rate.html",
        page=page,
        token=token,
        labels=csat.SCORE_LABELS,
        chosen=str(chosen or ""),
        comment=comment if error else (page.rating.comment or ""),
        error=error,
        saved=saved,
    ), status
