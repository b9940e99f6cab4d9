"""AG2's 0.2-line API (the `autogen` module, 0.14.1): `user.initiate_chat(assistant, max_turns=1)`, the assistant
answering "w" through `autogen.testing`'s fake client (what `TestAgent` installs), the user executing nothing.
The 0.2 line is the one OpenInference instruments; its chat is synchronous and has no token stream of its own
(`run().events` is a thread's queue, not wrapped by us), so there is no stream shape.

builtin: AG2's opt-in `autogen.opentelemetry.instrument_agent` (instance patches: `conversation`, per-reply
`invoke_agent` and `execute_tool` spans), applied to a fresh pair of agents while on; off puts the plain pair back.
openinference: `AG2Instrumentor` (openinference-instrumentation-ag2: chat, reply and tool spans).
"""

from __future__ import annotations

import itertools

from autogen import ConversableAgent
from autogen.testing.test_agent import FakeClient

from benchmarks.subjects import Anchor, Env, Subject, openinference_anchor


def make_pair() -> tuple[ConversableAgent, ConversableAgent]:
    assistant = ConversableAgent("bench", llm_config=False, human_input_mode="NEVER")
    assistant.client = FakeClient(itertools.repeat("w"))
    user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER")
    return user, assistant


PLAIN = make_pair()
PAIR: list[tuple[ConversableAgent, ConversableAgent]] = [PLAIN]


def run() -> str:
    user, assistant = PAIR[0]
    return str(user.initiate_chat(assistant, message="hi", max_turns=1, silent=True).summary)


def builtin_on(env: Env) -> None:
    from autogen.opentelemetry import instrument_agent

    user, assistant = make_pair()
    for agent in (user, assistant):
        instrument_agent(agent, tracer_provider=env.provider)
    PAIR[0] = (user, assistant)


def builtin_off() -> None:
    PAIR[0] = PLAIN


SUBJECT = Subject(
    framework="ag2",
    asynchronous=False,
    run=run,
    stream=None,
    builtin=Anchor("autogen.opentelemetry.instrument_agent (per agent)", builtin_on, builtin_off),
    openinference=openinference_anchor("AG2Instrumentor", "openinference.instrumentation.ag2", "AG2Instrumentor"),
    note="0.2-line chat (autogen module); no stream shape",
)
