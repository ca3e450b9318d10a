"""instrument(executor): turn on what the settings ask for, as event handlers of that executor."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quorum.events import Event
from quorum.telemetry.alerts import AlertHooks, AlertTarget
from quorum.telemetry.settings import TelemetrySettings
from quorum.telemetry.tracker import EtaTracker

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from quorum.engine.executor import TaskExecutor

__all__ = ("Telemetry", "instrument")

_log = logging.getLogger("quorum.telemetry")


@dataclass(slots=True, kw_only=True)
class Telemetry:
    """What :func:`instrument` turned on for one executor; ``aclose()`` flushes and detaches it."""

    executor: TaskExecutor
    settings: TelemetrySettings
    tracer_provider: TracerProvider | None = None
    owns_tracer_provider: bool = False
    metrics: bool = False
    eta: EtaTracker | None = None
    alerts: AlertHooks | None = None
    """The alert hooks (webhooks and callables of ``settings.alerts``, or ``alert_targets``)."""
    """The live ETA and ``phase:slow`` (``instrument(..., eta=True)``); learn models with ``eta.learn``."""
    notes: list[str] = field(default_factory=list)
    """Why something asked for stayed off (e.g. the otel extra is not installed)."""
    _handlers: list[Callable[[Event], Any]] = field(default_factory=list)

    @property
    def tracing(self) -> bool:
        return self.tracer_provider is not None

    def _attach(self, handler: Callable[[Event], Any]) -> None:
        self.executor.on("*", handler)
        self._handlers.append(handler)

    async def aclose(self) -> None:
        """Stop listening; export the spans still buffered (a provider quorum built is shut down)."""
        for handler in self._handlers:
            self.executor.off("*", handler)
        self._handlers.clear()
        if self.eta is not None:
            self.eta.close()
        if self.alerts is not None:
            await self.alerts.aclose()
        provider = self.tracer_provider
        if provider is not None:
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                flush()
            if self.owns_tracer_provider:
                provider.shutdown()  # type: ignore[attr-defined]


def instrument(
    executor: TaskExecutor,
    settings: TelemetrySettings | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    metrics: bool = False,
    meter_provider: MeterProvider | None = None,
    eta: bool | EtaTracker = False,
    alert_targets: tuple[AlertTarget, ...] = (),
) -> Telemetry:
    """Attach the handlers ``settings`` (default: from the environment) turn on to ``executor``.

    ``tracer_provider`` traces to that provider whatever the settings say (tests pass one with an
    in-memory exporter); otherwise quorum builds one when the settings ask for traces and the OpenTelemetry
    SDK is installed (when it is not, tracing stays off and ``notes`` says why).

    ``metrics=True`` (what ``quorum serve`` passes when ``settings.metrics``) feeds the process's
    :class:`~quorum.telemetry.metrics.MetricsHub` (the ``/metrics`` endpoint), or ``meter_provider``.
    ``eta=True`` (or a tracker) attaches an :class:`~quorum.telemetry.tracker.EtaTracker`
    (``telemetry.eta``). Alert hooks are attached when ``settings.alerts`` names a webhook or a callable,
    or ``alert_targets`` gives callables."""
    from quorum.telemetry.providers import otel_available, tracer_provider_for
    from quorum.telemetry.settings import telemetry_settings

    settings = telemetry_settings() if settings is None else settings
    telemetry = Telemetry(executor=executor, settings=settings)
    if tracer_provider is None and settings.traces:
        if otel_available():
            tracer_provider = tracer_provider_for(settings)
            telemetry.owns_tracer_provider = True
        else:
            telemetry.notes.append("traces are configured but OpenTelemetry is not installed: "
                                   "pip install 'quorum[otel]'")
            _log.warning(telemetry.notes[-1])
    if tracer_provider is not None:
        from quorum.telemetry.tracing import SpanBuilder

        telemetry.tracer_provider = tracer_provider
        telemetry._attach(SpanBuilder(tracer_provider, capture_content=settings.capture_content,
                                      parent_of=_parent_of(executor)))
    if metrics or meter_provider is not None:
        if meter_provider is None and not otel_available():
            telemetry.notes.append("metrics need OpenTelemetry: pip install 'quorum[otel]'")
            _log.warning(telemetry.notes[-1])
        else:
            from quorum.telemetry.metrics import MetricsRecorder, default_hub

            if meter_provider is None:
                hub = default_hub()
                hub.watch(executor)
                meter_provider = hub.meter_provider
            telemetry._attach(MetricsRecorder(meter_provider))
            telemetry.metrics = True
    if settings.alerts.enabled or alert_targets:
        telemetry.alerts = AlertHooks(settings.alerts, callables=alert_targets)
        telemetry._attach(telemetry.alerts)
    if eta is not False:
        telemetry.eta = EtaTracker() if eta is True else eta
        telemetry._attach(telemetry.eta)
    return telemetry


def _parent_of(executor: TaskExecutor) -> Callable[[str], str | None]:
    """The parent of an execution this executor drives (a ``task:`` step's child), from its context."""

    def parent_of(execution_id: str) -> str | None:
        live = executor.live_execution(execution_id)
        return None if live is None or live.ctx.parent_id is None else str(live.ctx.parent_id)

    return parent_of
