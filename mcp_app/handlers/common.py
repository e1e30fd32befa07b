"""What several handler groups share: pagination, calling user code, visibility by scope."""

from __future__ import annotations

import base64
import inspect
import json
from collections.abc import Callable
from typing import Any

from ..context import ToolContext
from ..protocol.errors import InvalidParams

PAGE_SIZE = 50


def paginate(items: list[dict[str, Any]], params: Any, key: str) -> dict[str, Any]:
    cursor = getattr(params, "cursor", None)
    start = 0
    if cursor not in (None, ""):  # an empty cursor is the first page (TRANS-54, 2026-07-28)
        try:
            start = int(base64.urlsafe_b64decode(str(cursor).encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise InvalidParams("Invalid cursor") from None
        if start < 0 or start > len(items):
            raise InvalidParams("Invalid cursor")
    page: dict[str, Any] = {key: items[start:start + PAGE_SIZE]}
    if start + PAGE_SIZE < len(items):
        page["nextCursor"] = base64.urlsafe_b64encode(str(start + PAGE_SIZE).encode()).decode()
    return page


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Await user code; synchronous functions (which may use the ORM) run on ``/mcp``'s database pool."""
    if inspect.iscoroutinefunction(function):
        return await function(*args, **kwargs)
    from ..db import run_sync

    return await run_sync(function, *args, **kwargs)


def visible(scopes: tuple[str, ...], context: ToolContext) -> bool:
    return context.principal.scopes.issuperset(scopes)


def text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, indent=2)
