"""Metrics: Prometheus series for operators, event counts for a calling service."""
