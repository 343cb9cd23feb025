"""The model registry: versions, cards, integrity."""

from __future__ import annotations

from pathlib import Path

import pytest

from andon.errors import NotFound
from andon.ml.registry import ModelCard, RegistryError, list_models, load_model, save_model


def _card(**metrics: float) -> ModelCard:
    return ModelCard(
        task="failure",
        params={"n_estimators": 10},
        options={"target": "y"},
        metrics=metrics,
        data={"rows": 3, "sha256": "ab"},
        split={"kind": "stratified", "k": 5},
    )


def test_each_training_adds_a_version_and_the_newest_is_used(tmp_path: Path) -> None:
    first = save_model(tmp_path / "cnc", {"v": 1}, _card(f1=0.8))
    second = save_model(tmp_path / "cnc", {"v": 2}, _card(f1=0.9))
    assert (first.version, second.version) == (1, 2)
    model, card = load_model(tmp_path / "cnc")
    assert model == {"v": 2}
    assert card.metrics == {"f1": 0.9}
    assert card.split["kind"] == "stratified"
    assert card.data["sha256"] == "ab"
    assert card.created_ms > 0
    older, old_card = load_model(tmp_path / "cnc" / "v1")
    assert (older, old_card.version) == ({"v": 1}, 1)


def test_listing_shows_the_newest_version_of_every_model(tmp_path: Path) -> None:
    save_model(tmp_path / "b", [1], _card())
    save_model(tmp_path / "a", [1], _card())
    save_model(tmp_path / "a", [2], _card())
    assert [(c.name, c.version) for c in list_models(tmp_path)] == [("a", 2), ("b", 1)]
    assert list_models(tmp_path / "missing") == []


def test_an_altered_artifact_is_refused(tmp_path: Path) -> None:
    card = save_model(tmp_path / "m", {"v": 1}, _card())
    artifact = Path(card.path) / "model.joblib"
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    with pytest.raises(RegistryError, match="does not match its card"):
        load_model(tmp_path / "m")


def test_missing_model_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no trained model"):
        load_model(tmp_path / "nothing")
