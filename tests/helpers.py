"""Helpers for web tests: CSRF tokens from real forms, signing in through the real forms."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


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
