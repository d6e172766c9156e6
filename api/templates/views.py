"""The /v1/templates endpoints: parse, call one service function, serialise."""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, g, jsonify, request, url_for
from pydantic import BaseModel, Field

from api.auth import requires_api_key
from api.openapi import Answer, Parameter, documented
from api.query import unknown_parameters, whole_number
from api.request_parsing import json_body
from api.templates import service
from api.templates.preview import preview_template
from api.templates.reference import MAX_KEY, key_problem
from api.templates.schema import PreviewBody, TemplateBody, parse_preview, parse_template
from api.templates.serialize import (TemplateList, TemplatePreview, TemplateView, preview_body,
                                     template_body, template_list)
from common.channels.email import CHANNEL as EMAIL
from common.channels.sms import CHANNEL as SMS
from common.errors import Invalid
from common.models import utcnow

bp = Blueprint("templates", __name__, url_prefix="/v1/templates")

TEMPLATE_KEY = Parameter("key", "path", Annotated[str, Field(min_length=1, max_length=MAX_KEY)],
                         "The service's name for the template: letters, digits, `.`, `_`, `-`.")


class VersionQuery(BaseModel):
    version: int | None = Field(default=None, ge=1, description="A version; the current one if absent.")


def example_template(now=None) -> dict:
    return {"locales": {
        "en": {SMS.name: {"body": "Hi {{ name }}, your appointment is {{ at | local_datetime('short') }}."},
               EMAIL.name: {"subject": "Your appointment",
                            "body": "Hi {{ name }}, see you {{ at | local_datetime }}.",
                            "html": "<p>Hi {{ name }}, see you {{ at | local_datetime }}.</p>"}},
        "fr": {SMS.name: {"body": "Bonjour {{ name }}, votre rendez-vous : "
                                  "{{ at | local_datetime('short') }}."}}}}


def example_preview(now=None) -> dict:
    return {"channel": SMS.name, "locale": "fr-CA", "timezone": "America/Montreal",
            "personalisation": {"name": "Zoé"}}


def _key(key: str) -> str:
    if problem := key_problem(key):
        raise Invalid({"key": problem})
    return key


def _version_arg() -> int | None:
    if problems := unknown_parameters(request.args, VersionQuery):
        raise Invalid(problems)
    if "version" not in request.args:
        return None
    version = whole_number(request.args["version"])
    if version is None or not 1 <= version < 2**31:
        raise Invalid({"version": "must be a whole number from 1"})
    return version


@bp.put("/<key>")
@documented(summary="Save a new version of a template", tag="templates", body=TemplateBody,
            example=example_template, parameters=(TEMPLATE_KEY,),
            description="Every PUT makes a new immutable version and makes it current. Each "
                        "locale holds a content block per channel, each field a Jinja2 template.",
            answers={200: Answer("A new version of an existing key.", TemplateView),
                     201: Answer("The key's first version.", TemplateView,
                                 headers={"Location": "The template's URL."})})
@requires_api_key
def put(key: str):
    draft = parse_template(_key(key), json_body())
    template, version, created = service.put_template(g.api_key.service, key, draft, utcnow())
    response = jsonify(template_body(template, version, service.versions_of(template)))
    response.status_code = 201 if created else 200
    if created:
        response.headers["Location"] = url_for("templates.show", key=key)
    return response


@bp.get("/<key>")
@documented(summary="A template: its current version (or `?version=`) and the version list",
            tag="templates", parameters=(TEMPLATE_KEY,), query=VersionQuery, errors=(422,),
            answers={200: Answer("The template.", TemplateView)})
@requires_api_key
def show(key: str):
    template = service.find_template(g.api_key.service, _key(key))
    version = service.find_version(template, _version_arg())
    return jsonify(template_body(template, version, service.versions_of(template)))


@bp.get("")
@documented(summary="The service's templates, by key", tag="templates",
            answers={200: Answer("Every live template with its current version.", TemplateList)})
@requires_api_key
def index():
    if problems := unknown_parameters(request.args, BaseModel):
        raise Invalid(problems)
    return jsonify(template_list(service.list_templates(g.api_key.service)))


@bp.delete("/<key>")
@documented(summary="Retire a template key", tag="templates", parameters=(TEMPLATE_KEY,),
            errors=(422,),
            description="Nothing new can be sent with it; notifications already made keep their "
                        "text. A later PUT brings the key back with a new version.",
            answers={204: Answer("Retired.", media_types=())})
@requires_api_key
def retire(key: str):
    service.retire_template(g.api_key.service, _key(key), utcnow())
    return "", 204


@bp.post("/<key>/preview")
@documented(summary="Render a template without sending anything", tag="templates",
            body=PreviewBody, example=example_preview, parameters=(TEMPLATE_KEY,), errors=(422,),
            answers={200: Answer("The rendered content and the variables still missing.",
                                 TemplatePreview)})
@requires_api_key
def preview(key: str):
    body = parse_preview(json_body())
    return jsonify(preview_body(**preview_template(g.api_key.service, _key(key), body)))
