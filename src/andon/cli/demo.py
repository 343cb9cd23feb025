"""``andon demo``: broker, virtual factory, ingestion, historian, API and dashboard at once.

Live scoring runs on the live stream (not the backfill): an anomaly detector on every tag,
and for each kind of machine a failure-risk and a remaining-useful-life model learned from
the plant's own history (:func:`andon.ml.learn.learn_from_history`) in a background thread
once the API serves, stored in the registry next to the database (``<db dir>/models``) and
reused on the next start (delete them to learn again). The last 15 minutes of history are
scored when the models attach (so risk trends and remaining lives show at once and the
anomaly detectors start warm); the live stream is scored from then on. A kind of machine
without enough history (failures, complete tool lives: run with ``--backfill 8`` or more)
gets anomaly scores only; the next start learns from what has been recorded by then.
A learned failure model alerts at the levels calibrated on the last third of its history
(stored in its model card), not at a fixed 0.5. ``--models DIR`` keeps the registry
elsewhere; ``--no-ml`` runs the plant without learning or scoring.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from andon import mes, sim
from andon.broker import EmbeddedBroker
from andon.cli.runtime import ApiServer, GatedStream, PlantPulse, RateMeter
from andon.config import MlSettings, Settings, broker_address
from andon.connect import MqttSource, MqttSubscription
from andon.errors import AndonError
from andon.historian import AssetInfo, DuckDBHistorian
from andon.ingest import Pipeline
from andon.ml.learn import learn_from_history, recent_records
from andon.ml.live import LiveScorer, ScoringConfig

__all__ = ["DemoOptions", "run_demo"]

_HOUR_MS = 3_600_000
_LEARN_WINDOW_MS = 24 * _HOUR_MS  # the history models learn from: the last day at most
_REPLAY_MS = 15 * 60_000  # scored at once when models attach: a trend, warm detectors


@dataclass(frozen=True)
class DemoOptions:
    """The demo's command-line options."""

    db: Path
    port: int = 8000
    duration: float | None = None
    speed: float = 1.0
    backfill_h: float = 0.0
    seed: int = 42
    scenario: str = "demo"
    broker: str | None = None
    mqtt_port: int | None = None
    ml: bool = True  # live scoring, with models learned from the history
    models_dir: Path | None = None  # default: ``models`` beside the database

    @property
    def models(self) -> Path:
        return self.models_dir or self.db.parent / "models"


@dataclass(frozen=True)
class _Endpoint:
    host: str
    port: int
    mqtt5: bool


