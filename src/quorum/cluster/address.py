"""The ``--cluster`` value: which Ray cluster to join, checked before anything connects."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from quorum.errors import ConfigurationError

__all__ = ("ClusterAddress", "parse_cluster")

_FORMS = ("ray://HOST:10001 (a head's client server)", "HOST:6379 (a head's GCS, from a node of the cluster)",
          "auto (the cluster this machine belongs to: `ray start` ran here)")


@dataclass(frozen=True, slots=True)
class ClusterAddress:
    """What ``ray.init(address=...)`` is given; ``shown`` is the same text without any credentials."""

    address: str
    shown: str

    @property
    def is_client(self) -> bool:
        return self.address.startswith("ray://")


def parse_cluster(value: str, *, where: str = "--cluster") -> ClusterAddress:
    """``ray://HOST[:PORT]``, ``HOST:PORT`` or ``auto``; a ConfigurationError says what is wrong."""
    text = value.strip()
    if text == "auto" or text == "local":
        return ClusterAddress(text, text)
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme != "ray":
            raise ConfigurationError(_bad(where, value, f"unknown scheme {parts.scheme!r}"))
        try:
            port = parts.port
        except ValueError:
            raise ConfigurationError(_bad(where, value, "the port is not a number")) from None
        if not parts.hostname:
            raise ConfigurationError(_bad(where, value, "no host"))
        shown = f"ray://{parts.hostname}:{port or 10001}"
        return ClusterAddress(shown, shown)
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ConfigurationError(_bad(where, value, "not HOST:PORT"))
    return ClusterAddress(text, text)


def _bad(where: str, value: str, why: str) -> str:
    shown = value if "@" not in value else "<address with credentials>"
    return f"{where} {shown!r}: {why}; use one of: " + "; ".join(_FORMS)
