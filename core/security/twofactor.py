"""Two-factor sign-in for staff: a TOTP authenticator app (RFC 6238, 30-second steps) and ten single-use
recovery codes, plus the rule of who must use it.

A code is accepted for the step before, the current one and the one after (clock drift), and a step is
accepted once: a code seen on the wire can't be replayed. Recovery codes have 80 random bits each, so a
SHA-256 of them is enough to store (nobody can try 2**80 guesses against a stolen table)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError
from core.security.models import RecoveryCode, SecuritySettings, TwoFactorCredential, User
from core.security.passwords import WrongPassword, verify_password
from core.security.roles import Actor, is_staff

ISSUER = "Crossdock"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


class InvalidCode(DomainError):
    """A two-factor code that is wrong, expired or already used."""


# --- pure rules -----------------------------------------------------------------------------------------


def new_secret() -> str:
    """A random base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(secret: str, email: str) -> str:
    """The provisioning address as an inline SVG QR code (no image file, no script)."""
    qr = segno.make(provisioning_uri(secret, email), error="m")
    return qr.svg_inline(scale=4, dark="#000", light="#fff", title="QR code for your authenticator app")


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def matching_step(secret: str, code: str, *, now: datetime, drift: int = 1) -> int | None:
    """The time step whose code `code` is (within `drift` steps of now), or None."""
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - drift, current + drift + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """Fresh recovery codes like "k7qd-m2xa-9vtr-ph4e" (80 random bits each)."""
    return [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4)) for _ in range(4))
        for _ in range(count)
    ]


def recovery_hash(code: str) -> str:
    """What is stored of a recovery code: the SHA-256 of it without spaces, dashes or case."""
    normalized = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normalized.encode()).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    """True for input with letters or longer than a TOTP code (the sign-in form takes either)."""
    compact = "".join(ch for ch in code if ch.isalnum())
    return len(compact) > 6 or any(ch.isalpha() for ch in compact)


# --- who must use it ------------------------------------------------------------------------------------


def security_settings(session: Session) -> SecuritySettings:
    """The sign-in policy row (defaults when no admin has saved it yet; not added to the session)."""
    return session.get(SecuritySettings, 1) or SecuritySettings(id=1, require_two_factor_for_all_staff=False)


def two_factor_required(session: Session, user: User, required_roles: Iterable[str]) -> bool:
    """True when this staff member must sign in with a second factor: their role is one of
    `required_roles` (configuration: managers and admins), or an admin requires it of all staff."""
    if not is_staff(user.role):
        return False
    if user.role in set(required_roles):
        return True
    return security_settings(session).require_two_factor_for_all_staff


def confirmed_credential(session: Session, user_id: int) -> TwoFactorCredential | None:
    """The user's working authenticator, or None."""
    credential = session.get(TwoFactorCredential, user_id)
    return credential if credential is not None and credential.confirmed_at is not None else None


def has_two_factor(session: Session, user_id: int) -> bool:
    """True when the user has set up an authenticator."""
    return confirmed_credential(session, user_id) is not None


def unused_recovery_codes(session: Session, user_id: int) -> int:
    """How many recovery codes the user has left."""
    return len(
        session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        ).all()
    )


# --- changes --------------------------------------------------------------------------------------------


def pending_enrolment(session: Session, user: User, *, now: datetime) -> TwoFactorCredential:
    """The secret being set up (made now if there is none); DomainError when 2FA is already on."""
    if not is_staff(user.role):
        raise DomainError("two-factor sign-in is for staff accounts")
    credential = session.get(TwoFactorCredential, user.id)
    if credential is not None and credential.confirmed_at is not None:
        raise DomainError("two-factor sign-in is already set up: turn it off first to set up a new app")
    if credential is None:
        credential = TwoFactorCredential(user_id=user.id, secret=new_secret(), created_at=now)
        session.add(credential)
        session.flush()
    return credential


