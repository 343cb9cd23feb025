"""``andon serve -c andon.yaml`` scores live what ``andon ingest`` writes (real processes).

A PostgreSQL database of the test's own holds ten minutes of the virtual machining line's
history; a failure model trained on it is attached in the settings' ``ml:`` section. Then
``andon ingest`` (a process, from a Mosquitto of our own) and ``andon serve`` (another
process, over the same database) run side by side while the factory publishes: the
machines' ``ml_failure_risk`` samples must appear for the live minutes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from andon import sim
from andon.broker import EmbeddedBroker, free_port
from andon.cli.runtime import HistorianTail, live_scorer
from andon.config import IngestSettings, MlSettings, Settings
from andon.historian import DuckDBHistorian, Historian, PostgresHistorian
from andon.ingest import Pipeline
from andon.ml.lives import producing_rows
from andon.ml.maintenance import FailureClassifier
from andon.ml.registry import ModelCard, save_model

T0 = 1_763_700_000_000


def _line(tmp_path: Path) -> sim.Scenario:
    text = (Path(sim.__file__).parent / "scenarios" / "demo.yaml").read_text(encoding="utf-8")
    path = tmp_path / "line.yaml"
    path.write_text(text[: text.index("  - area: forming")], encoding="utf-8")
    return sim.load_scenario(str(path))


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


class _Andon:
    """An ``andon`` command in a process of its own, its output in a file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "andon", *args], stdout=out, stderr=out
            )

    def output(self) -> str:
        """What it printed, lines unwrapped (rich wraps at 80 columns without a terminal)."""
        return " ".join(self.log.read_text(encoding="utf-8", errors="replace").split())

    def stop(self, sig: int = signal.SIGINT) -> int:
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()  # never leave a process behind for a later test to meet
            self.process.wait()
            raise


def _stopped(andon: _Andon, sig: int) -> int | str:
    try:
        return andon.stop(sig)
    except subprocess.TimeoutExpired:
        return "still running after the signal"


def _risks(url: str, asset: str, after_ms: int) -> int:
    historian = PostgresHistorian(url)
    try:
        tags = [t for t in historian.tags(asset) if t.name == "ml_failure_risk"]
        return len(historian.series(tags[0].id, after_ms, T0 + 86_400_000)) if tags else 0
    finally:
        historian.close()


def _trained(historian: Historian, asset: str, start: int, end: int, models: Path) -> None:
    """A small failure model on the machine's own tags, stored as ``cnc-failure``."""
    rows = producing_rows(historian, asset, start, end)
    features = rows.drop(columns=["ts"]).select_dtypes("number").fillna(0.0)
    torque = features["torque_nm"].to_numpy()
    label = (torque > np.quantile(torque, 0.8)).astype(int)
    model = FailureClassifier(n_estimators=5).fit(features, label)
    save_model(models / "cnc-failure", model, ModelCard(task="failure"))


def test_the_tail_scores_each_poll_what_was_written_since(tmp_path: Path) -> None:
    factory = sim.Factory(_line(tmp_path), seed=7, start_ms=T0)
    cnc1 = factory.machines[0].path
    historian = DuckDBHistorian(tmp_path / "plant.duckdb")
    try:
        with Pipeline(historian, IngestSettings(batch_size=5000)) as pipeline:
            sim.run(factory, _PipelineSink(pipeline), until_ms=T0 + 300_000)
        _trained(historian, cnc1, T0, factory.now_ms, tmp_path / "models")
        ml = MlSettings(
            models_dir=str(tmp_path / "models"),
            failure={"*/cnc*": "cnc-failure"},
            anomaly=False,
            learn=False,
        )
        scorer = live_scorer(Settings(ml=ml), historian)
        assert scorer is not None
        tail = HistorianTail(historian, scorer, lag_ms=2000)
        latest = historian.latest_ts()
        assert latest is not None
        assert tail.poll() > 0  # the last minutes on file
        first = tail.read_to_ms
        assert first == latest - 2000 + 1  # records still in flight wait for the next poll
        assert _count(historian, cnc1) > 0
        before = _count(historian, cnc1)
        assert tail.poll() == 0  # nothing new
        with Pipeline(historian, IngestSettings(batch_size=5000)) as pipeline:
            sim.run(factory, _PipelineSink(pipeline), until_ms=factory.now_ms + 120_000)
        assert tail.poll() > 0
        assert tail.read_to_ms is not None
        assert tail.read_to_ms > first
        assert _count(historian, cnc1) > before + 10  # two more minutes, a risk per 5 s
    finally:
        historian.close()


def _count(historian: Historian, asset: str) -> int:
    tags = [t for t in historian.tags(asset) if t.name == "ml_failure_risk"]
    return len(historian.series(tags[0].id, T0, T0 + 86_400_000)) if tags else 0


