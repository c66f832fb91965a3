"""The aggregation flow (Prefect 3): ``aggregate_surveys_flow`` aggregates closed mappings,
one Prefect task per survey (two transactions: sealing the responses, then the results).
The work itself, and ``start_aggregation`` which callers use, live in ``surveys.aggregation``.
"""

from __future__ import annotations

from flows.dispatch import configure_prefect_environment

configure_prefect_environment()  # before Prefect reads its settings on import

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from surveys.aggregation import FLOW_NAME, aggregate_survey  # noqa: E402

aggregate_task = task(aggregate_survey, name="aggregate-survey", retries=2, retry_delay_seconds=5,
                      cache_policy=NO_CACHE)


@flow(name=FLOW_NAME)
def aggregate_surveys_flow(survey_ids: list[int]) -> list[dict]:
    """Aggregate the given closed surveys (one task each)."""
    return [aggregate_task(survey_id) for survey_id in survey_ids]
