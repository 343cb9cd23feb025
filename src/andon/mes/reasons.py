"""The downtime reason tree: two levels (category -> reason), configurable per plant.

A reason has a ``code`` (what operators pick), a ``name``, its category (``parent``; None for
a category itself) and optionally a ``state_code``: an operator annotation with such a reason
re-classifies the annotated time for OEE (a stop explained as planned maintenance becomes
planned downtime); without one it only names the stop. The plant's tree is stored in the
MES tables; until one is saved, :data:`DEFAULT_REASONS` applies.

>>> tree = ReasonTree(DEFAULT_REASONS)
>>> tree.get("bearing").parent, tree.get("planned_maintenance").state_code
('mechanical', 210000)
>>> [node["code"] for node in tree.nested()][:3]
['mechanical', 'electrical', 'material']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from andon.errors import InvalidRequest, NotFound
from andon.historian.protocol import Historian
from andon.mes import audit, store

__all__ = ["DEFAULT_REASONS", "Reason", "ReasonTree", "load_reasons", "save_reasons"]


@dataclass(frozen=True, slots=True)
class Reason:
    """One node of the tree; ``parent`` None makes it a category."""

    code: str
    name: str
    parent: str | None = None
    state_code: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "parent": self.parent,
            "state_code": self.state_code,
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], parent: str | None = None) -> Reason:
        try:
            code = data.get("state_code")
            return cls(
                str(data["code"]),
                str(data.get("name") or data["code"]),
                data.get("parent", parent),
                None if code is None else int(code),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidRequest(f"invalid reason {dict(data)!r}: {exc}") from exc


def _r(code: str, name: str, parent: str | None = None, state: int | None = None) -> Reason:
    return Reason(code, name, parent, state)


DEFAULT_REASONS: tuple[Reason, ...] = (
    _r("mechanical", "Mechanical"),
    _r("bearing", "Bearing", "mechanical", 180000),
    _r("spindle", "Spindle", "mechanical", 180000),
    _r("tooling", "Tool breakage or wear", "mechanical", 180000),
    _r("electrical", "Electrical"),
    _r("drive_fault", "Drive fault", "electrical", 180000),
    _r("sensor_fault", "Sensor fault", "electrical", 180000),
    _r("material", "Material"),
    _r("no_material", "No material", "material", 90000),
    _r("wrong_material", "Wrong material", "material", 90000),
    _r("quality", "Quality"),
    _r("adjustment", "Adjustment after a defect", "quality", 100000),
    _r("organisation", "Organisation"),
    _r("no_operator", "No operator", "organisation", 140000),
    _r("meeting", "Meeting", "organisation", 140000),
    _r("planned", "Planned"),
    _r("planned_maintenance", "Planned maintenance", "planned", 210000),
    _r("changeover", "Changeover", "planned", 100000),
    _r("cleaning", "Cleaning", "planned", 110000),
)


class ReasonTree:
    """A validated reason tree: unique codes, two levels at most, known parents."""

    def __init__(self, reasons: Iterable[Reason]) -> None:
        self.reasons = tuple(reasons)
        self._by_code = {r.code: r for r in self.reasons}
        if len(self._by_code) != len(self.reasons):
            raise InvalidRequest("reason codes must be unique")
        for reason in self.reasons:
            if not reason.code or "/" in reason.code:
                raise InvalidRequest(f"reason code {reason.code!r} must be non-empty without '/'")
            if reason.parent is None:
                continue
            parent = self._by_code.get(reason.parent)
            if parent is None:
                raise InvalidRequest(f"reason {reason.code}: unknown category {reason.parent!r}")
            if parent.parent is not None:
                raise InvalidRequest(f"reason {reason.code}: the tree has two levels at most")

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Reason:
        """The reason ``code``; :class:`NotFound` when the tree has none."""
        try:
            return self._by_code[code]
        except KeyError:
            raise NotFound(f"no reason {code!r} in the reason tree") from None

    def category(self, code: str) -> str:
        """The category of ``code`` (a category is its own)."""
        reason = self.get(code)
        return reason.parent or reason.code

    def nested(self) -> list[dict[str, object]]:
        """Categories with their reasons as ``children``, in the tree's order."""
        return [
            {**r.to_dict(), "children": [c.to_dict() for c in self.reasons if c.parent == r.code]}
            for r in self.reasons
            if r.parent is None
        ]

    @classmethod
    def from_nested(cls, items: Iterable[Mapping[str, Any]]) -> ReasonTree:
        """From categories with ``children`` (the shape of :meth:`nested`) or a flat list."""
        reasons: list[Reason] = []
        for item in items:
            reasons.append(Reason.from_mapping(item))
            reasons += [Reason.from_mapping(c, str(item["code"])) for c in item.get("children", ())]
        return cls(reasons)


def load_reasons(db: Historian) -> ReasonTree:
    """The plant's reason tree; :data:`DEFAULT_REASONS` until one is saved."""
    if not store.ready(db):
        return ReasonTree(DEFAULT_REASONS)
    rows = db.sql("SELECT value FROM mes_settings WHERE key = ?", ["reasons"])
    if not rows:
        return ReasonTree(DEFAULT_REASONS)
    return ReasonTree(Reason.from_mapping(item) for item in store.loads(rows[0][0]))


def save_reasons(db: Historian, tree: ReasonTree, actor: str) -> ReasonTree:
    """Store ``tree`` as the plant's reason tree, with an audit entry of the change."""
    before = [r.to_dict() for r in load_reasons(db).reasons]
    after = [r.to_dict() for r in tree.reasons]
    with store.transaction(db) as tx:
        tx.sql(
            "INSERT INTO mes_settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            ["reasons", store.dumps(after)],
        )
        audit.append(tx, actor, "update", "reasons", "plant", before, after)
    return tree
