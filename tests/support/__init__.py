"""Helpers shared by the tests: services, processes, outbox and data factories."""
