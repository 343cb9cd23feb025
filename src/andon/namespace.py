"""ISA-95 asset paths and the MQTT topics of the unified namespace.

An asset path is up to five ISA-95 levels ``enterprise/site/area/line/cell``, each lowercase
``[a-z0-9_-]``. Topics put the path under ``andon/v1/`` and end with a channel:

>>> topic_for("acme/plant1/machining/line1/cnc1", "metrics")
'andon/v1/acme/plant1/machining/line1/cnc1/metrics'
>>> parse_topic("andon/v1/acme/plant1/machining/line1/cnc1/state")
('acme/plant1/machining/line1/cnc1', 'state')
>>> ancestors("acme/plant1/machining/line1/cnc1")[:2]
['acme', 'acme/plant1']
"""

from __future__ import annotations

import re

from andon.errors import InvalidRequest

__all__ = [
    "CHANNELS",
    "LEVELS",
    "TOPIC_PREFIX",
    "ancestors",
    "cells",
    "is_under",
    "parse_topic",
    "subscription",
    "topic_for",
    "unit_of",
    "validate_path",
]

TOPIC_PREFIX = "andon/v1/"
LEVELS = ("enterprise", "site", "area", "line", "cell")
CHANNELS = frozenset({"metrics", "state", "count", "event"})
_SEGMENT = re.compile(r"^[a-z0-9_-]+$")


def validate_path(path: str) -> str:
    """Return ``path`` if it is a valid asset path, else raise :class:`InvalidRequest`."""
    parts = path.split("/")
    if not 1 <= len(parts) <= len(LEVELS):
        raise InvalidRequest(f"asset path {path!r} must have 1 to {len(LEVELS)} levels")
    for part in parts:
        if not _SEGMENT.match(part):
            raise InvalidRequest(f"asset path {path!r}: level {part!r} is not [a-z0-9_-]+")
    return path


def topic_for(asset: str, channel: str) -> str:
    """The MQTT topic on which ``asset`` publishes ``channel``."""
    return f"{TOPIC_PREFIX}{asset}/{channel}"


def parse_topic(topic: str) -> tuple[str, str]:
    """Split a unified-namespace topic into (asset path, channel).

    Raises :class:`InvalidRequest` when the topic is not in the namespace.
    """
    if not topic.startswith(TOPIC_PREFIX):
        raise InvalidRequest(f"topic {topic!r} is not under {TOPIC_PREFIX!r}")
    asset, _, channel = topic[len(TOPIC_PREFIX) :].rpartition("/")
    if channel not in CHANNELS:
        raise InvalidRequest(f"topic {topic!r}: unknown channel {channel!r}")
    return validate_path(asset), channel


def subscription(shared_group: str | None = None) -> str:
    """The MQTT filter for the whole namespace, optionally as an MQTT v5 shared subscription."""
    base = f"{TOPIC_PREFIX}#"
    return f"$share/{shared_group}/{base}" if shared_group else base


def ancestors(path: str) -> list[str]:
    """Every asset path above ``path``, from the enterprise down (excluding ``path``)."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def cells(paths: list[str], root: str | None = None) -> list[str]:
    """The work units among ``paths`` (those with nothing below them), optionally under ``root``.

    >>> cells(["acme", "acme/p1/a/l1/m1", "acme/p1/a/l1-b", "acme/p1/a/l1"], "acme/p1")
    ['acme/p1/a/l1-b', 'acme/p1/a/l1/m1']
    """
    above = {parent for path in paths for parent in ancestors(path)}
    return sorted(path for path in set(paths) - above if root is None or is_under(path, root))


def is_under(path: str, root: str) -> bool:
    """True when ``path`` is ``root`` or lies below it in the tree.

    >>> is_under("acme/p1/a/l1/m1", "acme/p1"), is_under("acme/p10", "acme/p1")
    (True, False)
    """
    return path == root or path.startswith(root + "/")


# Tag names end in their unit (``spindle_temp_c``, ``power_kw``): the suffix names it.
_UNIT_SUFFIXES = (
    ("_mm_s", "mm/s"),
    ("_kwh", "kWh"),
    ("_kw", "kW"),
    ("_rpm", "rpm"),
    ("_spm", "strokes/min"),
    ("_ppm", "packs/min"),
    ("_nm", "N·m"),
    ("_kn", "kN"),
    ("_bar", "bar"),
    ("_pct", "%"),
    ("_min", "min"),
    ("_s", "s"),
    ("_c", "°C"),
    ("_k", "K"),
    ("_hz", "Hz"),
    ("_a", "A"),
    ("_v", "V"),
    ("_n", "N"),
)


def unit_of(tag: str) -> str | None:
    """The engineering unit a tag name's suffix declares, or None.

    >>> unit_of("spindle_temp_c"), unit_of("vibration_rms_mm_s"), unit_of("mode")
    ('°C', 'mm/s', None)
    """
    for suffix, unit in _UNIT_SUFFIXES:
        if tag.endswith(suffix):
            return unit
    return None
