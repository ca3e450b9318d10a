"""Telemetry settings: off unless asked, the OTEL_* variables over the [telemetry] table, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from quorum.errors import ConfigurationError
from quorum.telemetry.settings import telemetry_settings

pytestmark = pytest.mark.unit


def test_everything_is_off_by_default() -> None:
    s = telemetry_settings(None, env={})
    assert not s.traces
    assert s.exporter == "none"
    assert not s.capture_content
    assert not s.alerts.enabled


def test_an_otlp_endpoint_turns_traces_on_and_the_sdk_switch_turns_them_off() -> None:
    s = telemetry_settings(None, env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
                                      "OTEL_SERVICE_NAME": "desk"})
    assert (s.traces, s.exporter, s.service_name) == (True, "otlp", "desk")
    assert s.endpoint == "http://127.0.0.1:4318"
    off = telemetry_settings({"exporter": "console"}, env={"OTEL_SDK_DISABLED": "true"})
    assert not off.traces


def test_the_environment_wins_over_the_file() -> None:
    table = {"exporter": "console", "capture_content": True, "alerts": {"webhooks": "http://a.example/h"}}
    s = telemetry_settings(table, env={"OTEL_TRACES_EXPORTER": "none",
                                       "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false",
                                       "QUORUM_ALERT_WEBHOOK": "http://b.example/h"})
    assert not s.traces
    assert not s.capture_content
    assert s.alerts.webhooks == ("http://b.example/h",)


def test_alert_settings_are_read_with_durations() -> None:
    alerts = {"callables": ["pkg.mod:notify"], "on": ["execution:error"], "approval_waiting_after": "90s",
              "retries": 5, "timeout": "2s"}
    s = telemetry_settings({"alerts": alerts}, env={})
    assert s.alerts.callables == ("pkg.mod:notify",)
    assert s.alerts.on == frozenset({"execution:error"})
    assert (s.alerts.approval_waiting_after_s, s.alerts.retries, s.alerts.timeout_s) == (90.0, 5, 2.0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"exporter": "jaeger"}, "exporter 'jaeger' is not supported; use otlp, console or none"),
        ({"trace": True}, "unknown key(s) trace"),
        ({"capture_content": "yes"}, "capture_content must be true or false"),
        ({"alerts": {"webhooks": ["ftp://x"]}}, "must be an http:// or https:// URL"),
        ({"alerts": {"callables": ["notify"]}}, "must be 'module:function'"),
        ({"alerts": {"on": ["execution:done"]}}, "is not an alert"),
        ({"alerts": {"approval_waiting_after": "soon"}}, "approval_waiting_after:"),
        ({"alerts": {"retries": -1}}, "retries must be a whole number from 0 to 20"),
    ],
)
def test_a_bad_table_is_named_with_its_file_and_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        telemetry_settings(table, env={}, file=Path("/p/quorum.toml"))
    assert message in str(caught.value)
    assert "/p/quorum.toml" in str(caught.value)


def test_the_telemetry_surface_is_sorted_and_resolves() -> None:
    import quorum.telemetry as telemetry

    names = list(telemetry.__all__)
    assert names == sorted(names)
    assert all(getattr(telemetry, name) is not None for name in names)
