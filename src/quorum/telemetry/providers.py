"""The OpenTelemetry SDK providers quorum builds when the settings ask for traces (and a caller gave none).

Imported only when tracing is on, so a process without the ``otel`` extra never imports OpenTelemetry.
Spans go only where the settings point: an OTLP/HTTP collector or the console; nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorum.errors import ConfigurationError
from quorum.telemetry.settings import TelemetrySettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ("otel_available", "tracer_provider_for")

_OTLP_PACKAGE = "opentelemetry-exporter-otlp-proto-http"


def otel_available() -> bool:
    """Whether the OpenTelemetry SDK (the ``otel`` extra) is installed."""
    import importlib.util

    try:
        return importlib.util.find_spec("opentelemetry.sdk.trace") is not None
    except ModuleNotFoundError:
        return False


def tracer_provider_for(settings: TelemetrySettings) -> TracerProvider:
    """A provider exporting in batches to the configured exporter (ConfigurationError when the exporter's
    package is missing, saying which to install)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    from quorum import __version__

    exporter: SpanExporter
    if settings.exporter == "console":
        exporter = ConsoleSpanExporter()
    elif settings.exporter == "otlp":
        try:
            # an optional package (not in the otel extra yet): mypy may not find it
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter,
            )
        except ImportError:
            raise ConfigurationError(
                f"traces to an OTLP collector need the package {_OTLP_PACKAGE} "
                f"(pip install {_OTLP_PACKAGE}), or set OTEL_TRACES_EXPORTER=console, or turn traces off "
                "(OTEL_TRACES_EXPORTER=none)"
            ) from None
        endpoint = settings.endpoint
        if endpoint and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    else:
        raise ConfigurationError("traces are off (exporter none): there is no provider to build")
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name,
                                                        "service.version": __version__}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
