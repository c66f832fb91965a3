"""Reliability suites: the engine and the sender under crashes."""
