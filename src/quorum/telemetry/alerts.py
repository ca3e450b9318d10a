"""AlertHooks: tell someone when an execution fails, times out, or waits too long for an approval.

``executor.on("*", hooks)``. The handler only queues (a bounded queue; when full, the oldest alert is
dropped and counted): delivery runs in the hooks' own task, so a slow or dead receiver never holds an
execution up. Each alert goes to every target — webhooks (JSON POSTed with httpx) and Python callables
(sync or async, given an :class:`Alert`) — with ``retries`` more attempts on failure, waiting 0.5 s,
1 s, 2 s... (capped at 30 s) in between; a webhook's 4xx answer other than 408 and 429 is final (the
receiver refused it; asking again would not help). ``aclose()`` delivers what is queued (up to
``drain_s``), then stops.

Alerts (``AlertSettings.on`` picks among them):

- ``execution:error`` and ``execution:timeout``: the event, with its error (secrets masked);
- ``approval:waiting``: an approval gate still open ``approval_waiting_after`` after it was requested
  (one alert per gate; none when it is decided in time or the execution ends first).

A webhook's URL is never logged whole (it may carry a token): logs name its host.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from quorum.agents.secrets import redact
from quorum.errors import ConfigurationError
from quorum.events import Event, EventType
from quorum.telemetry.settings import AlertSettings

if TYPE_CHECKING:
    import httpx

__all__ = ("Alert", "AlertHooks", "AlertTarget", "load_callable")

_T = EventType
_ENDS = frozenset({_T.EXECUTION_COMPLETE, _T.EXECUTION_ERROR, _T.EXECUTION_TIMEOUT, _T.EXECUTION_ABORTED})
_log = logging.getLogger("quorum.telemetry.alerts")


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    kind: str
    """``execution:error``, ``execution:timeout`` or ``approval:waiting``."""
    execution_id: str
    task: str | None
    at: float
    message: str
    phase: str | None = None
    gate: str | None = None
    waiting_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "execution_id": self.execution_id, "task": self.task, "at": self.at,
                "message": self.message, "phase": self.phase, "gate": self.gate, "waiting_s": self.waiting_s}


AlertTarget = Callable[[Alert], object]
"""A Python callable target: ``notify(alert)``, sync or async."""


def load_callable(name: str) -> AlertTarget:
    """``module:function`` -> the function (ConfigurationError saying what is wrong)."""
    import importlib

    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"alert callable {name!r}: cannot import {module_name!r} ({exc})") from None
    target = getattr(module, attr, None)
    if not callable(target):
        raise ConfigurationError(f"alert callable {name!r}: {module_name} has no callable {attr!r}")
    return target  # type: ignore[no-any-return]


class _Refused(Exception):
    """A webhook answered 4xx: final, not retried."""


class AlertHooks:
    """See the module. ``delivered``, ``failed`` and ``dropped`` count alerts per target attempt outcome."""

    def __init__(
        self,
        settings: AlertSettings,
        *,
        callables: Sequence[AlertTarget] = (),
        maxsize: int = 1000,
        drain_s: float = 10.0,
        backoff_s: float = 0.5,
    ) -> None:
        self.settings = settings
        self.targets: list[AlertTarget] = [*(load_callable(n) for n in settings.callables), *callables]
        self.drain_s = drain_s
        self.backoff_s = backoff_s
        self._queue: collections.deque[Alert] = collections.deque(maxlen=maxsize)
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._waiting: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: dict[str, str | None] = {}
        self._closing = False
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    # --- hearing events (sync, never blocking) --------------------------------------------------------
    def __call__(self, event: Event) -> None:
        kind = event.type
        if kind == _T.EXECUTION_START:
            self._tasks[event.execution_id] = event.task
        elif kind in (_T.EXECUTION_ERROR, _T.EXECUTION_TIMEOUT):
            if kind in self.settings.on:
                self._put(Alert(kind=str(kind), execution_id=event.execution_id, task=event.task,
                                at=event.timestamp, phase=event.phase,
                                message=redact(event.error or str(event.data.get("status", kind)))))
        elif kind == _T.APPROVAL_REQUESTED and "approval:waiting" in self.settings.on:
            gate = f"{event.phase}/{event.step}"
            key = (str(event.execution_id), gate)
            if key not in self._waiting:
                loop = asyncio.get_running_loop()
                after = self.settings.approval_waiting_after_s
                self._waiting[key] = loop.call_later(after, self._still_waiting, event, gate)
        elif kind == _T.APPROVAL_DECIDED and event.data.get("outcome") is not None:
            timer = self._waiting.pop((str(event.execution_id), f"{event.phase}/{event.step}"), None)
            if timer is not None:
                timer.cancel()
        if kind in _ENDS:
            self._tasks.pop(event.execution_id, None)
            for key in [k for k in self._waiting if k[0] == event.execution_id]:
                self._waiting.pop(key).cancel()

    def _still_waiting(self, requested: Event, gate: str) -> None:
        self._waiting.pop((str(requested.execution_id), gate), None)
        waited = time.time() - requested.timestamp
        question = redact(str(requested.data.get("question") or ""))
        self._put(Alert(kind="approval:waiting", execution_id=requested.execution_id,
                        task=requested.task or self._tasks.get(requested.execution_id), at=time.time(),
                        phase=requested.phase, gate=gate, waiting_s=waited,
                        message=f"approval {gate} has waited {waited:.0f} s: {question}".rstrip(": ")))

    def _put(self, alert: Alert) -> None:
        if self._closing:
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1  # the deque drops the oldest
        self._queue.append(alert)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._deliver_all(), name="quorum-alerts")
        self._wake.set()

    # --- delivering -----------------------------------------------------------------------------------
    async def _deliver_all(self) -> None:
        while True:
            while self._queue:
                alert = self._queue.popleft()
                targets: list[str | AlertTarget] = [*self.settings.webhooks, *self.targets]
                for target in targets:
                    await self._deliver(alert, target)
            if self._closing:
                return
            self._wake.clear()
            await self._wake.wait()

    async def _deliver(self, alert: Alert, target: str | AlertTarget) -> None:
        attempts = 1 + self.settings.retries
        for attempt in range(1, attempts + 1):
            try:
                if isinstance(target, str):
                    await self._post(target, alert)
                else:
                    outcome = target(alert)
                    if inspect.isawaitable(outcome):
                        await outcome
            except _Refused as refused:
                _log.warning("alert %s for %s: %s refused it (%s)", alert.kind, alert.execution_id,
                             _where(target), refused)
                break
            except Exception as exc:  # any failure of a target is retried, then logged: never raised
                if attempt == attempts:
                    _log.warning("alert %s for %s not delivered to %s after %d attempts: %s", alert.kind,
                                 alert.execution_id, _where(target), attempts, redact(str(exc) or repr(exc)))
                    break
                await asyncio.sleep(min(30.0, self.backoff_s * 2 ** (attempt - 1)))
            else:
                self.delivered += 1
                return
        self.failed += 1

    async def _post(self, url: str, alert: Alert) -> None:
        if self._client is None:
            try:
                import httpx
            except ImportError:
                raise ConfigurationError("alert webhooks need httpx: pip install httpx") from None
            self._client = httpx.AsyncClient(timeout=self.settings.timeout_s, follow_redirects=False)
        answer = await self._client.post(url, content=json.dumps(alert.to_dict()),
                                         headers={"content-type": "application/json",
                                                  "user-agent": "quorum-alerts"})
        if 200 <= answer.status_code < 300:
            return
        if 400 <= answer.status_code < 500 and answer.status_code not in (408, 429):
            raise _Refused(f"HTTP {answer.status_code}")
        raise RuntimeError(f"HTTP {answer.status_code}")

    async def aclose(self) -> None:
        """Deliver what is queued (up to ``drain_s``), then stop; waiting approvals' timers are cancelled."""
        for timer in self._waiting.values():
            timer.cancel()
        self._waiting.clear()
        self._closing = True
        self._wake.set()
        worker, self._worker = self._worker, None
        if worker is not None:
            try:
                await asyncio.wait_for(asyncio.shield(worker), self.drain_s)
            except TimeoutError:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
                _log.warning("alerts: %d not delivered within %.0f s of closing", len(self._queue),
                             self.drain_s)
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _where(target: str | AlertTarget) -> str:
    if isinstance(target, str):
        return f"webhook {urlsplit(target).hostname or '?'}"
    return getattr(target, "__qualname__", repr(target))