class PipelineSink:
    """Feeds simulated messages straight into the ingestion pipeline (for backfills)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def send(self, messages: list[tuple[str, bytes]]) -> None:
        submit = self._pipeline.submit
        for topic, payload in messages:
            submit(topic, payload, source="backfill")


def run_demo(options: DemoOptions, console: Console) -> None:
    """Run the demo until ``options.duration`` elapses or Ctrl-C, then shut down cleanly."""
    historian = DuckDBHistorian(options.db)
    try:
        _Demo(options, historian, console).run()
    finally:
        historian.close()


class _Demo:
    def __init__(self, options: DemoOptions, historian: DuckDBHistorian, console: Console):
        self.options = options
        # Ten minutes of production teach the anomaly detectors enough for a demo.
        ml = MlSettings(models_dir=str(options.models), anomaly_probation_s=600)
        self.settings = Settings(
            db=str(options.db), http_port=options.port, broker=options.broker, ml=ml
        )
        self.historian = historian
        self.console = console
        self.pulse = PlantPulse()
        self.factory = self._factory()
        self.scorer = LiveScorer(historian, ScoringConfig.from_settings(ml)) if options.ml else None
        self.scoring = GatedStream(self.scorer)
        self.pipeline = Pipeline(
            historian, self.settings.ingest, streams=[self.pulse, self.scoring]
        )
        self.learner = threading.Thread(target=self._learn, name="andon-ml-learn", daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        with self.pipeline:
            self._backfill()
            try:
                with self._broker() as endpoint:
                    self._run_live(endpoint)
            finally:
                self.stopping.set()
                if self.learner.is_alive():
                    self.learner.join(timeout=60)  # it uses the historian we close next
        stats = self.pipeline.stats
        self.console.print(
            f"stopped: {stats.samples_written:,} samples written, {stats.rejected} rejected, "
            f"{stats.duplicates} duplicates"
        )

    def _factory(self) -> sim.Factory:
        scenario = sim.load_scenario(self.options.scenario)
        now = int(time.time()) * 1000
        start = now - int(self.options.backfill_h * _HOUR_MS)
        latest = self.historian.latest_ts()
        if latest is not None and latest >= start:  # continue the history already on file
            start = min(now, (latest // 1000 + 1) * 1000)
        factory = sim.Factory(scenario, self.options.seed, start)
        self.historian.upsert_assets(
            [AssetInfo(m.path, m.ideal_cycle_time_s, m.name) for m in factory.machines]
        )
        self._adopt_shift_calendar(scenario)
        return factory

    def _adopt_shift_calendar(self, scenario: sim.Scenario) -> None:
        """The plant's shifts and breaks are the scenario's, so ``--by shift`` means them."""
        calendar = mes.Calendar.from_mapping(
            {
                "timezone": scenario.timezone,
                "shifts": [
                    {
                        "name": shift.name,
                        "start": shift.start.isoformat("minutes"),
                        "hours": shift.hours,
                        "breaks": [
                            {"start": b.start.isoformat("minutes"), "minutes": b.minutes}
                            for b in shift.breaks
                        ],
                    }
                    for shift in scenario.shifts
                ],
            }
        )
        if mes.load_calendar(self.historian).to_mapping() != calendar.to_mapping():
            mes.save_calendar(self.historian, calendar, "andon demo")

    def _backfill(self) -> None:
        factory = self.factory
        steps = max(0, int(time.time()) - factory.now_ms // 1000)
        if steps < 2:
            return
        sink = PipelineSink(self.pipeline)
        columns = (
            TextColumn("backfill"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as progress:
            task = progress.add_task("backfill", total=steps)
            # Catch up with the wall clock, which moves on while we backfill.
            while factory.now_ms < int(time.time()) * 1000 - 1000:
                sim.run(
                    factory,
                    sink,
                    until_ms=int(time.time()) * 1000,
                    on_step=lambda f: _advance(progress, task, f),
                )
            self.pipeline.flush()
        self.console.print(
            f"backfilled {steps / 3600:.1f} h: {self.pipeline.stats.samples_written:,} samples"
        )

    @contextlib.contextmanager
    def _broker(self) -> Iterator[_Endpoint]:
        if self.options.broker:
            host, port = broker_address(self.options.broker)
            yield _Endpoint(host, port, mqtt5=True)
            return
        with EmbeddedBroker(self.options.mqtt_port) as broker:
            self.console.print(f"MQTT broker ({broker.kind}) on {broker.url}")
            yield _Endpoint(broker.host, broker.port, mqtt5=broker.kind == "mosquitto")

    def _run_live(self, endpoint: _Endpoint) -> None:
        subscription = MqttSubscription(
            endpoint.host,
            endpoint.port,
            client_id=self.settings.ingest.client_id,
            mqtt5=endpoint.mqtt5,
        )
        stop = threading.Event()
        api = ApiServer(self.settings, self.historian, self.pipeline, self.scorer)
        publisher = sim.MqttPublisher(
            endpoint.host, endpoint.port, client_id=f"andon-sim-{self.options.seed}"
        )
        with MqttSource(subscription, self.pipeline.submit) as source, publisher:
            factory_thread = threading.Thread(
                target=sim.run,
                args=(self.factory, publisher),
                kwargs={"speed": self.options.speed, "stop": stop},
                name="andon-sim",
                daemon=True,
            )
            factory_thread.start()
            try:
                api.start()
                self.console.print(
                    f"[bold green]andon is running:[/] open {api.url}  (Ctrl-C stops)"
                )
                if self.scorer is not None:
                    self.learner.start()
                self._status_loop(source)
            except KeyboardInterrupt:
                self.console.print("stopping...")
            finally:
                stop.set()
                factory_thread.join(timeout=10)
                api.stop()

    def _learn(self) -> None:
        """Learn (or load) the models, score the recent history, then score the live stream."""
        try:
            self._attach_models()
        finally:
            self.scoring.open()

    def _attach_models(self) -> None:
        """Failure and RUL models per kind of machine, from the history (or the registry)."""
        assert self.scorer is not None
        end = self.historian.latest_ts()
        if end is None:
            return
        groups: dict[str, list[str]] = {}
        for machine in self.factory.machines:
            groups.setdefault(machine.kind, []).append(machine.path)
        started = time.monotonic()
        try:
            learned = learn_from_history(
                self.historian,
                groups,
                self.options.models,
                end + 1 - _LEARN_WINDOW_MS,
                end + 1,
                prefix=f"{self.factory.scenario.name}-",
                stop=self.stopping,
            )
        except AndonError as exc:  # a damaged registry, a closing historian: score without
            self.console.print(f"[yellow]live scoring without learned models: {exc}[/]")
            return
        self.scorer.attach(
            failure=tuple(learned.failure), rul=tuple(learned.rul), models=learned.models
        )
        end = self.historian.latest_ts() or end
        paths = [m.path for m in self.factory.machines]
        self.scorer.publish(recent_records(self.historian, paths, end + 1 - _REPLAY_MS, end + 1))
        scored = len({a.pattern for a in (*learned.failure, *learned.rul)})
        self.console.print(
            f"live scoring: failure/RUL models on {scored} machines "
            f"({time.monotonic() - started:.0f} s; {'; '.join(learned.notes) or 'nothing new'})"
        )

    def _status_loop(self, source: MqttSource) -> None:
        meter = RateMeter()
        started = time.monotonic()
        last_print = 0.0
        duration = self.options.duration
        while duration is None or time.monotonic() - started < duration:
            time.sleep(min(1.0, max(0.05, (duration or 1.0) - (time.monotonic() - started))))
            line = self._status(meter.rate(source.messages))
            if self.console.is_terminal:
                self.console.print(line, end="\r")
            elif time.monotonic() - last_print >= 10:
                self.console.print(line)
                last_print = time.monotonic()

    def _status(self, rate: float) -> str:
        running, seen = self.pulse.running()
        clock = time.strftime("%H:%M:%S", time.gmtime(self.factory.now_ms / 1000))
        return (
            f"{rate:7.0f} msg/s  {running}/{seen} machines running  sim clock {clock} UTC  "
            f"{self.pipeline.stats.samples_written:,} samples"
        )


def _advance(progress: Progress, task: TaskID, factory: sim.Factory) -> None:
    if factory.now_ms % 60_000 == 0:
        progress.advance(task, 60)
