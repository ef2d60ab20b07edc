"""Sign-in security rules: lockout back-off, attempt windows, TOTP steps and replay, recovery codes,
session lifetimes; and the database-kept throttles that every web process shares."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.security import ratelimit, sessions, twofactor
from core.security.models import AuthSession, AuthThrottle, RecoveryCode
from core.security.ratelimit import Backoff
from core.security.roles import Actor
from core.security.sessions import SessionPolicy
from tests.factories import NOW, PASSWORD, make_user


@pytest.mark.parametrize(
    ("failures", "locked_minutes"),
    [(1, 0), (4, 0), (5, 1), (6, 2), (7, 4), (10, 32), (11, 60), (60, 60)],
)
def test_backoff_locks_from_the_threshold_and_doubles_up_to_the_cap(failures, locked_minutes) -> None:
    rule = Backoff(threshold=5, base=timedelta(minutes=1), cap=timedelta(hours=1))
    assert rule.lock_for(failures) == timedelta(minutes=locked_minutes)


def test_record_failure_locks_after_threshold_and_a_success_clears_it(db) -> None:
    rule = Backoff(threshold=3)
    waits = [ratelimit.record_failure(db, "k:a", rule, now=NOW + timedelta(seconds=i)) for i in range(4)]
    assert waits == [0, 0, 60, 120]
    assert ratelimit.retry_after(db, ["k:a", "k:other"], now=NOW + timedelta(seconds=3)) == 120
    assert ratelimit.retry_after(db, ["k:a"], now=NOW + timedelta(minutes=3)) == 0  # the lock ran out
    ratelimit.clear_failures(db, "k:a")
    assert db.get(AuthThrottle, "k:a") is None


def test_failures_older_than_a_day_are_forgotten(db) -> None:
    rule = Backoff(threshold=3)
    for _ in range(2):
        ratelimit.record_failure(db, "k:old", rule, now=NOW)
    assert ratelimit.record_failure(db, "k:old", rule, now=NOW + timedelta(hours=25)) == 0
    assert db.get(AuthThrottle, "k:old").failures == 1


def test_hit_retry_after_counts_the_window_and_says_when_it_ends(db) -> None:
    window = timedelta(minutes=15)
    waits = [
        ratelimit.hit_retry_after(db, "w:ip", limit=3, window=window, now=NOW + timedelta(minutes=i))
        for i in range(5)
    ]
    assert waits == [0, 0, 0, 12 * 60, 11 * 60]  # the window opened at NOW, for 15 minutes
    assert ratelimit.hit(db, "w:ip", limit=3, window=window, now=NOW + timedelta(minutes=16))


def test_totp_accepts_one_step_of_drift_and_nothing_further() -> None:
    secret = twofactor.new_secret()
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(NOW)
    for offset in (-30, 0, 30):
        code = totp.at(NOW + timedelta(seconds=offset))
        assert twofactor.matching_step(secret, code, now=NOW) == now_step + offset // 30
    assert twofactor.matching_step(secret, totp.at(NOW + timedelta(seconds=90)), now=NOW) is None
    assert twofactor.matching_step(secret, "12345", now=NOW) is None
    assert twofactor.matching_step(secret, totp.at(NOW)[:3] + " " + totp.at(NOW)[3:], now=NOW) == now_step


def test_recovery_codes_are_random_and_compare_without_dashes_or_case() -> None:
    codes = twofactor.new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(code) == 19 and code.count("-") == 3 for code in codes)
    assert twofactor.recovery_hash(codes[0]) == twofactor.recovery_hash(codes[0].replace("-", "").upper())
    assert twofactor.looks_like_recovery_code(codes[0]) and not twofactor.looks_like_recovery_code("123 456")


def test_qr_code_is_an_svg_of_the_provisioning_address() -> None:
    svg = twofactor.qr_svg("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "ada@example.org")
    assert svg.startswith("<svg") and "<script" not in svg
    uri = twofactor.provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "ada@example.org")
    assert uri.startswith(
        "otpauth://totp/Crossdock:ada%40example.org?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    )


@pytest.mark.parametrize(
    ("role", "remember", "idle", "maximum"),
    [
        ("agent", False, timedelta(minutes=30), timedelta(hours=12)),
        ("admin", True, timedelta(minutes=30), timedelta(hours=12)),  # no remember-me for staff
        ("customer", False, timedelta(hours=2), timedelta(hours=24)),
        ("customer", True, timedelta(days=14), timedelta(days=14)),
    ],
)
def test_session_limits_by_role_and_remember_me(role, remember, idle, maximum) -> None:
    assert SessionPolicy().limits(role, remember) == (idle, maximum)


def test_a_session_keeps_only_the_hash_of_its_token_and_dies_when_idle(db) -> None:
    user = make_user(db, "agent")
    policy = SessionPolicy()
    token = sessions.start_session(
        db,
        user,
        remember=True,
        two_factor=False,
        ip_address="10.1.1.1",
        user_agent="UA",
        policy=policy,
        now=NOW,
    )
    record = db.scalars(select(AuthSession).where(AuthSession.user_id == user.id)).one()
    assert record.token_hash == sessions.token_hash(token) and token not in record.token_hash
    assert record.remember is False  # staff never get remember-me
    assert sessions.resume_session(db, token, policy=policy, now=NOW + timedelta(minutes=29)) is not None
    assert sessions.resume_session(db, token, policy=policy, now=NOW + timedelta(minutes=31)) is None
    assert sessions.resume_session(db, "x" + token, policy=policy, now=NOW) is None
    user.session_version += 1
    assert sessions.resume_session(db, token, policy=policy, now=NOW) is None


def test_second_factor_refuses_a_replayed_step_and_a_used_recovery_code(db) -> None:
    user = make_user(db, "manager")
    actor = Actor(label=user.email, user_id=user.id, role=user.role)
    secret = twofactor.pending_enrolment(db, user, now=NOW).secret
    totp = pyotp.TOTP(secret)
    codes = twofactor.confirm_enrolment(db, user, totp.at(NOW), actor=actor, now=NOW)
    assert db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all() == [
        twofactor.recovery_hash(code) for code in codes
    ]
    with pytest.raises(twofactor.InvalidCode, match="already been used"):
        twofactor.verify_second_factor(db, user, totp.at(NOW), actor=actor, now=NOW)
    later = NOW + timedelta(seconds=30)
    assert twofactor.verify_second_factor(db, user, totp.at(later), actor=actor, now=later) == "totp"
    assert twofactor.verify_second_factor(db, user, codes[3], actor=actor, now=later) == "recovery"
    with pytest.raises(twofactor.InvalidCode, match="has been used"):
        twofactor.verify_second_factor(db, user, codes[3], actor=actor, now=later)
    assert twofactor.unused_recovery_codes(db, user.id) == 9
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == str(user.id))).all()
    assert {"auth.two_factor_enabled", "auth.two_factor_recovery_used"} <= set(actions)


def test_turning_two_factor_off_needs_the_password(db) -> None:
    user = make_user(db, "agent")
    actor = Actor(label=user.email, user_id=user.id, role=user.role)
    secret = twofactor.pending_enrolment(db, user, now=NOW).secret
    twofactor.confirm_enrolment(db, user, pyotp.TOTP(secret).at(NOW), actor=actor, now=NOW)
    with pytest.raises(twofactor.WrongPassword):
        twofactor.disable_two_factor(db, user, "not-my-password", actor=actor, now=NOW)
    assert twofactor.has_two_factor(db, user.id)
    twofactor.disable_two_factor(db, user, PASSWORD, actor=actor, now=NOW)
    assert not twofactor.has_two_factor(db, user.id) and twofactor.unused_recovery_codes(db, user.id) == 0


def test_who_must_use_two_factor(db) -> None:
    agent, manager, customer = make_user(db, "agent"), make_user(db, "manager"), make_user(db, "customer")
    roles = ("manager", "admin")
    assert twofactor.two_factor_required(db, manager, roles)
    assert not twofactor.two_factor_required(db, agent, roles)
    assert not twofactor.two_factor_required(db, manager, ())
    admin = make_user(db, "admin")
    actor = Actor(label=admin.email, user_id=admin.id, role="admin")
    twofactor.set_require_two_factor_for_all_staff(db, True, actor=actor, now=NOW)
    assert twofactor.two_factor_required(db, agent, roles) and twofactor.two_factor_required(db, agent, ())
    assert not twofactor.two_factor_required(db, customer, roles)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "security.two_factor_policy")).one()
    assert entry.after == {"require_two_factor_for_all_staff": True}
