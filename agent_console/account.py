"""The staff member's own security page (active sessions, sign out everywhere, two-factor sign-in: set up,
turn off, new recovery codes), the admin's sign-in policy, and the rule that sends staff who must use
two-factor sign-in to set it up before any other console page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, logout_user
from markupsafe import Markup

from agent_console.auth import current_actor, permission_required
from agent_console.views import bp
from core.db import begin_write, utcnow
from core.errors import DomainError
from core.security import accounts, sessions, signin, twofactor
from core.security.passwords import WrongPassword
from core.security.permissions import Permission as P
from core.security.roles import is_staff
from core.security.signin import SignInLocked

# Reachable while two-factor set-up is owed: the set-up itself, signing out, and the public pages.
TWO_FACTOR_SETUP_ENDPOINTS = frozenset(
    {"console.login", "console.logout", "console.accept_invite", "console.two_factor_setup"}
)


@bp.before_request
def require_two_factor_setup() -> Any:
    """A staff member who must sign in with two factors and has not set it up goes to the set-up page."""
    if request.endpoint in TWO_FACTOR_SETUP_ENDPOINTS or not current_user.is_authenticated:
        return None
    if not is_staff(current_user.role):
        return None
    record = g.get("auth_session")
    if record is not None and record.two_factor:
        return None  # signed in with a second factor: set up by definition
    required = twofactor.two_factor_required(g.db, current_user, current_app.config["TWO_FACTOR_ROLES"])
    if not required or twofactor.has_two_factor(g.db, current_user.id):
        return None
    target = url_for("console.two_factor_setup")
    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        # A fragment (a poll, a count in the header): send the page to the set-up, unless it is there.
        on_setup = urlsplit(request.headers.get("HX-Current-URL", "")).path == target
        return Response(status=204, headers=None if on_setup else {"HX-Redirect": target})
    flash("Your account needs two-factor sign-in: set it up to continue.", "error")
    return redirect(target)


def _security_page(codes: list[str] | None = None, error: str | None = None, status: int = 200) -> Any:
    now = utcnow()
    policy = current_app.config["SESSION_POLICY"]
    response = current_app.make_response(
        (
            render_template(
                "console/account/security.html",
                sessions=sessions.active_sessions(g.db, current_user, policy=policy, now=now),
                current_session_id=g.auth_session.id if g.get("auth_session") else None,
                enabled=twofactor.has_two_factor(g.db, current_user.id),
                required=twofactor.two_factor_required(
                    g.db, current_user, current_app.config["TWO_FACTOR_ROLES"]
                ),
                codes_left=twofactor.unused_recovery_codes(g.db, current_user.id),
                codes=codes,
                error=error,
            ),
            status,
        )
    )
    response.headers["Cache-Control"] = "no-store"  # may show recovery codes
    return response


@bp.get("/account/security")
@permission_required()  # every staff member, for their own account
def account_security() -> Any:
    """My sign-in security: where I'm signed in, two-factor sign-in."""
    return _security_page()


@bp.post("/account/sessions/sign-out-everywhere")
@permission_required()  # every staff member, for their own account
def account_sign_out_everywhere() -> Any:
    """End every session of mine, this one too (a lost laptop, a shared computer)."""
    ended = signin.sign_out_everywhere(g.db, current_user, actor=current_actor(), now=utcnow())
    g.db.commit()
    logout_user()
    flash(f"Signed out everywhere ({ended} session{'s' if ended != 1 else ''} ended). Sign in again.")
    return redirect(url_for("console.login"), code=303)


@bp.post("/account/sessions/<int:session_id>/end")
@permission_required()  # every staff member, for their own account
def account_end_session(session_id: int) -> Any:
    """End one of my other sessions."""
    if signin.sign_out_session(g.db, current_user, session_id, actor=current_actor(), now=utcnow()):
        g.db.commit()
        flash("That session is signed out.")
    return redirect(url_for("console.account_security"), code=303)


