"""The model registry: every trained model with its card (what, how, on which data, how good).

A model lives in a directory; each training adds a version ``v1``, ``v2``, ... holding the
artifact (``model.joblib``) and ``card.json``: version, task, parameters, options, metrics,
the data fingerprint and the split. The directory's newest version is the one used unless
a version directory is named. Artifacts are checked against the card's SHA-256 before they
are unpickled: load models only from directories you trust.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> card = ModelCard(task="failure", params={"n": 1}, metrics={"f1": 0.9})
>>> saved = save_model(root / "pumps", {"weights": [1, 2]}, card)
>>> saved.name, saved.version
('pumps', 1)
>>> model, again = load_model(root / "pumps")
>>> model, again.metrics["f1"], [c.name for c in list_models(root)]
({'weights': [1, 2]}, 0.9, ['pumps'])
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import joblib
import orjson

from andon import __version__
from andon.errors import AndonError, NotFound

__all__ = [
    "DEFAULT_ROOT",
    "ModelCard",
    "RegistryError",
    "list_models",
    "load_model",
    "model_versions",
    "save_model",
]

_logger = logging.getLogger(__name__)
DEFAULT_ROOT = Path("data/models")
_ARTIFACT = "model.joblib"
_CARD = "card.json"
_VERSION = re.compile(r"^v(\d+)$")


class RegistryError(AndonError):
    """A model directory is damaged (missing or altered artifact, unreadable card)."""


@dataclass(frozen=True)
class ModelCard:
    """What the registry knows about one trained model version."""

    task: str
    params: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    name: str = ""
    version: int = 0
    created_ms: int = 0
    andon_version: str = __version__
    path: str = ""
    sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def model_versions(directory: Path) -> list[Path]:
    """Version directories of a model, oldest first."""
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _VERSION.match(p.name))]
    return [p for _, p in sorted(found) if (p / _CARD).is_file()]


def save_model(directory: Path, model: object, card: ModelCard) -> ModelCard:
    """Store ``model`` as the next version under ``directory``; returns the final card."""
    versions = model_versions(directory)
    number = int(versions[-1].name[1:]) + 1 if versions else 1
    target = directory / f"v{number}"
    target.mkdir(parents=True, exist_ok=False)
    artifact = target / _ARTIFACT
    joblib.dump(model, artifact, compress=3)
    final = replace(
        card,
        name=directory.name,
        version=number,
        created_ms=card.created_ms or int(time.time() * 1000),
        path=str(target),
        sha256=_sha256(artifact),
    )
    (target / _CARD).write_bytes(
        orjson.dumps(final.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    )
    _logger.info("saved %s model %s v%d", card.task, directory, number)
    return final


def _resolve(path: Path) -> Path:
    if (path / _CARD).is_file():
        return path
    versions = model_versions(path)
    if not versions:
        raise NotFound(f"no trained model at {path}")
    return versions[-1]


def read_card(path: Path) -> ModelCard:
    """The card of a model directory (newest version) or of a version directory."""
    version = _resolve(path)
    try:
        return ModelCard.from_dict(orjson.loads((version / _CARD).read_bytes()))
    except (OSError, orjson.JSONDecodeError, TypeError) as exc:
        raise RegistryError(f"unreadable model card in {version}: {exc}") from exc


def load_model(path: Path) -> tuple[Any, ModelCard]:
    """The model object and card of ``path`` (newest version, or the version named)."""
    version = _resolve(path)
    card = read_card(version)
    artifact = version / _ARTIFACT
    if not artifact.is_file():
        raise RegistryError(f"{version} has a card but no {_ARTIFACT}")
    if card.sha256 and _sha256(artifact) != card.sha256:
        raise RegistryError(f"{artifact} does not match its card (altered or damaged)")
    return joblib.load(artifact), card


def list_models(root: Path = DEFAULT_ROOT) -> list[ModelCard]:
    """The newest card of every model under ``root``, sorted by name."""
    if not root.is_dir():
        return []
    cards = []
    for card_file in sorted(root.rglob(_CARD)):
        version = card_file.parent
        versions = model_versions(version.parent)
        if versions and versions[-1] == version:
            cards.append(read_card(version))
    return sorted(cards, key=lambda c: (c.name, c.path))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
