"""ML routes over a real DuckDB historian: models, alerts, machine health."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from andon.api import create_app
from andon.api.credentials import Credentials, Role
from andon.config import Settings
from andon.historian import AssetInfo, DuckDBHistorian
from andon.mes import audit
from andon.ml import registry
from andon.ml.live import LiveScorer, ScoringConfig
from andon.ml.maintenance import FailureClassifier
from andon.signals import Metrics, StateChange

T0 = 1_763_712_000_000
CNC = "acme/p1/mach/l1/cnc1"
PRESS = "acme/p1/form/l2/press1"


@pytest.fixture
def historian() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    h.upsert_assets([AssetInfo(CNC, 40.0), AssetInfo(PRESS, 5.0)])
    values = 20.0 + np.sin(np.arange(400) / 4)
    values[350] = 90.0  # a spike on the CNC's temperature
    scorer = LiveScorer(h, ScoringConfig(every_ms=1000, detector_params={"probation": 100}))
    records = [StateChange(CNC, T0, 10000)]
    records += [Metrics(CNC, T0 + i * 1000, {"temp_c": float(v)}) for i, v in enumerate(values)]
    scorer.publish(records)
    yield h
    h.close()


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"torque_nm": rng.normal(40, 10, 200)})
    model = FailureClassifier(n_estimators=10).fit(X, (X["torque_nm"] > 55).astype(int))
    card = registry.ModelCard(
        task="failure", metrics={"cv": {"f1": 0.9}}, split={"kind": "stratified"}
    )
    registry.save_model(tmp_path / "cnc-risk", model, card)
    return tmp_path


@pytest.fixture
def client(historian: DuckDBHistorian, models_dir: Path) -> TestClient:
    app = create_app(Settings(db=":memory:"), historian=historian)
    app.state.models_dir = models_dir
    return TestClient(app)


def test_models_are_listed_with_their_cards(client: TestClient) -> None:
    [model] = client.get("/api/v1/ml/models").json()
    assert (model["name"], model["version"], model["task"]) == ("cnc-risk", 1, "failure")
    assert model["metrics"]["cv"]["f1"] == 0.9
    assert model["split"] == {"kind": "stratified"}
    assert client.get("/api/v1/ml/models/cnc-risk").json()["version"] == 1
    missing = client.get("/api/v1/ml/models/none")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "NotFound"


def test_alerts_from_live_scoring(client: TestClient) -> None:
    alerts = client.get("/api/v1/alerts").json()
    assert [(a["asset"], a["kind"], a["tag"]) for a in alerts] == [(CNC, "anomaly", "temp_c")]
    [alert] = alerts
    assert alert["severity"] in {"warning", "critical"}
    assert alert["opened_ms"] == T0 + 350_000
    assert client.get("/api/v1/alerts", params={"asset": PRESS}).json() == []
    assert (
        len(client.get("/api/v1/alerts", params={"asset": "acme/p1/mach", "open": True}).json())
        == 1
    )
    later = client.get("/api/v1/alerts", params={"since": T0 + 10_000_000}).json()
    assert later == []
    assert client.get("/api/v1/alerts", params={"since": "yesterday"}).status_code == 400


def test_health_of_a_scored_machine(client: TestClient) -> None:
    health = client.get(f"/api/v1/health/{CNC}").json()
    assert health["asset"] == CNC
    assert health["status"] in {"warning", "critical"}  # the spike's alert is still open
    assert set(health["anomaly"]) == {"temp_c"}
    assert 0.0 <= health["anomaly"]["temp_c"]["value"] <= 1.0
    assert health["failure_risk"] is None  # no failure model attached
    assert [a["tag"] for a in health["open_alerts"]] == ["temp_c"]


def test_health_of_an_unscored_or_unknown_asset(client: TestClient) -> None:
    assert client.get(f"/api/v1/health/{PRESS}").json()["status"] == "unknown"
    assert client.get("/api/v1/health/acme/p1/none/l9/x").status_code == 404
    assert client.get("/api/v1/health/Bad Path").status_code == 400
    assert client.get("/api/v1/health").json()["status"] == "ok"  # liveness is untouched


def test_acknowledging_an_alert_is_stored_audited_and_listed(
    client: TestClient, historian: DuckDBHistorian
) -> None:
    [alert] = client.get("/api/v1/alerts").json()
    assert (alert["acked_ms"], alert["acked_by"]) == (None, None)
    url = f"/api/v1/alerts/{quote(alert['id'], safe='')}/ack"
    acked = client.post(url)
    assert acked.status_code == 200
    body = acked.json()
    assert body["id"] == alert["id"]
    assert body["acked_by"] == "local"  # auth is off: the loopback user
    assert body["open"] is True  # seen, not solved: it stays open until the signal clears
    [listed] = client.get("/api/v1/alerts", params={"open": True}).json()
    assert listed["acked_ms"] == body["acked_ms"]
    assert client.post(url).json()["acked_ms"] == body["acked_ms"]  # the first one stays
    [entry] = [e for e in audit.entries(historian) if e.entity == "alert"]
    assert (entry.action, entry.key, entry.actor) == ("acknowledge", alert["id"], "local")
    assert entry.before["acked_by"] is None
    assert entry.after["acked_by"] == "local"
    assert client.post("/api/v1/alerts/nope/ack").status_code == 404


def test_acknowledging_needs_an_operator(client: TestClient, historian: DuckDBHistorian) -> None:
    credentials = Credentials(historian)
    viewer, _ = credentials.create_key(Role.VIEWER, actor="test")
    operator, _ = credentials.create_key(Role.OPERATOR, actor="test")
    client.app.state.auth.reload()  # type: ignore[attr-defined]
    [alert] = client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {viewer}"}).json()
    url = f"/api/v1/alerts/{quote(alert['id'], safe='')}/ack"
    assert client.post(url).status_code == 401
    assert client.post(url, headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    done = client.post(url, headers={"Authorization": f"Bearer {operator}"})
    assert done.status_code == 200
    assert done.json()["acked_by"].startswith("key:")
