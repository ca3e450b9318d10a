"""OpenTelemetry metrics data as the Prometheus text exposition format (version 0.0.4).

The names follow OpenTelemetry's Prometheus compatibility rules: dots become underscores, the unit is
appended (``_seconds``, ``_usd``), counters end in ``_total``, histograms are cumulative ``_bucket``
series with ``le`` plus ``_sum`` and ``_count``. Written here (about what an exporter package would do)
so ``/metrics`` needs nothing beyond the SDK.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import Metric, MetricsData

__all__ = ("CONTENT_TYPE", "Labels", "gauge_lines", "render")

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
_UNITS: Final = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "USD": "usd"}
_BAD: Final = re.compile(r"[^a-zA-Z0-9_:]")


def _name(metric: Metric) -> str:
    name = _BAD.sub("_", metric.name)
    unit = _UNITS.get(metric.unit or "", "")
    if unit and not name.endswith(f"_{unit}"):
        name = f"{name}_{unit}"
    return name


def _labels(attributes: Mapping[str, Any] | None, extra: Mapping[str, str] | None = None) -> str:
    pairs = {**{_BAD.sub("_", k): str(v) for k, v in (attributes or {}).items()}, **(extra or {})}
    if not pairs:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(pairs.items()))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if isinstance(value, float) else str(value)


def render(data: MetricsData | None, extra: Iterable[str] = ()) -> str:
    """The exposition text of ``data`` (and ``extra`` lines, already formatted)."""
    lines = [*_lines(data), *extra]
    return "\n".join(lines) + "\n"


Labels = tuple[tuple[str, str], ...]


def gauge_lines(name: str, help_text: str, values: Mapping[Labels, float]) -> list[str]:
    """A gauge family computed outside OpenTelemetry (read from the history store at scrape time)."""
    out = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    out += [f"{name}{_labels(dict(labels))} {_number(value)}" for labels, value in sorted(values.items())]
    return out


def _lines(data: MetricsData | None) -> Iterator[str]:
    from opentelemetry.sdk.metrics.export import Gauge, Histogram, Sum

    if data is None:
        return
    for resource_metrics in data.resource_metrics:
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                name = _name(metric)
                point_data = metric.data
                if isinstance(point_data, Sum):
                    kind = "counter" if point_data.is_monotonic else "gauge"
                    family = f"{name}_total" if kind == "counter" else name
                    yield f"# HELP {family} {metric.description or metric.name}"
                    yield f"# TYPE {family} {kind}"
                    for point in point_data.data_points:
                        yield f"{family}{_labels(point.attributes)} {_number(point.value)}"
                elif isinstance(point_data, Gauge):
                    yield f"# HELP {name} {metric.description or metric.name}"
                    yield f"# TYPE {name} gauge"
                    for gauge in point_data.data_points:
                        yield f"{name}{_labels(gauge.attributes)} {_number(gauge.value)}"
                elif isinstance(point_data, Histogram):
                    yield f"# HELP {name} {metric.description or metric.name}"
                    yield f"# TYPE {name} histogram"
                    for hist in point_data.data_points:
                        running = 0
                        for bound, count in zip((*hist.explicit_bounds, math.inf), hist.bucket_counts,
                                                strict=True):
                            running += count
                            labels = _labels(hist.attributes, {"le": _number(float(bound))})
                            yield f"{name}_bucket{labels} {running}"
                        yield f"{name}_sum{_labels(hist.attributes)} {_number(hist.sum)}"
                        yield f"{name}_count{_labels(hist.attributes)} {hist.count}"
