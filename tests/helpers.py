"""Helpers for web tests: CSRF tokens from real forms, signing in through the real forms."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from core.audit.models import AuditEntry

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
# Audit entries of the sign-in itself (auth.sign_in, auth.sign_out...): left out by a test that checks what a
# staff member's action wrote to the audit log.
NOT_SIGN_IN = AuditEntry.action.not_like("auth.%")


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token from a form on `path`."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token in the form at {path}"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str, *, console: bool = False):
    """Sign in through the real form, CSRF token included; returns the response."""
    path = "/console/login" if console else "/login"
    token = csrf_token(client, path)
    return client.post(path, data={"email": email, "password": password, "csrf_token": token})
