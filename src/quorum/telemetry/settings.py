"""TelemetrySettings: what to trace, measure and alert on, from the standard ``OTEL_*`` variables and the
``[telemetry]`` table of ``quorum.toml``.

Everything is off unless asked for. Traces are on when an exporter is named (``OTEL_TRACES_EXPORTER``,
an ``OTEL_EXPORTER_OTLP_*ENDPOINT``, or ``traces = true`` / ``exporter = ...`` in the file) and
``OTEL_SDK_DISABLED`` is not ``true``. The environment wins over the file, as for every other key::

    [telemetry]
    exporter = "otlp"                  # otlp | console | none
    endpoint = "http://127.0.0.1:4318" # OTLP/HTTP collector (OTEL_EXPORTER_OTLP_ENDPOINT)
    service_name = "quorum"            # OTEL_SERVICE_NAME
    capture_content = false            # answer text in spans
                                       # (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)
    metrics = true                     # the /metrics endpoint of quorum serve

    [telemetry.alerts]
    webhooks = ["https://hooks.example/quorum"]   # POSTed JSON (QUORUM_ALERT_WEBHOOK: comma-separated)
    callables = ["mypkg.alerts:notify"]           # called with each Alert
    on = ["execution:error", "execution:timeout", "approval:waiting"]
    approval_waiting_after = "30m"
    retries = 3
    timeout = "5s"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from quorum.errors import ConfigurationError

__all__ = (
    "ALERT_KINDS",
    "AlertSettings",
    "Exporter",
    "TelemetrySettings",
    "settings_of",
    "telemetry_settings",
)

Exporter = Literal["otlp", "console", "none"]
ALERT_KINDS: Final[frozenset[str]] = frozenset(
    {"execution:error", "execution:timeout", "approval:waiting"}
)
_TOP_KEYS: Final = frozenset({"traces", "exporter", "endpoint", "service_name", "capture_content", "metrics",
                              "alerts"})
_ALERT_KEYS: Final = frozenset(
    {"webhooks", "callables", "on", "approval_waiting_after", "retries", "timeout"}
)
_TRUE: Final = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSettings:
    webhooks: tuple[str, ...] = ()
    callables: tuple[str, ...] = ()
    """``module:function`` names, imported when the hooks are built."""
    on: frozenset[str] = ALERT_KINDS
    approval_waiting_after_s: float = 1800.0
    retries: int = 3
    timeout_s: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.webhooks or self.callables)


@dataclass(frozen=True, slots=True, kw_only=True)
class TelemetrySettings:
    traces: bool = False
    exporter: Exporter = "none"
    endpoint: str | None = None
    service_name: str = "quorum"
    capture_content: bool = False
    """Answer text in spans: off by default, since answers may hold confidential data."""
    metrics: bool = True
    alerts: AlertSettings = field(default_factory=AlertSettings)


def telemetry_settings(
    table: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    file: Path | None = None,
) -> TelemetrySettings:
    """The effective settings: ``table`` is the ``[telemetry]`` table of ``file`` (None: no table)."""
    import os

    env = os.environ if env is None else env
    where = f"{file}: [telemetry]" if file else "[telemetry]"
    data = dict(table or {})
    if not isinstance(table, Mapping | None):
        raise ConfigurationError(f"{where} must be a table")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_TOP_KEYS))}"
        )

    exporter = _exporter(data.get("exporter"), where)
    endpoint = _text(data.get("endpoint"), where, "endpoint")
    traces = _flag(data.get("traces"), where, "traces")
    env_exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if env_exporter:
        exporter = _exporter(env_exporter.split(",")[0].strip(), "OTEL_TRACES_EXPORTER")
        traces = exporter != "none"
    env_endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if env_endpoint:
        endpoint = env_endpoint
        if not env_exporter:
            exporter, traces = "otlp", True
    if traces is None:
        traces = exporter != "none" or endpoint is not None
    if traces and exporter == "none":
        exporter = "otlp"
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        traces = False
    capture = _flag(data.get("capture_content"), where, "capture_content") or False
    env_capture = env.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    if env_capture:
        capture = env_capture.strip().lower() in _TRUE
    metrics = _flag(data.get("metrics"), where, "metrics")
    return TelemetrySettings(
        traces=traces,
        exporter=exporter if traces else "none",
        endpoint=endpoint,
        service_name=env.get("OTEL_SERVICE_NAME") or _text(data.get("service_name"), where, "service_name")
        or "quorum",
        capture_content=capture,
        metrics=True if metrics is None else metrics,
        alerts=_alerts(data.get("alerts"), f"{file}: [telemetry.alerts]" if file else "[telemetry.alerts]",
                       env),
    )


def _alerts(table: Any, where: str, env: Mapping[str, str]) -> AlertSettings:
    from quorum.definition.durations import DurationError, parse_time_string

    if table is None:
        table = {}
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"{where} must be a table")
    unknown = sorted(set(table) - _ALERT_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_ALERT_KEYS))}"
        )
    webhooks = _texts(table.get("webhooks"), where, "webhooks")
    from_env = tuple(u.strip() for u in env.get("QUORUM_ALERT_WEBHOOK", "").split(",") if u.strip())
    webhooks = from_env or webhooks
    for url in webhooks:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"{where}: webhook {url!r} must be an http:// or https:// URL")
    callables = _texts(table.get("callables"), where, "callables")
    for name in callables:
        module, sep, attr = name.partition(":")
        if not sep or not module or not attr:
            raise ConfigurationError(
                f"{where}: callable {name!r} must be 'module:function' (e.g. mypkg.alerts:notify)"
            )
    kinds = frozenset(_texts(table.get("on"), where, "on")) or ALERT_KINDS
    if kinds - ALERT_KINDS:
        raise ConfigurationError(f"{where}: on = {sorted(kinds - ALERT_KINDS)} is not an alert; "
                                 f"choose among {', '.join(sorted(ALERT_KINDS))}")
    out: dict[str, float] = {}
    for key, default in (("approval_waiting_after", 1800.0), ("timeout", 5.0)):
        value = table.get(key)
        try:
            out[key] = default if value is None else parse_time_string(value)
        except DurationError as exc:
            raise ConfigurationError(f"{where}: {key}: {exc} (write e.g. \"30m\" or \"5s\")") from None
    retries = table.get("retries", 3)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 20:
        raise ConfigurationError(f"{where}: retries must be a whole number from 0 to 20, got {retries!r}")
    return AlertSettings(webhooks=webhooks, callables=callables, on=kinds,
                         approval_waiting_after_s=out["approval_waiting_after"], retries=retries,
                         timeout_s=out["timeout"])


def _exporter(value: Any, where: str) -> Exporter:
    if value is None:
        return "none"
    if value == "otlp":
        return "otlp"
    if value == "console":
        return "console"
    if value == "none":
        return "none"
    raise ConfigurationError(f"{where}: exporter {value!r} is not supported; use otlp, console or none")


def _flag(value: Any, where: str, key: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ConfigurationError(f"{where}: {key} must be true or false, got {value!r}")


def _text(value: Any, where: str, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value.strip()


def _texts(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigurationError(f"{where}: {key} must be a string or a list of strings, got {value!r}")
    return tuple(v.strip() for v in value)


def settings_of(cfg: Any) -> TelemetrySettings:
    """The settings of a loaded configuration: its ``telemetry`` (settings already parsed, or the raw
    ``[telemetry]`` table), else the environment's alone."""
    value = getattr(cfg, "telemetry", None)
    if isinstance(value, TelemetrySettings):
        return value
    return telemetry_settings(value if isinstance(value, Mapping) else None, file=getattr(cfg, "file", None))
