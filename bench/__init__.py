"""Benchmarks that run Herald and a bare baseline side by side and print the ratios (`make bench`)."""
