"""Observability: traces, metrics, alerting hooks and the ETA of running executions.

Everything here feeds on the engine's event stream (one ``executor.on("*", ...)`` handler each); the
engine itself is not instrumented, so a process that does not turn telemetry on pays nothing, and
``import quorum`` never imports OpenTelemetry (only :func:`instrument` does, and only when asked)::

    from quorum.telemetry import instrument, telemetry_settings

    telemetry = instrument(executor, telemetry_settings())   # OTEL_* variables / [telemetry]
    ...
    await telemetry.aclose()                                  # flush spans and pending alerts

Modules: :mod:`~quorum.telemetry.settings` (configuration), :mod:`~quorum.telemetry.tracing` (spans),
:mod:`~quorum.telemetry.metrics` (instruments) and :mod:`~quorum.telemetry.prometheus` (their text),
:mod:`~quorum.telemetry.eta` (predictions from history) and :mod:`~quorum.telemetry.tracker` (live
ETA, ``phase:slow``), :mod:`~quorum.telemetry.alerts` (webhooks and callables).
"""

from __future__ import annotations

from quorum.telemetry._instrument import Telemetry, instrument
from quorum.telemetry.alerts import Alert, AlertHooks
from quorum.telemetry.eta import Eta, EtaModel, estimate
from quorum.telemetry.settings import AlertSettings, TelemetrySettings, telemetry_settings
from quorum.telemetry.tracker import EtaTracker

__all__ = (
    "Alert",
    "AlertHooks",
    "AlertSettings",
    "Eta",
    "EtaModel",
    "EtaTracker",
    "Telemetry",
    "TelemetrySettings",
    "estimate",
    "instrument",
    "telemetry_settings",
)
