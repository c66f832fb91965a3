"""Benchmarks of chefoskop against baselines measured in the same run (see README.md)."""
