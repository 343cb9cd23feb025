"""The exception tree of andon, rooted at :class:`AndonError`.

::

    AndonError
    ├── ConfigError              invalid settings, scenario or mapping file
    ├── InvalidRequest           a caller asked for something malformed (API -> 400/422)
    │   └── NotFound             the asset, tag or record does not exist (API -> 404)
    ├── IngestError
    │   └── PayloadRejected      a message failed validation; it goes to the dead letters
    ├── HistorianError
    │   └── HistorianUnavailable the database cannot be reached or written right now
    └── BrokerError              the embedded or external MQTT broker failed

Adapters translate library errors into this tree at the boundary (``raise ... from exc``);
the API maps it to structured JSON errors in one place.
"""

from __future__ import annotations

__all__ = [
    "AndonError",
    "BrokerError",
    "ConfigError",
    "HistorianError",
    "HistorianUnavailable",
    "IngestError",
    "InvalidRequest",
    "NotFound",
    "PayloadRejected",
]


class AndonError(Exception):
    """Root of every error andon raises on purpose."""


class ConfigError(AndonError):
    """Settings, scenario or mapping files are invalid."""


class InvalidRequest(AndonError):
    """A caller's request is malformed (bad window, unknown option)."""


class NotFound(InvalidRequest):
    """The asset, tag or record asked for does not exist."""


class IngestError(AndonError):
    """Base of errors raised while turning messages into records."""


class PayloadRejected(IngestError):
    """A message failed validation; ``reason`` says why, for the dead-letter store."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HistorianError(AndonError):
    """The historian failed to read or write."""


class HistorianUnavailable(HistorianError):
    """The historian cannot be reached or written right now; retry later."""


class BrokerError(AndonError):
    """The MQTT broker could not be started or reached."""
