"""Exports of action plans (PDF, CSV, XLSX) and the evidence pack for work-environment documentation."""

from plans.export import evidence_pack_pdf, plan_csv, plan_pdf, plan_xlsx

__all__ = ["evidence_pack_pdf", "plan_csv", "plan_pdf", "plan_xlsx"]
