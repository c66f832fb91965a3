"""Refusals of the survey package, each with a stable code and a reason in the reader's language.

An ``Issue`` names one problem (where, what); ``InstrumentRejected`` carries every
issue of a bad instrument file; ``SurveyRefused`` is a refused answer, link or
change, and keeps what the respondent entered so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chefoskop.i18n import N_, format_date, gettext

# code -> English msgid (Swedish in locale/sv). Placeholders are %(name)s.
MESSAGES: dict[str, str] = {
    # instrument files
    "yaml_syntax": N_("The file is not valid YAML: %(problem)s."),
    "not_a_mapping": N_("Must be a mapping of fields."),
    "missing": N_("Required field is missing."),
    "extra_forbidden": N_("Unknown field."),
    "string_type": N_("Must be text."),
    "string_too_short": N_("Must not be empty."),
    "string_pattern_mismatch": N_("Use lowercase letters, digits and underscores, starting with a letter."),
    "int_type": N_("Must be a whole number."),
    "number_type": N_("Must be a number."),
    "bool_type": N_("Must be true or false."),
    "list_type": N_("Must be a list."),
    "literal_error": N_("Must be one of: %(expected)s."),
    "too_short": N_("Needs at least %(min_length)s entries."),
    "too_long": N_("Has more than %(max_length)s entries."),
    "greater_than_equal": N_("Must be at least %(ge)s."),
    "greater_than": N_("Must be greater than %(gt)s."),
    "less_than_equal": N_("Must be at most %(le)s."),
    "invalid": N_("Invalid value: %(detail)s."),
    "duplicate_key": N_("The key %(key)s is used more than once."),
    "duplicate_field": N_("The field %(key)s is written twice here; a file may give it only once."),
    "mapping_kind": N_("Mapping %(mapping)s must be of kind %(kind)s."),
    "unknown_scale": N_("No scale is named %(scale)s."),
    "scale_not_increasing": N_("Scale values must increase strictly."),
    "likert_needs_scale": N_("A likert item needs a scale."),
    "likert_needs_polarity": N_("A likert item needs a polarity (positive or negative)."),
    "not_for_kind": N_("This field does not belong to a %(kind)s item."),
    "choice_needs_options": N_("A single-choice item needs at least two options."),
    "min_above_max": N_("The minimum is greater than the maximum."),
    "missing_language": N_("The text has no %(lang)s version."),
    "unknown_audience": N_("%(role)s is not one of the instrument's audiences."),
    "logbook_needs_spec": N_("A logbook instrument needs a logbook section."),
    "survey_has_logbook": N_("Only a logbook instrument may have a logbook section."),
    "survey_needs_sections": N_("A survey needs at least one section."),
    "audience_needs_chef": N_("The first-line managers (chef) must be an audience."),
    # answers
    "required": N_("Please answer this question."),
    "not_on_scale": N_("%(value)s is not a point on this scale."),
    "not_an_option": N_("%(value)s is not one of the options."),
    "not_a_number": N_("Please give a number."),
    "not_whole": N_("Please give a whole number."),
    "below_minimum": N_("The smallest allowed value is %(minimum)s."),
    "above_maximum": N_("The largest allowed value is %(maximum)s."),
    "text_too_long": N_("The text is longer than %(max_length)s characters."),
    "unknown_item": N_("There is no question %(key)s in this survey."),
    "invalid_answers": N_("Some answers need another look; nothing has been saved from this page yet."),
    "negative_hours": N_("Hours cannot be negative."),
    "day_over_limit": N_("A day cannot have more than %(limit)s hours (you entered %(hours)s)."),
    "areas_mismatch": N_("The hours by area add up to %(sum)s, not to the day's %(total)s hours."),
    "forms_mismatch": N_("The hours by form of work add up to %(sum)s, not to the day's %(total)s hours."),
    "unknown_day": N_("Day %(day)s is not part of this logbook."),
    "days_missing": N_("Please fill in all %(days)s days before you submit."),
    # links and survey state
    "link_invalid": N_("This link is not valid. Use the link from your invitation."),
    "survey_closed": N_("The survey closed on %(closed)s; answers can no longer be sent."),
    "survey_not_open": N_("The survey is not open for answers."),
    "already_submitted": N_("You have already sent your answers; you can still view them."),
    "groups_locked": N_("The mapping groups are fixed once answers exist."),
    "group_empty": N_("The group %(group)s has no members."),
    "person_in_two_groups": N_("A person can be in only one mapping group."),
    "unknown_person": N_("Person %(id)s does not belong to this organisation."),
    "invited_not_grouped": N_("Everyone already invited must be in a group (%(count)s are not)."),
    "close_not_later": N_("The new closing date must be later than the current one."),
    "close_in_past": N_("The closing date must be in the future."),
    "threshold_lowered": N_("The anonymity threshold can only be raised (it is %(current)s)."),
    "not_closed": N_("Results are shown only once the mapping has closed."),
}


def reason(code: str, locale: str | None, params: dict[str, Any] | None = None) -> str:
    """The reason for ``code`` in ``locale``, filled with ``params``."""
    msgid = MESSAGES.get(code, MESSAGES["invalid"])
    values = {"detail": code, **(params or {})}
    return gettext(locale, msgid, **{k: _text(v, locale) for k, v in values.items()})


def _text(value: Any, locale: str | None) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, date):
        return format_date(value, locale, "long")
    return str(value)


@dataclass(frozen=True)
class Issue:
    """One problem: where it is (a path such as ``sections[1].items[0].scale``) and what it is."""

    path: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    line: int | None = None

    def reason(self, locale: str | None) -> str:
        """The problem in ``locale``."""
        return reason(self.code, locale, self.params)

    def describe(self, locale: str | None) -> str:
        """``path (line n): reason`` in ``locale``."""
        where = self.path or "/"
        if self.line is not None:
            where += gettext(locale, " (line %(line)s)", line=self.line)
        return f"{where}: {self.reason(locale)}"


class SurveyError(Exception):
    """Base of every refusal in the survey package."""

    code = "invalid"
    status = 400

    def __init__(self, code: str | None = None, **params: Any) -> None:
        self.code = code or self.code
        self.params = params
        super().__init__(reason(self.code, "en", params))

    def message(self, locale: str | None) -> str:
        """The refusal in ``locale``."""
        return reason(self.code, locale, self.params)


class InstrumentRejected(SurveyError):
    """An instrument file that cannot be used; ``issues`` names every problem."""

    code = "invalid"
    status = 422

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("invalid", detail=f"{len(issues)} problems")

    def messages(self, locale: str | None) -> list[str]:
        """Every problem, one line each, in ``locale``."""
        return [issue.describe(locale) for issue in self.issues]


class SurveyRefused(SurveyError):
    """A refused answer, link or change; ``issues`` are per-question, ``kept`` what was entered."""

    status = 409

    def __init__(self, code: str, *, issues: list[Issue] | None = None,
                 kept: dict[str, Any] | None = None, **params: Any) -> None:
        self.issues = issues or []
        self.kept = kept
        super().__init__(code, **params)

    def messages(self, locale: str | None) -> dict[str, str]:
        """Reason per question path ('' for the whole answer), in ``locale``."""
        found = {issue.path: issue.reason(locale) for issue in self.issues}
        return found or {"": self.message(locale)}
