"""JSON text from outside (webhooks, API bodies, imported files) parsed with limits: what breaks a limit is a
PayloadError that says which, never a RecursionError or a ValueError deep in a caller."""

from __future__ import annotations

import json
import re
from typing import Any

from core.errors import PayloadError

MAX_DEPTH = 64  # the deepest real channel document nests about 8 levels


class JsonTextError(PayloadError):
    """JSON text that can't be read: `reason` says why (not UTF-8, bad syntax, too deep, a huge number)."""

    def __init__(self, reason: str, *, encoding: bool = False) -> None:
        super().__init__(reason if encoding else f"not JSON: {reason}")
        self.reason = reason
        self.encoding = encoding


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text (bytes must be UTF-8, a BOM is skipped). JsonTextError (a PayloadError) with the reason
    on bad encoding, bad syntax, nesting deeper than `max_depth`, a number literal too long to read, or a
    string no database column takes (a NUL character, a lone UTF-16 surrogate such as "\\ud800")."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JsonTextError(f"not UTF-8 text: byte {exc.start} is invalid", encoding=True) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise JsonTextError(f"nested deeper than {max_depth} levels") from None
    except ValueError:  # an integer literal past Python's digit limit
        raise JsonTextError("a number is too long to read (over 4300 digits)") from None
    problem = _check_tree(data, max_depth)
    if problem:
        raise JsonTextError(problem)
    return data


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _check_tree(data: Any, max_depth: int) -> str | None:
    """What is wrong with parsed JSON: too deep, or a string that can't be stored (walked with a stack)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if _UNSTORABLE.search(node):
                return "a string holds a NUL character or a lone surrogate (\\u0000, \\ud800-\\udfff)"
            continue
        if isinstance(node, dict):
            children = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            return f"nested deeper than {max_depth} levels"
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | str))
    return None
