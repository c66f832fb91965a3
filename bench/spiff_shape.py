"""Baseline B, a peer engine: SpiffWorkflow running the same shape in memory.

Nine stages; in each, three parallel role tasks, then an approval task whose
rejection loops back to the three tasks. After every completed task the
workflow is serialised with Spiff's JSON serializer, as a persisted engine must.
The BPMN is generated here so that the shape is visible in one place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cache

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

STAGES = 9
ROLES = ("processledare", "processagare", "chef")
_NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'


def _flow(source: str, target: str, condition: str | None = None) -> str:
    ident = f"f_{source}_{target}"
    if condition is None:
        return f'<bpmn:sequenceFlow id="{ident}" sourceRef="{source}" targetRef="{target}"/>'
    return (f'<bpmn:sequenceFlow id="{ident}" sourceRef="{source}" targetRef="{target}">'
            f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>")


def _stage(n: int, previous: str, following: str) -> list[str]:
    s = f"s{n}"
    parts = [f'<bpmn:exclusiveGateway id="{s}_again"/>', f'<bpmn:parallelGateway id="{s}_split"/>',
             f'<bpmn:parallelGateway id="{s}_join"/>', f'<bpmn:userTask id="{s}_approval"/>',
             f'<bpmn:exclusiveGateway id="{s}_decide" default="f_{s}_decide_{following}"/>',
             _flow(previous, f"{s}_again"), _flow(f"{s}_again", f"{s}_split"),
             _flow(f"{s}_join", f"{s}_approval"), _flow(f"{s}_approval", f"{s}_decide"),
             _flow(f"{s}_decide", f"{s}_again", "approved == False"), _flow(f"{s}_decide", following)]
    for role in ROLES:
        parts += [f'<bpmn:userTask id="{s}_{role}"/>', _flow(f"{s}_split", f"{s}_{role}"),
                  _flow(f"{s}_{role}", f"{s}_join")]
    return parts


def bpmn_xml() -> str:
    """The nine-stage process as BPMN 2.0 XML."""
    parts = ['<bpmn:startEvent id="start"/>', '<bpmn:endEvent id="end"/>']
    for n in range(1, STAGES + 1):
        previous = "start" if n == 1 else f"s{n - 1}_decide"
        following = "end" if n == STAGES else f"s{n + 1}_again"
        parts += _stage(n, previous, following)
    body = "".join(parts)
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {_NS} id="chefoskopet_defs" '
            f'targetNamespace="http://chefoskop.local/bench"><bpmn:process id="chefoskopet" '
            f'isExecutable="true">{body}</bpmn:process></bpmn:definitions>')


@cache
def process_spec() -> BpmnProcessSpec:
    """The parsed spec (parsed once, like a deployed definition)."""
    parser = BpmnParser()
    parser.add_bpmn_str(bpmn_xml().encode())
    return parser.get_spec("chefoskopet")


@dataclass
class SpiffResult:
    """Seconds per step (complete one task, run the engine, serialise) and sizes."""

    durations: list[float] = field(default_factory=list)
    serialised_bytes: int = 0
    seconds: float = 0.0


def run_one(serializer: BpmnWorkflowSerializer, result: SpiffResult, reject_stage: int = 1) -> None:
    """Walk one workflow to its end, rejecting stage ``reject_stage`` once."""
    workflow = BpmnWorkflow(process_spec())
    workflow.do_engine_steps()
    state = serializer.serialize_json(workflow)
    rejected = False
    while not workflow.is_completed():
        task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        started = time.perf_counter()
        if task.task_spec.name.endswith("_approval"):
            reject = task.task_spec.name == f"s{reject_stage}_approval" and not rejected
            rejected = rejected or reject
            task.data["approved"] = not reject
        else:
            task.data[task.task_spec.name] = "svar"
        task.run()
        workflow.do_engine_steps()
        state = serializer.serialize_json(workflow)
        result.durations.append(time.perf_counter() - started)
    result.serialised_bytes = max(result.serialised_bytes, len(state))


def run(processes: int) -> SpiffResult:
    """Walk ``processes`` workflows, one after another."""
    serializer = BpmnWorkflowSerializer()
    result = SpiffResult()
    started = time.perf_counter()
    for _ in range(processes):
        run_one(serializer, result)
    result.seconds = time.perf_counter() - started
    return result
