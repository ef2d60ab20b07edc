"""A small JSON HTTP client over the standard library, for polling channels and pushing to them.

Retries (429, 5xx, connection failures) wait with exponential back-off, or as long as the channel's
Retry-After says, within a bounded number of attempts and a bounded total wait; then the last error is
raised as ChannelHttpError. Request headers are never logged: they carry the channel's credentials.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

log = logging.getLogger("crossdock.channels")

USER_AGENT = "crossdock/1"
ERROR_BODY_LIMIT = 2000  # characters of a failed response kept in the error (and in the outbox's last_error)


class ChannelHttpError(Exception):
    """A channel answered with an error status (0: no answer at all: refused, reset, timed out)."""

    def __init__(
        self,
        status: int,
        body: str,
        retry_after: float | None = None,
        *,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.body = body[:ERROR_BODY_LIMIT]
        self.retry_after = retry_after
        self.method = method
        self.path = path
        where = f" from {method} {path}" if method else ""
        what = f"HTTP {status}" if status else "no response"
        super().__init__(f"{what}{where}: {self.body}" if self.body else f"{what}{where}")

    @property
    def retryable(self) -> bool:
        """True for a failure worth retrying later: rate limited, a server error, or no response."""
        return self.status in {0, 429} or self.status >= 500


@dataclass(frozen=True)
class HttpResponse:
    """A successful response; unpacks as (status, headers, data) with `text` the raw body."""

    status: int
    headers: dict[str, str]  # lower-cased names
    data: Any  # parsed JSON, the text itself when it is not JSON, None when empty
    text: str

    def __iter__(self) -> Iterator[Any]:
        return iter((self.status, self.headers, self.data))


Sleep = Callable[[float], None]


class HttpClient:
    """JSON over HTTP(S) against one base URL, with bounded retries."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 20.0,
        *,
        max_attempts: int = 5,
        max_wait: float = 60.0,
        backoff: float = 1.0,
        sleep: Sleep = time.sleep,
    ) -> None:
        if not base_url or urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"base URL must be http(s)://..., not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.max_wait = max_wait
        self.backoff = backoff
        self.sleep = sleep

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """GET path?params."""
        return self.request("GET", path, params=params, headers=headers)

    def post(
        self,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """POST a JSON body."""
        return self.request("POST", path, params=params, json=json, headers=headers)

    def put(
        self,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """PUT a JSON body."""
        return self.request("PUT", path, params=params, json=json, headers=headers)

    def patch(
        self,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """PATCH with a JSON body."""
        return self.request("PATCH", path, params=params, json=json, headers=headers)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """Send one request, retrying what is worth retrying; ChannelHttpError when it finally fails."""
        url = self._url(path, params)
        body = None if json is None else _dumps(json)
        merged = {"Accept": "application/json", "User-Agent": USER_AGENT, **self.headers, **(headers or {})}
        if body is not None:
            merged.setdefault("Content-Type", "application/json")
        waited = 0.0
        attempt = 1
        while True:
            started = time.monotonic()
            try:
                response = self._send(method, path, url, body, merged)
            except ChannelHttpError as exc:
                delay = self._delay(exc, attempt)
                if not exc.retryable or attempt >= self.max_attempts or waited + delay > self.max_wait:
                    log.warning("%s %s failed after %d attempt(s): %s", method, path, attempt, exc)
                    raise
                log.info(
                    "%s %s: %s; retry %d/%d in %.1fs",
                    method,
                    path,
                    exc.status or "no response",
                    attempt,
                    self.max_attempts - 1,
                    delay,
                )
                self.sleep(delay)
                waited += delay
                attempt += 1
                continue
            log.debug("%s %s -> %d in %.3fs", method, path, response.status, time.monotonic() - started)
            return response

    def _url(self, path: str, params: Mapping[str, Any] | None) -> str:
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"
        if params:
            query = urllib.parse.urlencode(
                {k: v for k, v in params.items() if v is not None}, doseq=True, safe=":,"
            )
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        return url

    def _delay(self, exc: ChannelHttpError, attempt: int) -> float:
        if exc.retry_after is not None:
            return max(0.0, exc.retry_after)
        return self.backoff * 2 ** (attempt - 1)

    def _send(
        self, method: str, path: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> HttpResponse:
        # the scheme is checked in __init__ (http or https only); absolute paths keep to those too
        request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as raw:  # noqa: S310
                return _read(raw.status, raw.headers, raw.read())
        except urllib.error.HTTPError as exc:
            payload = _read(exc.code, exc.headers, _read_error_body(exc))
            raise ChannelHttpError(
                exc.code,
                payload.text,
                parse_retry_after(payload.headers.get("retry-after")),
                method=method,
                path=path,
            ) from None
        except OSError as exc:  # URLError, timeouts and resets are all OSErrors
            reason = getattr(exc, "reason", exc)
            raise ChannelHttpError(0, f"{type(exc).__name__}: {reason}", method=method, path=path) from None


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _read_error_body(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read()
    except OSError:
        return b""


def _read(status: int, headers: Message | None, raw: bytes) -> HttpResponse:
    names = {k.lower(): v for k, v in (headers.items() if headers is not None else [])}
    charset = (headers.get_content_charset() if headers is not None else None) or "utf-8"
    text = raw.decode(charset, errors="replace")
    data: Any = None
    if text.strip():
        content_type = names.get("content-type", "")
        if "json" in content_type or text.lstrip()[:1] in ("{", "["):
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = text
        else:
            data = text
    return HttpResponse(status, names, data, text)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