@bp.route("/account/two-factor/setup", methods=["GET", "POST"])
@permission_required()  # every staff member, for their own account
def two_factor_setup() -> Any:
    """Set up an authenticator app: scan the QR code (or type the key), confirm with a code; the recovery
    codes are shown once."""
    now = utcnow()
    g.db.rollback()  # the set-up secret is made on first visit: write from the start
    begin_write(g.db)
    try:
        credential = twofactor.pending_enrolment(g.db, current_user, now=now)
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.account_security"), code=303)
    error, status = None, 200
    if request.method == "POST":
        try:
            codes = twofactor.confirm_enrolment(
                g.db, current_user, request.form.get("code", "")[:40], actor=current_actor(), now=now
            )
        except DomainError as exc:
            error, status = str(exc), 422
        else:
            token = current_user.get_id()
            sessions.mark_two_factor(g.db, current_user.id, True, token=token)
            sessions.end_all_sessions(g.db, current_user.id, keep_token=token)  # password-only sessions
            g.db.commit()
            flash("Two-factor sign-in is on. Keep your recovery codes somewhere safe.")
            return _security_page(codes=codes)
    g.db.commit()
    return render_template(
        "console/account/two_factor_setup.html",
        # segno writes the SVG from the encoded address: no text of the user appears in the markup.
        qr=Markup(twofactor.qr_svg(credential.secret, current_user.email)),  # noqa: S704
        key=twofactor.grouped(credential.secret),
        error=error,
    ), status


def _reauthenticated(action: Any) -> Any:
    """Run `action(password)` once the re-entered password is checked (wrong ones lock out with back-off)."""
    now = utcnow()
    try:
        signin.admit_reauth(g.db, current_user.id, now=now)
    except SignInLocked as exc:
        page = _security_page(error=str(exc), status=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    try:
        result = action(request.form.get("password", ""))
    except WrongPassword as exc:
        g.db.rollback()
        signin.note_failed_reauth(g.db, current_user.id, policy=current_app.config["SIGN_IN_POLICY"], now=now)
        g.db.commit()
        return _security_page(error=str(exc), status=422)
    except DomainError as exc:
        g.db.rollback()
        return _security_page(error=str(exc), status=422)
    return result


@bp.post("/account/password")
@permission_required()  # every staff member, for their own account
def account_change_password() -> Any:
    """Change my password (the current one again); my other sessions end."""

    def change(password: str) -> Any:
        ended = accounts.change_password(
            g.db,
            current_user,
            password,
            request.form.get("new_password", ""),
            keep_token=current_user.get_id(),
            actor=current_actor(),
            now=utcnow(),
        )
        g.db.commit()
        flash(f"Your password is changed. {ended} other session{'s' if ended != 1 else ''} signed out.")
        return redirect(url_for("console.account_security"), code=303)

    return _reauthenticated(change)


@bp.post("/account/two-factor/disable")
@permission_required()  # every staff member, for their own account
def two_factor_disable() -> Any:
    """Turn two-factor sign-in off (password again); someone who must use it is sent to set it up anew."""

    def disable(password: str) -> Any:
        twofactor.disable_two_factor(g.db, current_user, password, actor=current_actor(), now=utcnow())
        sessions.mark_two_factor(g.db, current_user.id, False)
        g.db.commit()
        flash("Two-factor sign-in is off.")
        return redirect(url_for("console.account_security"), code=303)

    return _reauthenticated(disable)


@bp.post("/account/two-factor/recovery-codes")
@permission_required()  # every staff member, for their own account
def two_factor_recovery_codes() -> Any:
    """New recovery codes (password again); the old ones stop working."""

    def regenerate(password: str) -> Any:
        codes = twofactor.regenerate_recovery_codes(
            g.db, current_user, password, actor=current_actor(), now=utcnow()
        )
        g.db.commit()
        return _security_page(codes=codes)

    return _reauthenticated(regenerate)


@bp.route("/admin/security", methods=["GET", "POST"])
@permission_required(P.MANAGE_USERS)
def admin_security() -> Any:
    """The sign-in policy: require two-factor sign-in of every staff member, not only managers and admins."""
    if request.method == "POST":
        required = request.form.get("require_two_factor_for_all_staff") == "1"
        twofactor.set_require_two_factor_for_all_staff(g.db, required, actor=current_actor(), now=utcnow())
        g.db.commit()
        flash("Two-factor sign-in is now required of all staff." if required else "Sign-in policy saved.")
        return redirect(url_for("console.admin_security"), code=303)
    return render_template(
        "console/admin/security.html",
        settings=twofactor.security_settings(g.db),
        roles=current_app.config["TWO_FACTOR_ROLES"],
    )
