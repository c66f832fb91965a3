"""The aggregation flow: when a mapping closes, compute and store its published results.

``close_survey`` (or ``close_due_surveys``) closes a mapping in the caller's
transaction; after the commit the caller calls ``start_aggregation(ids)``, which
runs ``aggregate_surveys_flow`` as ``settings.flow_mode`` says (``direct``: inline,
``embedded``: a Prefect flow run here, ``deployment``: a run of the
``survey-aggregate/chefoskop`` deployment). One transaction per survey; running it
twice only recomputes the same numbers.
"""

from __future__ import annotations

from flows.dispatch import DEPLOYMENT_NAME, configure_prefect_environment

configure_prefect_environment()  # before Prefect reads its settings on import

import contextvars  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from chefoskop import clock  # noqa: E402
from chefoskop.db import unit_of_work  # noqa: E402
from chefoskop.settings import get_settings  # noqa: E402
from models import Survey  # noqa: E402
from surveys.results import compute_results, log_access  # noqa: E402

log = logging.getLogger(__name__)
FLOW_NAME = "survey-aggregate"
FLOW_ACTOR = f"flow:{FLOW_NAME}"


def aggregate_survey(survey_id: int) -> dict:
    """Compute and store one closed survey's published results in its own transaction."""
    with unit_of_work() as session:
        survey = session.get(Survey, survey_id)
        if survey is None or survey.status != "closed":
            return {"survey_id": survey_id, "aggregated": False}
        results = compute_results(session, survey_id)
        survey.results, survey.aggregated_at = results, clock.now()
        log_access(session, survey, viewer_id=None, actor_label=FLOW_ACTOR, purpose="flow",
                   locale="sv")
        overall = results["participation"]["overall"]
        return {"survey_id": survey_id, "aggregated": True, "n": overall["n"] if overall else None}


aggregate_task = task(aggregate_survey, name="aggregate-survey", retries=2, retry_delay_seconds=5,
                      cache_policy=NO_CACHE)


@flow(name=FLOW_NAME)
def aggregate_surveys_flow(survey_ids: list[int]) -> list[dict]:
    """Aggregate the given closed surveys (one task and one transaction each)."""
    return [aggregate_task(survey_id) for survey_id in survey_ids]


def start_aggregation(survey_ids: Sequence[int], *, wait: bool = False) -> None:
    """Aggregate surveys that were just closed; call only after the close is committed."""
    ids = sorted(set(survey_ids))
    if not ids:
        return
    mode = get_settings().flow_mode
    if mode == "direct":
        for survey_id in ids:
            aggregate_survey(survey_id)
    elif mode == "deployment":
        from prefect.deployments import run_deployment

        run_deployment(name=f"{FLOW_NAME}/{DEPLOYMENT_NAME}", parameters={"survey_ids": ids},
                       timeout=600 if wait else 0, as_subflow=False, _sync=True)
    elif wait:
        aggregate_surveys_flow(survey_ids=ids)
    else:
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(_run_logged, ids), daemon=True,
                         name="chefoskop-survey-aggregate").start()


def _run_logged(ids: list[int]) -> None:
    try:
        aggregate_surveys_flow(survey_ids=ids)
    except Exception:  # a background thread has no caller; reading results recomputes anyway
        log.exception("aggregating surveys %s failed", ids)
