"""GET /openapi.json and GET /docs: every route described, and real answers that match it."""

from __future__ import annotations

import re
import uuid

import pytest
import schemathesis

from api.openapi_document import undocumented_routes
from tests.api.helpers import assert_error
from tests.api.test_receipts import make_sms, receipts_app, twilio_client  # noqa: F401 (fixtures)


@pytest.fixture
def contract(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def test_every_route_is_in_the_document(app, client):
    assert undocumented_routes(app) == []
    document = client.get("/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    served = {(method, path) for path, operations in document["paths"].items()
              for method in operations}
    routes = {(method.lower(), re.sub(r"<(?:[^:<>]+:)?([^:<>]+)>", r"{\1}", rule.rule))
              for rule in app.url_map.iter_rules()
              if not rule.rule.startswith(("/static", "/docs/"))
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == routes


def test_request_bodies_are_the_validating_models(client):
    from api.reminders.schema import ReminderBody
    from api.notifications.schema import NotificationBody

    document = client.get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    create = document["paths"]["/v1/notifications"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NotificationBody"}
    assert set(schemas["NotificationBody"]["properties"]) == set(NotificationBody.model_fields)
    assert set(schemas["ReminderBody"]["properties"]) == set(ReminderBody.model_fields)
    assert schemas["NotificationBody"]["additionalProperties"] is False


def test_errors_security_and_rate_limit_headers_are_declared(client):
    document = client.get("/openapi.json").get_json()
    create = document["paths"]["/v1/notifications"]["post"]
    assert create["security"] == [{"apiKey": []}]
    assert set(create["responses"]) == {"202", "400", "401", "409", "411", "413", "415", "422",
                                        "429"}
    for status in ("400", "401", "409", "411", "413", "415", "422", "429"):
        schema = create["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
        create["responses"]["429"]["headers"])
    assert [p["name"] for p in create["parameters"]] == ["Idempotency-Key"]
    assert document["paths"]["/health"]["get"]["security"] == []
    receipt = document["paths"]["/v1/receipts/twilio/{notification_id}"]["post"]
    assert list(receipt["requestBody"]["content"]) == ["application/x-www-form-urlencoded"]
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_the_suites_own_calls_match_the_document(client, auth, contract):
    """Each answer of a day's use, the ones schemathesis cannot reach by chance included."""
    checked = []

    def call(method: str, path: str, template: str, **kwargs):
        response = getattr(client, method)(path, headers=auth, **kwargs)
        contract[template][method.upper()].validate_response(response)
        checked.append((method.upper(), template, response.status_code))
        return response

    sent = call("post", "/v1/notifications", "/v1/notifications",
                json={"channel": "sms", "to": "+447700900123", "content": {"body": "Hi"}})
    nid = sent.get_json()["id"]
    one = "/v1/notifications/{notification_id}"
    call("get", f"/v1/notifications/{nid}", one)
    call("get", "/v1/notifications?limit=1", "/v1/notifications")
    call("post", f"/v1/notifications/{nid}/cancel", one + "/cancel")
    call("post", f"/v1/notifications/{nid}/send-now", one + "/send-now")  # 409: cancelled
    call("get", f"/v1/notifications/{uuid.uuid4()}", one)  # 404

    recipient = "/v1/recipients/{external_id}"
    call("put", "/v1/recipients/tenant/42", recipient,
         json={"timezone": "Europe/London", "push_tokens": ["tok-1", "tok-2"]})
    call("get", "/v1/recipients/tenant/42", recipient)
    grouped = call("post", "/v1/notifications", "/v1/notifications",
                   json={"channel": "push", "recipient_id": "tenant/42",
                         "content": {"title": "Hi", "body": "Both devices"}})
    assert len(grouped.get_json()["notifications"]) == 2
    call("delete", "/v1/recipients/tenant/42", recipient)

    from api.reminders.views import example_reminders, example_reschedule
    from common.models import utcnow

    made = call("post", "/v1/reminders", "/v1/reminders", json=example_reminders(utcnow()))
    gid = made.get_json()["group_id"]
    group = "/v1/reminders/{group_id}"
    call("get", f"/v1/reminders/{gid}", group)
    call("post", f"/v1/reminders/{gid}/reschedule", group + "/reschedule",
         json=example_reschedule(utcnow()))
    call("post", f"/v1/reminders/{gid}/cancel", group + "/cancel")
    call("get", "/v1/metrics?period=60", "/v1/metrics")
    call("get", "/health", "/health")
    assert [status for *_, status in checked] == [
        202, 200, 200, 200, 409, 404, 201, 200, 202, 204, 201, 200, 200, 200, 200, 200]


def test_a_misspelt_query_parameter_is_refused(client, auth):
    assert_error(client.get("/v1/notifications?stauts=failed", headers=auth), 422, "stauts")
    assert_error(client.get("/v1/metrics?perod=60", headers=auth), 422, "perod")


def test_preview_is_not_read_as_a_notification_id(client, auth):
    response = client.get("/v1/notifications/preview", headers=auth)
    assert_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}


def test_the_docs_page_uses_only_bundled_files(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "//" not in re.sub(r"<!DOCTYPE[^>]*>", "", html)  # no CDN, no absolute URL
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/docs/swagger-ui-bundle.js" in sources and "/docs/start.js" in sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert asset.get_data()
    start = client.get("/docs/start.js").get_data(as_text=True)
    assert 'url: "/openapi.json"' in start
    assert_error(client.get("/docs/../api/__init__.py"), 404)
    assert_error(client.get("/docs/index.j2"), 404)


def test_a_route_without_a_declaration_stops_the_document():
    from api import create_app
    from api.openapi_document import build_document
    from common.config import settings
    from common.models import utcnow

    app = create_app(settings())
    app.add_url_rule("/v1/forgotten", "forgotten", lambda: "")
    assert undocumented_routes(app) == ["GET /v1/forgotten"]
    with pytest.raises(LookupError, match="GET /v1/forgotten"):
        build_document(app, utcnow())


def test_a_signed_twilio_receipt_matches_the_document(twilio_client, make_sms, receipts_app):
    from tests.api.test_receipts import params, post_receipt

    contract = schemathesis.openapi.from_wsgi("/openapi.json", receipts_app)
    operation = contract["/v1/receipts/twilio/{notification_id}"]["POST"]
    nid = make_sms()
    delivered = post_receipt(twilio_client, nid, params("delivered"))
    assert delivered.status_code == 200
    operation.validate_response(delivered)
    forged = post_receipt(twilio_client, nid, params("failed"), token="not-the-auth-token")
    assert forged.status_code == 403
    operation.validate_response(forged)
