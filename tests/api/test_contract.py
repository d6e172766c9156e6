"""schemathesis drives every operation of /openapi.json against the real app on PostgreSQL.

Positive and negative data for each operation (examples, coverage and fuzzing
phases), with a live API key made in the test. Each answer must not be a
server error, and its status, content type, headers and body must be those
the contract declares; negative data must be refused. Seeded and bounded so a
run is repeatable and short (about 1,200 calls, some ten seconds here).
schemathesis leaves out the document's own operation (GET /openapi.json);
tests/api/test_openapi.py covers it.

Left out on purpose: `positive_data_acceptance`. The contract gives each
field's type and bounds, not every rule a request meets (an address valid for
its channel, the content a channel needs, a time in the future), so data the
schema allows is rightly refused with a 422 that names the field.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings as hypothesis_settings

from api import create_app
from common.config import settings

pytestmark = pytest.mark.timeout(300)

CONFIG = {
    "seed": 8,
    "generation": {"mode": "all", "max-examples": 25, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"enabled": False}},
    "checks": {"positive_data_acceptance": {"enabled": False}},
}


# Loading /openapi.json needs no database, so the operations are known when
# tests are collected. The app is built as the `app` fixture builds it; its
# calls reach the run's database, which the `auth` fixture has made and migrated.
# (schemathesis's fixture-based loader does not work with pytest 9.)
schema = schemathesis.openapi.from_wsgi("/openapi.json", create_app(settings()),
                                        config=schemathesis.Config.from_dict(CONFIG))


OPERATIONS = [result.ok() for result in schema.get_all_operations()]
# (operation, generation mode, status) -> calls, for the closing check and summary.
CALLS: Counter = Counter()


@schema.parametrize()
# A live key made for each operation, shared by its examples; the rows they
# write are emptied after the operation.
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_keeps_the_contract(case, auth):
    # A case that leaves the key out (or spoils it) on purpose must see its 401.
    without_key = case.operation.schema.is_security_param_negated(case)
    response = case.call_and_validate(headers=None if without_key else auth)
    mode = case.meta.generation.mode.value if case.meta else "explicit"
    CALLS[(case.operation.label, mode, response.status_code)] += 1


def test_every_operation_was_called_with_positive_and_negative_data(database):
    """Runs after the operations (pytest keeps file order): none was left out or skipped."""
    operations = {operation.label for operation in OPERATIONS}
    called = {(operation, mode) for operation, mode, _ in CALLS}
    assert {operation for operation, _ in called} == operations
    # An operation with no parameters and no body has no invalid data to send.
    takes_input = {op.label for op in OPERATIONS
                   if len(op.body) or len(op.query) or len(op.path_parameters) or len(op.headers)}
    assert {operation for operation, mode in called if mode == "negative"} >= takes_input
    assert not [key for key in CALLS if key[2] >= 500]
    print(f"\nschemathesis: {len(operations)} operations, {sum(CALLS.values())} calls")
    for (operation, mode, status), count in sorted(CALLS.items()):
        print(f"  {operation:55} {mode:9} {status} {count}")
