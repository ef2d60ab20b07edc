"""The console's Sent mail shows the mail of the database in use: each database has its own catcher folder."""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from pathlib import Path

import pytest

from app import create_app
from core.notifications import catcher
from core.notifications.catcher import mail_dir_for, start_catcher
from tests.factories import PASSWORD, make_user
from tests.helpers import sign_in


def test_mail_dir_for_each_database_its_own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pg = "postgresql+psycopg://crossdock:secret@db.example.org:5432/crossdock"
    other = "postgresql+psycopg://crossdock:secret@db.example.org:5432/other"
    assert mail_dir_for(pg, tmp_path) != mail_dir_for(other, tmp_path)
    assert mail_dir_for(pg, tmp_path) == mail_dir_for(pg.replace("secret", "rotated"), tmp_path)
    assert mail_dir_for(f"sqlite:///{tmp_path / 'a.db'}", tmp_path) == mail_dir_for(
        "sqlite:///a.db", tmp_path
    )
    assert mail_dir_for("sqlite:///a.db", tmp_path) != mail_dir_for("sqlite:///b.db", tmp_path)
    assert mail_dir_for("sqlite:///a.db", tmp_path).parent == tmp_path


def test_create_app_mail_dir_follows_the_database(tmp_path: Path) -> None:
    first = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'first.db'}"})
    second = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'second.db'}"})
    for app in (first, second):
        app.extensions["crossdock.session_factory"].kw["bind"].dispose()
    assert first.config["MAIL_DIR"] == mail_dir_for(f"sqlite:///{tmp_path / 'first.db'}")
    assert first.config["MAIL_DIR"] != second.config["MAIL_DIR"]


def _catch(maildir: Path, subject: str) -> None:
    """Deliver one message through a real catcher on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, "shop@example.org", "a@example.org"
    message.set_content("body")
    controller = start_catcher("127.0.0.1", port, maildir)
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(message)
    finally:
        controller.stop()


def test_sent_mail_page_lists_only_this_databases_mail(
    session_factory, db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catcher, "MAIL_ROOT", tmp_path / "mail")
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "SESSION_FACTORY": session_factory})
    this_database = session_factory.kw["bind"].engine.url
    assert app.config["MAIL_DIR"] == mail_dir_for(this_database, tmp_path / "mail")
    _catch(mail_dir_for(this_database), "Mail of this database")
    _catch(mail_dir_for("sqlite:///another.db"), "Mail of another database")
    agent = make_user(db, "agent")
    db.commit()
    client = app.test_client()
    sign_in(client, agent.email, PASSWORD, console=True)
    page = client.get("/console/mail").get_data(as_text=True)
    assert "Mail of this database" in page and "Mail of another database" not in page
