"""Fault injection: broken telemetry (span processors, exporters, meters, readers) and odd framework
objects never change what the application sees, and each of our failures is logged once, not per chunk."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import wrapt
from agent_framework import Agent, AgentMiddlewareLayer, AgentSession, RawAgent
from opentelemetry.metrics import NoOpHistogram, NoOpMeter, NoOpMeterProvider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from smolagents import ToolCallingAgent
from smolagents.memory import ActionStep

from otel_agent_instrumentation import AgentInstrumentor, _guard, _patching, semconv
from otel_agent_instrumentation.adapters._base import RunTarget, Target
from otel_agent_instrumentation.config import Config
from otel_agent_instrumentation.invocation import Outcome, RequestFacts, ResultFacts
from tests import fault_app
from tests.conftest import Instrumentation, Telemetry
from tests.frameworks import DRIVERS
from tests.frameworks import agent_framework_driver as af
from tests.frameworks import smolagents_driver as smol
from tests.scenarios import Driver, Ending

OURS = "otel_agent_instrumentation"


@pytest.fixture(autouse=True)
def fresh_log_sites(monkeypatch: pytest.MonkeyPatch) -> None:
    # report_failure logs WARNING once per site per process; each spec starts with no site seen.
    monkeypatch.setattr(_guard, "_failed_sites", set())


def our_records(caplog: pytest.LogCaptureFixture, level: int = logging.DEBUG) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == OURS and r.levelno >= level]


def outcomes(telemetry: Telemetry) -> list[object]:
    return [span.attributes.get(semconv.OUTCOME) for span in telemetry.agent_spans() if span.attributes]


# -- broken telemetry pipeline ----------------------------------------------------------------------


class RaisingProcessor(SpanProcessor):
    def __init__(self, hook: str) -> None:
        self.hook = hook

    def on_start(self, span: Span, parent_context: object = None) -> None:
        if self.hook == "on_start":
            raise RuntimeError("processor broke on start")

    def on_end(self, span: ReadableSpan) -> None:
        if self.hook == "on_end":
            raise RuntimeError("processor broke on end")


class RaisingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise ConnectionError("collector unreachable")


class RaisingHistogram(NoOpHistogram):
    def record(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        raise RuntimeError("meter broke")


class RaisingMeter(NoOpMeter):
    def create_histogram(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return RaisingHistogram(name)


class RaisingMeterProvider(NoOpMeterProvider):
    def get_meter(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return RaisingMeter(name)


class UncreatableInstrumentsMeter(NoOpMeter):
    def create_histogram(self, name: str, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no histograms here")


class UncreatableInstrumentsMeterProvider(NoOpMeterProvider):
    def get_meter(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return UncreatableInstrumentsMeter(name)


def on_with_raising_meter(instrumentation: Instrumentation, **kwargs: Any) -> None:
    instrumentation.telemetry.meter_provider = RaisingMeterProvider()  # type: ignore[assignment]  # the fault
    instrumentation.on(**kwargs)


async def af_runs() -> list[object]:
    """Two runs and two full streams of an offline Agent Framework agent: what the app observes."""
    seen: list[object] = []
    for _ in range(2):
        hooks: list[str] = []
        seen.append((await af.make_agent(af.Script(), hooks).run("hello")).text)
        stream = af.make_agent(af.Script(), hooks).run("hello", stream=True)
        seen.append([update.text async for update in stream])
        seen.append((await stream.get_final_response()).text)
        seen.append(hooks)
    return seen


@pytest.mark.parametrize("hook", ["on_start", "on_end"])
async def test_raising_span_processor_leaves_agent_framework_runs_unchanged(
    hook: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    bare = await af_runs()
    telemetry.tracer_provider.add_span_processor(RaisingProcessor(hook))
    instrumentation.on()
    assert await af_runs() == bare


@pytest.mark.parametrize("hook", ["on_start", "on_end"])
async def test_raising_span_processor_is_logged_once_across_runs_and_layers(
    hook: str, instrumentation: Instrumentation, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    # on_start surfaces inside tracer.start_span at each of Agent.run's wrapped layers: one failure.
    telemetry.tracer_provider.add_span_processor(RaisingProcessor(hook))
    instrumentation.on()
    caplog.clear()
    await af_runs()
    assert len(our_records(caplog, logging.WARNING)) == 1


@pytest.mark.parametrize("hook", ["on_start", "on_end"])
async def test_raising_span_processor_over_a_long_stream_logs_one_record(
    hook: str, instrumentation: Instrumentation, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    telemetry.tracer_provider.add_span_processor(RaisingProcessor(hook))
    instrumentation.on(targets=fault_app.TARGETS)
    caplog.clear()
    updates = [u async for u in fault_app.Streamer().astream(fault_app.LONG_STREAM)]
    assert (len(updates), len(our_records(caplog))) == (fault_app.LONG_STREAM, 1)


async def test_raising_exporter_leaves_runs_unchanged_and_logs_nothing_from_us(
    instrumentation: Instrumentation, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    bare = await af_runs()
    telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(RaisingExporter()))
    instrumentation.on()
    caplog.clear()
    assert (await af_runs(), our_records(caplog)) == (bare, [])


async def test_raising_meter_leaves_agent_framework_runs_unchanged(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    bare = await af_runs()
    on_with_raising_meter(instrumentation)
    assert await af_runs() == bare


async def test_meter_that_cannot_create_instruments_still_instruments_and_traces(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    telemetry.meter_provider = UncreatableInstrumentsMeterProvider()  # type: ignore[assignment]  # the fault
    instrumentation.on()
    await af_runs()
    assert outcomes(telemetry) == ["completed"] * 4


async def test_raising_meter_is_logged_once_across_runs(
    instrumentation: Instrumentation, caplog: pytest.LogCaptureFixture
) -> None:
    on_with_raising_meter(instrumentation)
    caplog.clear()
    await af_runs()
    assert len(our_records(caplog, logging.WARNING)) == 1


async def test_raising_meter_still_ends_every_span_with_its_outcome(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    on_with_raising_meter(instrumentation)
    await af_runs()
    assert outcomes(telemetry) == ["completed"] * 4


async def test_raising_meter_over_a_long_stream_logs_one_record(
    instrumentation: Instrumentation, caplog: pytest.LogCaptureFixture
) -> None:
    on_with_raising_meter(instrumentation, targets=fault_app.TARGETS)
    caplog.clear()
    updates = [u async for u in fault_app.Streamer().astream(fault_app.LONG_STREAM)]
    assert (len(updates), len(our_records(caplog))) == (fault_app.LONG_STREAM, 1)


# -- broken readers -------------------------------------------------------------------------------


class ReaderAdapter:
    """Traces fault_app.Streamer with a given result reader."""

    name = "fault-reader"
    distribution: str | None = None
    supported = ""

    def __init__(self, read_result: Callable[[Any, Outcome], ResultFacts | None]) -> None:
        self.read_result = read_result

    def targets(self, config: Config) -> Sequence[Target]:
        def read_request(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], c: Config) -> RequestFacts:
            return RequestFacts(agent_name="streamer")

        return [
            RunTarget("tests.fault_app", f"Streamer.{method}", read_request, self.read_result)
            for method in ("astream", "stream")
        ]


class RaisingPredicateAdapter:
    """Traces fault_app.Streamer.fail with a `should_trace` that raises."""

    name = "fault-predicate"
    distribution: str | None = None
    supported = ""

    def targets(self, config: Config) -> Sequence[Target]:
        def read_request(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], c: Config) -> RequestFacts:
            return RequestFacts(agent_name="streamer")

        def should_trace(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
            raise KeyError("predicate")

        return [RunTarget("tests.fault_app", "Streamer.fail", read_request, should_trace=should_trace)]


def _failure_of(call: Callable[[], Any]) -> BaseException:
    with pytest.raises(fault_app.AppFailure) as raised:
        call()
    return raised.value


def test_a_raising_predicate_leaves_the_apps_error_as_bare_without_ours_as_its_context(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    bare = _failure_of(fault_app.Streamer().fail)
    instrumentation.on(adapters=[RaisingPredicateAdapter()])
    instrumented = _failure_of(fault_app.Streamer().fail)
    assert (instrumented.__context__, instrumented.__cause__, telemetry.agent_spans()) == (
        bare.__context__,
        bare.__cause__,
        [],
    )


def raising_reader(value: Any, outcome: Outcome) -> ResultFacts | None:
    raise KeyError("usage")


async def test_raising_result_reader_over_a_long_stream_logs_one_record(
    instrumentation: Instrumentation, caplog: pytest.LogCaptureFixture
) -> None:
    instrumentation.on(adapters=[ReaderAdapter(raising_reader)])
    caplog.clear()
    updates = [u async for u in fault_app.Streamer().astream(fault_app.LONG_STREAM)]
    assert (len(updates), len(our_records(caplog))) == (fault_app.LONG_STREAM, 1)


def test_raising_result_reader_still_ends_the_span_completed(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(adapters=[ReaderAdapter(raising_reader)])
    assert list(fault_app.Streamer().stream(fault_app.LONG_STREAM))[-1] == f"u{fault_app.LONG_STREAM - 1}"
    assert outcomes(telemetry) == ["completed"]


def odd_usage_reader(value: Any, outcome: Outcome) -> ResultFacts | None:
    # What an adapter copying a framework's usage fields unchecked would hand over.
    return ResultFacts(input_tokens="3", output_tokens=None)  # type: ignore[arg-type]  # the fault


def test_str_token_count_from_a_reader_still_records_the_duration(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(adapters=[ReaderAdapter(odd_usage_reader)])
    list(fault_app.Streamer().stream())
    assert len(telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)) == 1


def test_str_token_count_from_a_reader_is_not_put_on_the_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(adapters=[ReaderAdapter(odd_usage_reader)])
    list(fault_app.Streamer().stream())
    (span,) = telemetry.agent_spans()
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in (span.attributes or {})


def bool_usage_reader(value: Any, outcome: Outcome) -> ResultFacts | None:
    # A flag copied into a count (bool is an int to isinstance), beside a real count.
    return ResultFacts(input_tokens=True, output_tokens=7)


def test_bool_token_count_from_a_reader_is_not_a_count_on_the_span_or_the_metric(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(adapters=[ReaderAdapter(bool_usage_reader)])
    list(fault_app.Streamer().stream())
    (span,) = telemetry.agent_spans()
    recorded = {
        point.attributes[semconv.GEN_AI_TOKEN_TYPE]: point.sum
        for point in telemetry.metric_points(semconv.METRIC_CLIENT_TOKEN_USAGE)
    }
    usage = {key: value for key, value in (span.attributes or {}).items() if key.startswith("gen_ai.usage.")}
    assert (usage, recorded) == ({semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 7}, {semconv.TOKEN_TYPE_OUTPUT: 7})


# -- odd objects: generic targets ------------------------------------------------------------------


GENERIC_AGENTS = [fault_app.NoneNamed, fault_app.IntNamed, fault_app.RaisingName]


async def generic_observed(agent: fault_app.Streamer) -> list[object]:
    return [agent.run(), [u async for u in agent.astream()], list(agent.stream())]


@pytest.mark.parametrize("agent_class", GENERIC_AGENTS, ids=lambda c: c.__name__)
async def test_odd_agent_name_leaves_generic_results_unchanged(
    agent_class: type[fault_app.Streamer], instrumentation: Instrumentation
) -> None:
    bare = await generic_observed(agent_class())
    instrumentation.on(targets=fault_app.TARGETS)
    assert await generic_observed(agent_class()) == bare


@pytest.mark.parametrize("agent_class", GENERIC_AGENTS, ids=lambda c: c.__name__)
async def test_odd_agent_name_still_gives_one_completed_span_per_run(
    agent_class: type[fault_app.Streamer], instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=fault_app.TARGETS)
    await generic_observed(agent_class())
    assert outcomes(telemetry) == ["completed"] * 3


async def test_raising_name_property_names_the_span_after_the_class(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=fault_app.TARGETS)
    await generic_observed(fault_app.RaisingName())
    assert [span.name for span in telemetry.agent_spans()] == ["invoke_agent RaisingName"] * 3


# -- odd objects: Microsoft Agent Framework --------------------------------------------------------


class RaisingNameAgent(Agent):
    """An Agent subclass whose name property raises: the framework itself reads it too."""

    @property
    def name(self) -> str:
        raise RuntimeError("name is not available")

    @name.setter
    def name(self, value: object) -> None:
        pass


def af_agent(**kwargs: Any) -> Callable[[], Agent]:
    def make() -> Agent:
        return Agent(af.ScriptedChatClient(af.Script()), default_options={"model": "fake-1"}, **kwargs)

    return make


AF_ODD: dict[str, tuple[Callable[[], Agent], dict[str, Any]]] = {
    "name-none": (af_agent(name=None), {}),
    "name-int-description-int": (af_agent(name=123, description=456), {}),
    "name-property-raises": (lambda: RaisingNameAgent(af.ScriptedChatClient(af.Script())), {}),
    "session-id-int": (af_agent(name="x"), {"session": AgentSession(service_session_id=42)}),  # type: ignore[arg-type]
    "session-id-object": (af_agent(name="x"), {"session": AgentSession(service_session_id=object())}),  # type: ignore[arg-type]
    "conversation-id-option-int": (af_agent(name="x"), {"options": {"conversation_id": 7}}),
}


async def af_observed(make: Callable[[], Agent], kwargs: dict[str, Any]) -> list[object]:
    """What the app sees from one run and one stream: the text, or the exception's class and message."""
    seen: list[object] = []
    try:
        seen.append((await make().run("hello", **kwargs)).text)
    except Exception as error:
        seen.append((type(error), str(error)))
    try:
        seen.append([u.text async for u in make().run("hello", stream=True, **kwargs)])
    except Exception as error:
        seen.append((type(error), str(error)))
    return seen


