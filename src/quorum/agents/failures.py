"""Which agent failures are worth retrying, and how long a server asked us to wait.

Providers turn SDK and HTTP failures into :class:`ProviderError` (an :class:`~quorum.errors.AgentError`)
whose message is already redacted; the manager retries an ``AgentError`` only when ``transient`` is set.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from quorum.agents.secrets import redact
from quorum.errors import AgentError

__all__ = ("TRANSIENT_STATUS", "ProviderError", "from_exception", "parse_retry_after")

TRANSIENT_STATUS: frozenset[int] = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
_MAX_MESSAGE = 300


class ProviderError(AgentError):
    """A provider call failed. ``status`` is the HTTP status when there was one."""

    def __init__(
        self,
        agent_id: str,
        message: str,
        *,
        status: int | None = None,
        transient: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(agent_id, redact(message), transient=transient)
        self.status = status
        self.retry_after_s = retry_after_s


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def from_exception(agent_id: str, exc: Exception, *, provider: str) -> ProviderError:
    """Translate an SDK exception (openai or anthropic, which share their class names) or a network error.

    Only the status, the server's short message and the kind of failure are kept; the exception itself
    is dropped by the caller (``raise ... from None``) because SDK exceptions carry the request, headers
    and body, which may echo the API key.
    """
    names = _class_names(exc)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        retry_after = parse_retry_after(dict(headers.items()) if headers is not None else None)
        detail = _short(getattr(exc, "message", None) or str(exc))
        return ProviderError(
            agent_id,
            f"{provider} answered HTTP {status}: {detail}",
            status=status,
            transient=status in TRANSIENT_STATUS or status >= 500,
            retry_after_s=retry_after,
        )
    if "APITimeoutError" in names or isinstance(exc, TimeoutError):
        return ProviderError(agent_id, f"{provider} request timed out", transient=True)
    if "APIConnectionError" in names or isinstance(exc, ConnectionError):
        return ProviderError(agent_id, f"cannot reach {provider}: {_short(str(exc))}", transient=True)
    return ProviderError(agent_id, f"{provider} call failed: {type(exc).__name__}: {_short(str(exc))}")


def _short(text: str) -> str:
    text = " ".join(redact(text).split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"
