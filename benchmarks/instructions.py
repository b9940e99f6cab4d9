"""Instructions per call, counted by valgrind's callgrind: overhead.py's modes, without the machine's noise.

    python benchmarks/instructions.py [--frameworks agent_framework,agno] [--calls 300]

Needs valgrind on PATH, and the `test` extra. A script, not a test; each framework takes a few minutes.

Why: overhead.py times calls on the machine it runs on. On a shared 2-core machine two runs of the same
code differ by ±30% per cell, and a framework whose bare run takes 170 us moves by more than our whole
cost between batches. The number of instructions a call executes does not depend on the load: run under
callgrind (a CPU simulator) the same call counts the same instructions, give or take a few hundred from
allocation and dictionary state. Instructions are not time (a cache miss costs more than an add), so this
script complements overhead.py's times and does not replace them; the targets are stated in time.

How: one process per framework runs under callgrind, which writes a count each time the process calls
`os.getppid()` (`--dump-before=os_getppid`, a C function nothing else here calls). The process sets up
overhead.py's environment and modes (the same SDK providers, the same warm-up and checks, the same SDK
floor built from what our run recorded), then for each mode and shape marks, makes its calls with the
garbage collector off, and marks again: the count between two marks is those calls and nothing else
(imports, set-up and warm-up fall outside). The modes take turns (--rounds, each round a share of --calls), so
that the framework's own drift over the process's life (its caches, the allocator's state: 0.15-0.4 raw span
between modes counted one after the other, for the frameworks whose runs are millions of instructions) falls
on every mode alike. A raw SDK span (`tracer.start_span("raw").end()` on the same
provider) is counted the same way and is the unit of the "raw spans" columns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# "builtin": the framework's own telemetry where the subject has one (overhead.py's anchor), exporting to the same
# SDK providers: the fourth target compares ours with it.
MODES = ("bare", "ours", "sdk_floor", "sdk_floor_current", "ours_code", "builtin", "suppressed")


class SegmentMarks:
    """The child's side of `counted_segments`: `mark(label)` ends the segment before it and starts one that
    `label` names (None: not measured); the child prints `labels` last."""

    def __init__(self) -> None:
        self.labels: list[str | None] = [None]  # None: the set-up before the first mark

    def mark(self, label: str | None) -> None:
        os.getppid()  # callgrind dumps its count here (--dump-before=os_getppid)
        self.labels.append(label)


async def child(framework: str, calls_per_mode: int, rounds: int = 1) -> None:
    """Runs under callgrind: makes the marked calls and prints the labels of the segments, in order. The modes take
    turns, `rounds` times, each making its share of the calls in each round: a drift of the framework's own cost
    over the process's life (its caches, the allocator's state) falls on every mode alike instead of on the
    modes counted last."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    from benchmarks.overhead import (
        LONG_CHUNKS,
        SHORT_CHUNKS,
        BenchEnv,
        build_modes,
        call_once,
        check_modes,
        prepared_calls,
    )
    from benchmarks.subjects import load
    from otel_agent_instrumentation import AgentInstrumentor

    env = BenchEnv()
    instrumentor = AgentInstrumentor()
    subject = load(framework)
    bench = prepared_calls(subject)
    calls = bench.calls
    modes = [mode for mode in build_modes(subject, env, instrumentor) if mode.name in MODES]
    await check_modes(bench, modes, env, warmup=5)
    # What the set-up left (the frameworks, their patches, the modes) is never garbage: frozen, it is not walked
    # by the collections between segments, which then take milliseconds instead of about 0.3 s each. Collection
    # is off inside every measured segment either way.
    gc.collect()
    gc.freeze()
    marks = SegmentMarks()
    mark = marks.mark

    tracer = env.provider.get_tracer("bench")
    for _ in range(20):
        tracer.start_span("raw").end()
    gc.collect()
    gc.disable()
    mark(f"raw_span:{calls_per_mode}")
    for _ in range(calls_per_mode):
        tracer.start_span("raw").end()
    mark(None)
    gc.enable()
    for mode in modes:
        if mode.problems and mode.name != "bare":
            print(f"# {framework} {mode.name}: {'; '.join(mode.problems)}", file=sys.stderr)
    for _ in range(rounds):
        for mode in modes:
            mode.on()
            try:
                for shape, call in (mode.calls or calls).items():
                    count = max(1, (max(2, calls_per_mode // 100) if shape == "long" else calls_per_mode) // rounds)
                    for _ in range(2):
                        await call_once(call)
                    gc.collect()
                    for _ in range(5):
                        await asyncio.sleep(0)
                    gc.disable()
                    with suppress_instrumentation() if mode.suppressed else contextlib.nullcontext():
                        mark(f"{mode.name}:{shape}:{count}")
                        for _ in range(count):
                            await call_once(call)
                        mark(None)
                    gc.enable()
            finally:
                mode.off()
    print(json.dumps({"labels": marks.labels, "updates": {"stream": SHORT_CHUNKS, "long": LONG_CHUNKS}}))


def _totals(directory: Path) -> list[int]:
    """The instruction count of each segment, in order (callgrind.out.1, .2, ..., then the last one)."""
    files = [*sorted(directory.glob("out.*"), key=lambda path: int(path.suffix[1:])), directory / "out"]
    totals = []
    for path in files:
        for line in path.read_text().splitlines():
            if line.startswith("totals:"):
                totals.append(int(line.split()[1]))
                break
    return totals


def counted_segments(script: str, arguments: list[str]) -> list[tuple[str, int]]:
    """Run `script --child *arguments` under callgrind; (label, instructions) of each measured segment, in order.

    The child marks segments with `os.getppid()` and prints `{"labels": [...]}` last, one label per segment
    (None for one not measured); its stderr lines starting "# " are passed on."""
    with tempfile.TemporaryDirectory() as directory:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--dump-before=os_getppid",
            f"--callgrind-out-file={directory}/out",
            sys.executable,
            script,
            "--child",
            *arguments,
        ]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        if done.returncode != 0:
            raise RuntimeError(f"{arguments[0]}: the child failed:\n{done.stderr[-2000:]}")
        sys.stderr.write("".join(line + "\n" for line in done.stderr.splitlines() if line.startswith("# ")))
        labels = json.loads(done.stdout.strip().splitlines()[-1])["labels"]
        totals = _totals(Path(directory))
    if len(totals) != len(labels):
        raise RuntimeError(f"{arguments[0]}: {len(totals)} counts for {len(labels)} segments")
    return [(label, total) for label, total in zip(labels, totals, strict=True) if label is not None]


def per_call(segments: list[tuple[str, int]]) -> dict[str, float]:
    """Segments labelled "name:calls" -> name -> instructions per call (the segments of one name, one per round,
    summed)."""
    totals: dict[str, list[int]] = {}
    for label, total in segments:
        name, calls = label.rsplit(":", 1)
        sums = totals.setdefault(name, [0, 0])
        sums[0] += total
        sums[1] += int(calls)
    return {name: total / calls for name, (total, calls) in totals.items()}


def count(framework: str, calls_per_mode: int, rounds: int = 4) -> dict[str, float]:
    """mode:shape -> instructions per call."""
    return per_call(counted_segments(__file__, [framework, "--calls", str(calls_per_mode), "--rounds", str(rounds)]))


def report(framework: str, per_call: dict[str, float]) -> None:
    raw = per_call["raw_span"]
    print(f"\n{framework}  (a raw SDK span: {raw / 1000:.1f}k instructions)")
    print(
        "| shape | bare | ours | SDK floor | ours above floor | floor, span current: above floor / ours above it "
        "| our code alone | suppressed over bare | own telemetry over bare (ours over bare / its) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for shape in ("run", "stream"):
        if f"bare:{shape}" not in per_call:
            continue
        bare, ours = per_call[f"bare:{shape}"], per_call[f"ours:{shape}"]
        floor, code = per_call[f"sdk_floor:{shape}"], per_call[f"ours_code:{shape}"]
        current = per_call[f"sdk_floor_current:{shape}"]
        suppressed = per_call[f"suppressed:{shape}"]
        own = per_call.get(f"builtin:{shape}")
        own_cell = "none" if own is None else f"{(own - bare) / 1000:+.1f}k ({(ours - bare) / (own - bare):.2f}x)"
        print(
            f"| {shape} | {bare / 1000:.1f}k | {ours / 1000:.1f}k | {floor / 1000:.1f}k "
            f"| {(ours - floor) / 1000:+.1f}k ({(ours - floor) / raw:.2f} raw spans) "
            f"| {(current - floor) / raw:.2f} / {(ours - current) / raw:.2f} "
            f"| {(code - bare) / 1000:+.1f}k ({(code - bare) / raw:.2f}) "
            f"| {(suppressed - bare) / 1000:+.1f}k ({(suppressed - bare) / raw:.3f}) | {own_cell} |"
        )
    if "bare:long" in per_call:
        bare, ours = per_call["bare:long"] / 1000, per_call["ours:long"] / 1000
        print(f"per update of a 1000-update stream: bare {bare:.0f}, ours {ours:.0f} instructions ({ours / bare:.3f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default="agent_framework,autogen_agentchat,agno", help="comma-separated")
    parser.add_argument("--calls", type=int, default=300, help="calls per mode and shape (the long stream: 1/100)")
    parser.add_argument("--rounds", type=int, default=4, help="turns the modes take, each making its share of calls")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.calls, args.rounds))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not on PATH")
    for framework in args.frameworks.split(","):
        report(framework, count(framework, args.calls, args.rounds))


if __name__ == "__main__":
    main()