@pytest.mark.integration
@pytest.mark.slow
def test_serve_scores_what_ingest_writes(pg_database: str, tmp_path: Path) -> None:
    database = pg_database
    factory = sim.Factory(_line(tmp_path), seed=7, start_ms=T0)
    cnc1 = factory.machines[0].path
    historian = PostgresHistorian(database)
    try:
        with Pipeline(historian, IngestSettings(batch_size=5000)) as pipeline:
            sim.run(factory, _PipelineSink(pipeline), until_ms=T0 + 600_000)
        models = tmp_path / "models"
        _trained(historian, cnc1, T0, T0 + 600_000, models)
    finally:
        historian.close()
    history_end = factory.now_ms
    port = free_port()
    settings = {
        "db": database,
        "http_port": port,
        "ml": {
            "models_dir": str(models),
            "failure": {"*/cnc*": "cnc-failure"},
            "learn": False,
            "anomaly": False,
            "every_ms": 1000,
        },
    }
    config = tmp_path / "andon.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")

    with EmbeddedBroker(kind="mosquitto") as broker:
        ingest = _Andon(
            ["ingest", "--broker", broker.url, "--db", database, "--buffer", str(tmp_path / "b")],
            tmp_path / "ingest.log",
        )
        serve = _Andon(["serve", "-c", str(config)], tmp_path / "serve.log")
        try:
            _wait_for(lambda: "ingesting from" in ingest.output(), "ingest")
            _wait_for(lambda: f"on http://127.0.0.1:{port}" in serve.output(), "serve")
            with sim.MqttPublisher(broker.host, broker.port, client_id="serve-test") as out:
                sim.run(factory, out, until_ms=history_end + 300_000)  # five live minutes
            _wait_for(
                lambda: _risks(database, cnc1, history_end + 60_000) > 0, "live risks", timeout_s=90
            )
        finally:
            codes = [_stopped(ingest, signal.SIGTERM), _stopped(serve, signal.SIGINT)]
        assert codes == [0, 0], ingest.output() + serve.output()
    assert "Traceback" not in serve.output()


class _PipelineSink:
    """Sends the factory's messages through the ingestion pipeline (the history)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def send(self, messages: list[tuple[str, bytes]]) -> None:
        for topic, payload in messages:
            self.pipeline.submit(topic, payload)


@pytest.mark.integration
@pytest.mark.slow
def test_ingest_with_the_api_scores_what_it_writes(tmp_path: Path) -> None:
    """One process on a DuckDB file (`andon ingest --http-port`): it writes and scores."""
    factory = sim.Factory(_line(tmp_path), seed=7, start_ms=T0)
    cnc1 = factory.machines[0].path
    database = tmp_path / "plant.duckdb"
    historian = DuckDBHistorian(database)
    try:
        with Pipeline(historian, IngestSettings(batch_size=5000)) as pipeline:
            sim.run(factory, _PipelineSink(pipeline), until_ms=T0 + 600_000)
        _trained(historian, cnc1, T0, T0 + 600_000, tmp_path / "models")
        before = _count(historian, cnc1)
    finally:
        historian.close()
    history_end = factory.now_ms
    config = tmp_path / "andon.yaml"
    ml = {"models_dir": str(tmp_path / "models"), "failure": {"*/cnc*": "cnc-failure"}}
    config.write_text(
        yaml.safe_dump({"ml": {**ml, "learn": False, "anomaly": False, "every_ms": 1000}}),
        encoding="utf-8",
    )
    with EmbeddedBroker(kind="mosquitto") as broker:
        command = ["ingest", "-c", str(config), "--broker", broker.url, "--db", str(database)]
        command += ["--buffer", str(tmp_path / "b"), "--http-port", str(free_port())]
        worker = _Andon(command, tmp_path / "ingest.log")
        try:
            _wait_for(lambda: "ingesting from" in worker.output(), "ingest")
            with sim.MqttPublisher(broker.host, broker.port, client_id="ingest-test") as out:
                sim.run(factory, out, until_ms=history_end + 300_000)  # five live minutes
            time.sleep(8)  # a few polls of the tail
        finally:
            code = _stopped(worker, signal.SIGTERM)
        assert code == 0, worker.output()
    historian = DuckDBHistorian(database, read_only=True)
    try:
        assert _count(historian, cnc1) > before + 10, worker.output()
        risk = next(t for t in historian.tags(cnc1) if t.name == "ml_failure_risk")
        assert historian.series(risk.id, history_end + 60_000, history_end + 300_000)  # live
    finally:
        historian.close()
    assert "Traceback" not in worker.output()
