"""Aggregating closed mappings: compute and store each one's published results.

``close_survey`` (or ``close_due_surveys``) closes a mapping in the caller's
transaction; after the commit the caller calls ``start_aggregation(ids)``, which
runs the work as ``settings.flow_mode`` says (``direct``: inline, without
importing Prefect; ``embedded``: the Prefect flow in ``surveys.flows`` run here;
``deployment``: a run of the ``survey-aggregate/chefoskop`` deployment). Each
survey's responses are first sealed in a transaction of their own
(``surveys.unlink.seal_responses``: rewritten in random order, so their row order
and transaction ids say nothing about who answered when); then one transaction
per survey stores the results. Running it twice only recomputes the same numbers.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Sequence

from chefoskop import clock
from chefoskop.db import unit_of_work
from chefoskop.settings import get_settings
from models import Survey
from surveys.results import compute_results, log_access
from surveys.unlink import seal_responses

log = logging.getLogger(__name__)
FLOW_NAME = "survey-aggregate"
FLOW_ACTOR = f"flow:{FLOW_NAME}"


def aggregate_survey(survey_id: int) -> dict:
    """Seal a closed survey's responses, then compute and store its published results (one
    transaction each)."""
    with unit_of_work() as session:
        seal_responses(session, survey_id)
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
        from prefect.deployments import run_deployment  # noqa: I001

        from flows.dispatch import DEPLOYMENT_NAME  # configures Prefect before it is imported

        run_deployment(name=f"{FLOW_NAME}/{DEPLOYMENT_NAME}", parameters={"survey_ids": ids},
                       timeout=600 if wait else 0, as_subflow=False, _sync=True)
    elif wait:
        from surveys.flows import aggregate_surveys_flow

        aggregate_surveys_flow(survey_ids=ids)
    else:
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(_run_logged, ids), daemon=True,
                         name="chefoskop-survey-aggregate").start()


def _run_logged(ids: list[int]) -> None:
    from surveys.flows import aggregate_surveys_flow

    try:
        aggregate_surveys_flow(survey_ids=ids)
    except Exception:  # a background thread has no caller; reading results recomputes anyway
        log.exception("aggregating surveys %s failed", ids)