@pytest.mark.parametrize("case", list(AF_ODD))
async def test_odd_agent_framework_objects_leave_results_unchanged(case: str, instrumentation: Instrumentation) -> None:
    make, kwargs = AF_ODD[case]
    bare = await af_observed(make, kwargs)
    instrumentation.on()
    assert await af_observed(make, kwargs) == bare


@pytest.mark.parametrize("case", list(AF_ODD))
async def test_odd_agent_framework_objects_still_give_one_span_per_run(
    case: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    make, kwargs = AF_ODD[case]
    instrumentation.on()
    await af_observed(make, kwargs)
    assert len(telemetry.agent_spans()) == 2


async def test_non_string_conversation_id_is_left_off_the_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await af_observed(*AF_ODD["conversation-id-option-int"])
    assert [semconv.GEN_AI_CONVERSATION_ID in (s.attributes or {}) for s in telemetry.agent_spans()] == [False] * 2


HUGE = "x" * 5_000_000


async def test_huge_message_with_span_and_event_capture_leaves_the_result_unchanged(
    instrumentation: Instrumentation,
) -> None:
    bare = (await af.make_agent(af.Script(), []).run(HUGE)).text
    instrumentation.on(capture_content="SPAN_AND_EVENT", logger_provider=LoggerProvider())
    assert (await af.make_agent(af.Script(), []).run(HUGE)).text == bare


async def test_huge_message_is_captured_whole_on_span_and_event(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    events = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(events))
    instrumentation.on(capture_content="SPAN_AND_EVENT", logger_provider=logger_provider)
    await af.make_agent(af.Script(), []).run(HUGE)
    (span,) = telemetry.agent_spans()
    (event,) = events.get_finished_logs()
    captured = [
        str((span.attributes or {})[semconv.GEN_AI_INPUT_MESSAGES]),
        str((event.log_record.attributes or {})[semconv.GEN_AI_INPUT_MESSAGES]),
    ]
    assert [HUGE in text for text in captured] == [True, True]


# -- odd objects: smolagents -----------------------------------------------------------------------


class RaisingDescriptionAgent(ToolCallingAgent):  # type: ignore[misc]  # smolagents is untyped
    @property
    def description(self) -> str:
        raise RuntimeError("description is not available")

    @description.setter
    def description(self, value: object) -> None:
        pass


class OddUsage:
    """A usage object as a buggy model client might leave it."""

    input_tokens = None
    output_tokens = "7"


def smol_with_odd_usage() -> Any:
    def spoil_usage(step: ActionStep, agent: Any = None) -> None:
        step.token_usage = OddUsage()

    agent = smol.make_agent()
    agent.step_callbacks.register(ActionStep, spoil_usage)
    return agent


SMOL_ODD: dict[str, Callable[[], Any]] = {
    "name-none": lambda: smol.make_agent(name=None),  # type: ignore[arg-type]
    "description-property-raises": lambda: RaisingDescriptionAgent(
        tools=[smol.Echo()], model=smol.ScriptedModel((smol.ECHO, smol.final())), logger=smol.quiet_logger()
    ),
    "usage-none-and-str": smol_with_odd_usage,
}


def smol_observed(make: Callable[[], Any]) -> list[object]:
    return [make().run("go"), [smol.describe(step) for step in make().run("go", stream=True)]]


@pytest.mark.parametrize("case", list(SMOL_ODD))
def test_odd_smolagents_objects_leave_results_unchanged(case: str, instrumentation: Instrumentation) -> None:
    bare = smol_observed(SMOL_ODD[case])
    instrumentation.on()
    assert smol_observed(SMOL_ODD[case]) == bare


@pytest.mark.parametrize("case", list(SMOL_ODD))
def test_odd_smolagents_objects_still_give_one_completed_span_per_run(
    case: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    smol_observed(SMOL_ODD[case])
    assert outcomes(telemetry) == ["completed"] * 2


# -- uninstrument while streams are open -----------------------------------------------------------


async def test_uninstrument_mid_async_generator_finishes_cleanly(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=fault_app.TARGETS)
    stream = fault_app.Streamer().astream(5)
    updates = [await stream.__anext__()]
    instrumentation.off()
    updates += [u async for u in stream]
    assert (updates, outcomes(telemetry)) == ([f"u{i}" for i in range(5)], ["completed"])


def test_uninstrument_mid_sync_generator_finishes_cleanly(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=fault_app.TARGETS)
    stream = fault_app.Streamer().stream(5)
    updates = [next(stream)]
    instrumentation.off()
    updates += list(stream)
    assert (updates, outcomes(telemetry)) == ([f"u{i}" for i in range(5)], ["completed"])


def test_uninstrument_mid_sync_generator_then_close_ends_closed_early(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=fault_app.TARGETS)
    stream = fault_app.Streamer().stream(5)
    next(stream)
    instrumentation.off()
    stream.close()
    assert outcomes(telemetry) == ["closed_early"]


async def af_stream_across_uninstrument(instrumentation: Instrumentation | None) -> list[object]:
    hooks: list[str] = []
    stream = af.make_agent(af.Script(), hooks).run("hello", stream=True)
    updates = [(await stream.__anext__()).text]
    if instrumentation is not None:
        instrumentation.off()
    updates += [u.text async for u in stream]
    return [updates, (await stream.get_final_response()).text, hooks]


async def test_uninstrument_mid_agent_framework_stream_leaves_it_unchanged(
    instrumentation: Instrumentation,
) -> None:
    bare = await af_stream_across_uninstrument(None)
    instrumentation.on()
    assert await af_stream_across_uninstrument(instrumentation) == bare


async def test_uninstrument_mid_agent_framework_stream_ends_its_span_once_completed(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await af_stream_across_uninstrument(instrumentation)
    assert outcomes(telemetry) == ["completed"]


# -- instrument/uninstrument from many threads -----------------------------------------------------


def _wrapper_depth(value: object) -> tuple[int, object]:
    depth = 0
    # Our patch is a wrapt FunctionWrapper (a run target's method: behind the proxy that decides where it is
    # bound, together one patch) or, for a plain function, a plain function of ours (_patching).
    while isinstance(value, wrapt.FunctionWrapper) or getattr(value, "__otel_agent_patch__", False):
        depth += 1
        if isinstance(value, _patching._DecidedAtBinding):
            value = value.__wrapped__
        value = getattr(value, "__wrapped__")  # noqa: B009  # object has no declared __wrapped__
    return depth, value


@pytest.fixture
def patched_originals() -> Iterator[dict[tuple[type, str], object]]:
    owners = [(Agent, "run"), (AgentMiddlewareLayer, "run"), (RawAgent, "run"), (fault_app.Streamer, "astream")]
    yield {(owner, name): vars(owner)[name] for owner, name in owners}
    # Threads may leave it on; the Instrumentation fixture checks only what its own on() applied.
    if AgentInstrumentor().is_instrumented_by_opentelemetry:
        AgentInstrumentor().uninstrument()


def _toggle_from_threads(instrumentation: Instrumentation, rounds: int, threads: int = 8) -> None:
    instrumentor = instrumentation.instrumentor
    provider = instrumentation.telemetry.tracer_provider
    barrier = threading.Barrier(threads)

    def toggle(index: int) -> None:
        barrier.wait()
        for step in range(rounds):
            if (index + step) % 2:
                instrumentor.instrument(tracer_provider=provider, targets=fault_app.TARGETS)
            else:
                instrumentor.uninstrument()

    workers = [threading.Thread(target=toggle, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_concurrent_instrument_and_uninstrument_never_double_wrap(
    instrumentation: Instrumentation, patched_originals: dict[tuple[type, str], object]
) -> None:
    depths: set[tuple[int, bool]] = set()
    for _ in range(4):
        _toggle_from_threads(instrumentation, rounds=4)
        for (owner, name), original in patched_originals.items():
            depth, inner = _wrapper_depth(vars(owner)[name])
            depths.add((depth, inner is original))
    assert depths <= {(0, True), (1, True)}


def test_concurrent_instrument_and_uninstrument_then_uninstrument_restores_originals(
    instrumentation: Instrumentation, patched_originals: dict[tuple[type, str], object]
) -> None:
    _toggle_from_threads(instrumentation, rounds=6)
    instrumentation.instrumentor.uninstrument()
    assert all(vars(owner)[name] is original for (owner, name), original in patched_originals.items())


def test_no_failed_detach_is_logged_by_concurrent_runs_during_uninstrument(
    instrumentation: Instrumentation, caplog: pytest.LogCaptureFixture
) -> None:
    # Streams opened on one thread and finished on others while the instrumentor is toggled.
    instrumentation.on(targets=fault_app.TARGETS)
    streams = [fault_app.Streamer().stream(50) for _ in range(8)]
    for stream in streams:
        next(stream)
    finished: list[int] = []

    def consume(stream: Iterator[str]) -> None:
        finished.append(len(list(stream)))

    workers = [threading.Thread(target=consume, args=(s,)) for s in streams]
    for worker in workers:
        worker.start()
    instrumentation.instrumentor.uninstrument()
    for worker in workers:
        worker.join()
    assert (finished, [r for r in caplog.records if "Failed to detach" in r.getMessage()]) == ([49] * 8, [])


# -- every framework, with a broken telemetry pipeline -----------------------------------------------

FAULTED_ENDINGS = (Ending.COMPLETES, Ending.RAISES_MID_STREAM, Ending.BREAK_AND_CLOSE)


def break_on_start(instrumentation: Instrumentation) -> None:
    instrumentation.telemetry.tracer_provider.add_span_processor(RaisingProcessor("on_start"))
    instrumentation.on()


def break_on_end(instrumentation: Instrumentation) -> None:
    instrumentation.telemetry.tracer_provider.add_span_processor(RaisingProcessor("on_end"))
    instrumentation.on()


FAULTS: dict[str, Callable[[Instrumentation], None]] = {
    "processor-raises-on-start": break_on_start,
    "processor-raises-on-end": break_on_end,
    "meter-raises": on_with_raising_meter,
}

FAULTED_CASES = [
    pytest.param(fault, driver, mode, ending, id=f"{fault}-{driver.framework}-{mode}-{ending.value}")
    for fault in FAULTS
    for driver in DRIVERS
    for mode, ending in driver.cases()
    if ending in FAULTED_ENDINGS
]


@pytest.mark.parametrize(("fault", "driver", "mode", "ending"), FAULTED_CASES)
async def test_broken_telemetry_leaves_every_framework_run_unchanged(
    fault: str, driver: Driver, mode: str, ending: Ending, instrumentation: Instrumentation
) -> None:
    bare = await driver.perform_bare(mode, ending)
    FAULTS[fault](instrumentation)
    assert await driver.perform(mode, ending) == bare


@pytest.mark.parametrize("fault", FAULTS)
async def test_broken_telemetry_is_logged_once_across_every_framework(
    fault: str, instrumentation: Instrumentation, caplog: pytest.LogCaptureFixture
) -> None:
    FAULTS[fault](instrumentation)
    caplog.clear()
    for driver in DRIVERS:
        for mode, ending in driver.cases():
            if ending is Ending.COMPLETES:
                await driver.perform(mode, ending)
    assert len(our_records(caplog, logging.WARNING)) == 1
