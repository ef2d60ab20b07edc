"""Uploads: limited by size and type and refused with the reason (CSV uploads in the console, attachments
of inbound email); what is kept is served only by id, as a download that is never sniffed or run."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from core.support.models import Message, MessageAttachment
from core.uploads import MAX_CSV_BYTES, UploadRefused, content_matches_type, read_csv_upload
from tests.factories import PASSWORD, make_user
from tests.helpers import csrf_token, sign_in
from tests.security.world import make_owner, make_shop_for_people
from tests.support_factories import make_email

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
XLSX = b"PK\x03\x04" + b"\x00" * 64


@pytest.mark.parametrize(
    ("filename", "data", "reason"),
    [
        ("counts.xlsx", b"location,sku,counted\n", "not a CSV file"),
        ("counts.csv", XLSX, "binary data"),
        ("counts.csv", PNG, "binary data"),
        ("counts.csv", b"", "empty"),
        ("counts.csv", "sku,qty\ncafé,1\n".encode("latin-1"), "not UTF-8"),
        ("counts.csv", b"a" * (MAX_CSV_BYTES + 1), "larger than 2 MB"),
    ],
)
def test_csv_upload_outside_the_limits_is_refused_with_the_reason(filename, data, reason) -> None:
    with pytest.raises(UploadRefused, match=reason):
        read_csv_upload(filename, io.BytesIO(data))


def test_csv_upload_within_the_limits_is_read() -> None:
    text = read_csv_upload("Counts.CSV", io.BytesIO("\ufefflocation,sku,counted\nA,B,1\n".encode()))
    assert text.startswith("location,sku")


@pytest.mark.parametrize(
    ("content_type", "content", "ok"),
    [
        ("image/png", PNG, True),
        ("image/png", b"<html><script>alert(1)</script>", False),
        ("image/jpeg", b"\xff\xd8\xff\xe0rest", True),
        ("application/pdf", b"%PDF-1.7", True),
        ("application/pdf", b"MZ\x90\x00", False),
        ("text/plain", b"hello", True),
        ("text/csv", b"a,b\x00", False),
        ("application/x-msdownload", b"MZ", False),
    ],
)
def test_content_matches_type_table(content_type, content, ok) -> None:
    assert content_matches_type(content_type, content) is ok


@pytest.fixture
def staff(client, db):
    admin = make_user(db, "admin")
    db.commit()
    sign_in(client, admin.email, PASSWORD, console=True)
    return client


def test_console_stock_count_upload_refuses_a_binary_file_with_the_reason(staff) -> None:
    token = csrf_token(staff, "/console/stock/counts")
    response = staff.post(
        "/console/stock/counts",
        data={"csrf_token": token, "file": (io.BytesIO(XLSX), "count.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "is not a text file" in response.get_data(as_text=True)


def test_console_stock_count_upload_refuses_a_spreadsheet_by_name(staff) -> None:
    token = csrf_token(staff, "/console/stock/counts")
    response = staff.post(
        "/console/stock/counts",
        data={"csrf_token": token, "file": (io.BytesIO(b"a,b\n"), "count.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "is not a CSV file" in response.get_data(as_text=True)


def test_request_over_the_size_limit_is_413(staff, app) -> None:
    token = csrf_token(staff, "/console/stock/counts")
    big = io.BytesIO(b"a" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    response = staff.post(
        "/console/stock/counts",
        data={"csrf_token": token, "file": (big, "count.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413


def test_inbound_email_attachment_disguised_as_an_image_is_refused(app, db) -> None:
    app.config["INBOUND_EMAIL_SECRET"] = "in-secret"
    raw = make_email(
        attachments=[
            ("holiday.png", "image/png", b"<html><script>alert(1)</script></html>"),
            ("../../../etc/passwd.png", "image/png", PNG),
        ]
    )
    response = app.test_client().post(
        "/api/support/inbound-email",
        data=raw,
        headers={"X-Crossdock-Inbound-Secret": "in-secret", "Content-Type": "message/rfc822"},
    )
    assert response.status_code == 200
    message = db.get(Message, response.get_json()["message_id"])
    assert message.data["rejected_attachments"] == [
        {"filename": "holiday.png", "reason": "the content is not image/png"}
    ]
    [kept] = db.scalars(select(MessageAttachment).where(MessageAttachment.message_id == message.id)).all()
    assert "/" not in kept.filename and "\\" not in kept.filename


def test_attachments_are_served_by_id_as_downloads_never_by_path(app, db) -> None:
    owner = make_owner(db, make_shop_for_people(db))
    db.commit()
    client = app.test_client()
    sign_in(client, owner.user.email, PASSWORD)
    response = client.get(f"/support/{owner.conversation.id}/attachments/{owner.attachment_id}")
    assert response.status_code == 200 and response.data.startswith(b"\x89PNG")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    # no route but the static folder takes a path from the request
    path_rules = [r.rule for r in app.url_map.iter_rules() if "path:" in r.rule or "<path" in r.rule]
    assert path_rules == ["/static/<path:filename>"]
    assert client.get("/static/../app.py").status_code == 404