def confirm_enrolment(session: Session, user: User, code: str, *, actor: Actor, now: datetime) -> list[str]:
    """Turn 2FA on once the app shows the right code; returns the recovery codes (shown once, kept hashed)."""
    credential = session.get(TwoFactorCredential, user.id, with_for_update=True)
    if credential is None or credential.confirmed_at is not None:
        raise DomainError("start the set-up again: open the two-factor page")
    step = matching_step(credential.secret, code, now=now)
    if step is None:
        raise InvalidCode("that code is not the one your app shows: check the app's clock and try again")
    credential.confirmed_at = now
    credential.last_used_step = step
    codes = _replace_recovery_codes(session, user.id, now=now)
    record_audit(session, actor, "auth.two_factor_enabled", "user", user.id, now=now)
    return codes


def verify_second_factor(session: Session, user: User, code: str, *, actor: Actor, now: datetime) -> str:
    """Check the sign-in's second step: a current TOTP code not used before, or an unused recovery code
    (then used up, audited). Returns "totp" or "recovery"; InvalidCode otherwise."""
    credential = session.get(TwoFactorCredential, user.id, with_for_update=True)
    if credential is None or credential.confirmed_at is None:
        raise InvalidCode("two-factor sign-in is not set up for this account")
    if looks_like_recovery_code(code):
        used = session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == recovery_hash(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
        ).rowcount
        if not used:
            raise InvalidCode("that recovery code is not valid or has been used")
        left = unused_recovery_codes(session, user.id)
        record_audit(
            session, actor, "auth.two_factor_recovery_used", "user", user.id, now=now, after={"left": left}
        )
        return "recovery"
    step = matching_step(credential.secret, code, now=now)
    if step is None:
        raise InvalidCode("that code is not right or has expired: enter the code your app shows now")
    if step <= credential.last_used_step:
        raise InvalidCode("that code has already been used: wait for the next one")
    credential.last_used_step = step
    return "totp"


def disable_two_factor(session: Session, user: User, password: str, *, actor: Actor, now: datetime) -> None:
    """Turn 2FA off (the password re-entered); its recovery codes go too."""
    _check_password(user, password)
    session.execute(delete(TwoFactorCredential).where(TwoFactorCredential.user_id == user.id))
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    record_audit(session, actor, "auth.two_factor_disabled", "user", user.id, now=now)


def regenerate_recovery_codes(
    session: Session, user: User, password: str, *, actor: Actor, now: datetime
) -> list[str]:
    """New recovery codes (the password re-entered); the old ones stop working."""
    _check_password(user, password)
    if not has_two_factor(session, user.id):
        raise DomainError("set up two-factor sign-in first")
    codes = _replace_recovery_codes(session, user.id, now=now)
    record_audit(session, actor, "auth.two_factor_recovery_codes_renewed", "user", user.id, now=now)
    return codes


def set_require_two_factor_for_all_staff(
    session: Session, required: bool, *, actor: Actor, now: datetime
) -> SecuritySettings:
    """An admin requires (or stops requiring) two-factor sign-in of every staff member; audited."""
    settings = session.get(SecuritySettings, 1, with_for_update=True)
    if settings is None:
        settings = SecuritySettings(id=1, require_two_factor_for_all_staff=False)
        session.add(settings)
    before = settings.require_two_factor_for_all_staff
    if before != required:
        settings.require_two_factor_for_all_staff = required
        settings.updated_at, settings.updated_by_id = now, actor.user_id
        record_audit(
            session,
            actor,
            "security.two_factor_policy",
            "security_settings",
            1,
            now=now,
            before={"require_two_factor_for_all_staff": before},
            after={"require_two_factor_for_all_staff": required},
        )
    session.flush()
    return settings


def _check_password(user: User, password: str) -> None:
    if not verify_password(user.password_hash, password):
        raise WrongPassword("that is not your current password")


def _replace_recovery_codes(session: Session, user_id: int, *, now: datetime) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = new_recovery_codes()
    session.add_all(
        RecoveryCode(user_id=user_id, code_hash=recovery_hash(code), created_at=now) for code in codes
    )
    session.flush()
    return codes
