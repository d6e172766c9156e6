"""The bench's modules import, and results.json holds exactly issue 10's keys with numbers or null."""

from __future__ import annotations

import importlib
import json
import pkgutil

import pytest

import bench
from bench.environment import procfile_pool
from bench.results import FIGURES, as_json, empty_results, table, write_results

ISSUE_KEYS = {
    "api_single": {"herald_rps", "baseline_rps", "ratio", "herald_p99_ms"},
    "api_batch": {"herald_nps"},
    "drain_sandbox": {"herald_tps", "baseline_tps", "ratio"},
    "drain_latency": {"provider_latency_ms", "in_flight", "herald_dps", "ideal_dps", "ratio"},
    "end_to_end": {"sustained_nps", "seconds", "p99_accept_to_sent_ms"},
    "relay": {"rows", "seconds"},
}


@pytest.mark.parametrize("name", sorted(module.name for module in pkgutil.iter_modules(bench.__path__)))
def test_every_bench_module_imports(name):
    importlib.import_module(f"bench.{name}")


def test_results_file_has_exactly_the_issues_keys_with_numbers_or_null(tmp_path):
    results = empty_results()
    results["api_single"].figures.update(herald_rps=310.5, baseline_rps=400.25, ratio=0.776, herald_p99_ms=21.0)
    results["relay"].figures.update(rows=100_000, seconds=None)

    document = json.loads(write_results(results, tmp_path / "results.json").read_text())

    assert {name: set(section) for name, section in document.items()} == ISSUE_KEYS
    assert document["api_single"] == {"herald_rps": 310.5, "baseline_rps": 400.25, "ratio": 0.776,
                                      "herald_p99_ms": 21.0}
    assert document["relay"] == {"rows": 100_000, "seconds": None}
    assert document["api_batch"] == {"herald_nps": None}


@pytest.mark.parametrize("value", ["310", float("nan"), float("inf"), True, [1]])
def test_a_figure_that_is_not_a_finite_number_is_refused(value):
    results = empty_results()
    results["api_batch"].figures["herald_nps"] = value
    with pytest.raises(ValueError, match="api_batch.herald_nps"):
        as_json(results)


def test_a_stray_or_missing_key_is_refused():
    results = empty_results()
    results["relay"].figures["rows_per_second"] = 1.0
    with pytest.raises(ValueError, match="relay"):
        as_json(results)
    results = empty_results()
    del results["end_to_end"].figures["seconds"]
    with pytest.raises(ValueError, match="end_to_end"):
        as_json(results)


def test_the_table_shows_goals_and_why_a_figure_is_missing():
    results = empty_results()
    results["api_single"].figures.update(herald_rps=900.0, baseline_rps=1000.0, ratio=0.9, herald_p99_ms=30.0)
    results["relay"].figures.update(rows=100_000, seconds=12.5)
    results["api_batch"].notes.append("not measured: the endpoint answers 404")

    printed = table(results)

    assert "ratio >= 0.8, p99 <= 25 ms: NOT met" in printed  # the ratio passes, the p99 does not
    assert "100,000 rows in < 30 s: met" in printed
    assert ">= 10,000 notifications/s: not measured" in printed
    assert "not measured: the endpoint answers 404" in printed
    assert list(FIGURES) == list(ISSUE_KEYS)


def test_the_pool_comes_from_the_procfile_line_expanded(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("push: WORKER_METRICS_PORT=9101 celery -A workers worker -Q push -n push@%h "
                        "--concurrency ${PUSH_CONCURRENCY:-4} --loglevel info\n")

    assert procfile_pool("push", procfile, {}).options == ["--concurrency", "4"]
    pool = procfile_pool("push", procfile, {"PUSH_CONCURRENCY": "8"})
    assert pool.options == ["--concurrency", "8"] and pool.env == {} and pool.concurrency == 8


def test_a_concurrency_set_through_the_environment_is_pinned_for_both_sides(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("push: WORKER_METRICS_PORT=9101 WORKER_CONCURRENCY=${PUSH_CONCURRENCY:-50} "
                        "celery -A workers worker -Q push -n push@%h --pool threads --loglevel info\n")

    pool = procfile_pool("push", procfile, {})
    options, env = pool.pinned()

    assert pool.concurrency == 50
    assert options == ["--pool", "threads", "--concurrency", "50"]  # the bare Celery app gets 50 too
    assert env == {"WORKER_CONCURRENCY": "50", "WORKER_METRICS_PORT": "0"}  # never the port of make run
