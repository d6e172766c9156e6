"""Rendering a content block: strict variables, autoescaped HTML, locale-aware filters, hostile templates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import signal
import time

import pytest

from common.errors import Invalid
from common.templates.rendering import render_block
from common.templates.sandbox import syntax_problem, variables_of
from common.templates.time_limit import render_budget

LIMITS = {"title": 200, "body": 2_000, "html": 5_000, "data": 3_500}


def render(block: dict, *, locale="en", zone="UTC", strict=True, **personalisation) -> dict:
    return render_block(block, locale=locale, timezone=zone, personalisation=personalisation,
                        limits=LIMITS, place="t v1 en.push", strict=strict).content


def test_every_field_and_each_data_value_is_a_template():
    block = {"title": "Hi {{ name }}", "body": "{{ count }} items", "data": {"order": "{{ order }}"}}
    assert render(block, name="Ada", count=3, order="A-1") == {
        "title": "Hi Ada", "body": "3 items", "data": {"order": "A-1"}}


def test_a_missing_variable_is_named():
    with pytest.raises(Invalid) as refused:
        render({"body": "Hi {{ name }}, {{ greeting }}"}, greeting="hello")
    assert refused.value.fields == {"personalisation.name": "missing: the template uses it"}


def test_a_variable_guarded_by_is_defined_may_be_left_out():
    assert render({"body": "Hi{% if name is defined %} {{ name }}{% endif %}"}) == {"body": "Hi"}


def test_a_preview_shows_missing_variables_as_written_and_lists_them():
    rendered = render_block({"body": "Hi {{ name }} at {{ at | local_time }}"}, locale="en",
                            timezone="UTC", personalisation={}, limits=LIMITS, place="p",
                            strict=False)
    assert rendered.content == {"body": "Hi {{ name }} at {{ at }}"}
    assert rendered.missing == ["at", "name"]


def test_html_is_autoescaped_and_text_is_not():
    block = {"body": "{{ name }}", "html": "<p>{{ name }}</p>"}
    assert render(block, name="<b>Ada</b> & co") == {
        "body": "<b>Ada</b> & co", "html": "<p>&lt;b&gt;Ada&lt;/b&gt; &amp; co</p>"}


def test_times_in_the_recipients_zone_and_language():
    moment = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)
    moment = moment.replace(hour=15, minute=30, second=0)  # 15:30 UTC
    block = {"body": "{{ at | local_time }} / {{ at | local_date('short') }}"}
    paris = render(block, locale="fr", zone="Europe/Paris", at=moment.isoformat())
    local = moment.astimezone(__import__("pytz").timezone("Europe/Paris"))
    assert paris == {"body": f"{local:%H:%M} / {local:%d/%m/%Y}"}
    new_york = render(block, locale="en", zone="America/New_York", at=moment.isoformat())
    local = moment.astimezone(__import__("pytz").timezone("America/New_York"))
    assert new_york == {"body": f"{local.hour % 12 or 12}:{local:%M}\u202f{local:%p} / "
                                f"{local.month}/{local.day}/{local:%y}"}


def test_numbers_currencies_and_durations_in_the_locale():
    block = {"body": "{{ n | number }} | {{ price | currency('EUR') }} | {{ before | duration }}"}
    assert render(block, locale="en", n=1234.5, price=9.9, before=86_400) == {
        "body": "1,234.5 | €9.90 | 24 hours"}
    assert render(block, locale="fr", n=1234.5, price=9.9, before=7_200) == {
        "body": "1\u202f234,5 | 9,90\u00a0€ | 2\u00a0heures"}


def test_a_filter_given_the_wrong_kind_of_value_names_the_field():
    with pytest.raises(Invalid) as refused:
        render({"body": "{{ at | local_datetime }}"}, at="tomorrow")
    assert list(refused.value.fields) == ["template"]
    assert "t v1 en.push.body" in refused.value.fields["template"]
    assert "ISO 8601" in refused.value.fields["template"]


@pytest.mark.parametrize("source, guard", [
    ("{{ ''.__class__.__mro__ }}", "unsafe"),
    ("{{ name.__class__.__init__.__globals__ }}", "unsafe"),
    ("{{ cycler.__init__.__globals__.os }}", "unsafe"),
    ("{{ 'x' * 100000 }}", "repetition"),
    ("{{ 9 ** 99999 }}", "exponent"),
    ("{{ '%0999999d' % 1 }}", "printf"),
    ("{{ '{:>99999999}'.format(1) }}", "unsafe"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "range"),
    ("{% for i in range(5000) %}{{ name }}{% endfor %}", "more than 2000 characters"),
    ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "RecursionError"),
    ("{% for a in 'x' * 9000 %}{% for b in 'x' * 9000 %}{% for c in 'x' * 9000 %}"
     "{% endfor %}{% endfor %}{% endfor %}", "took more than"),
])
def test_a_hostile_template_is_refused_not_run(source, guard):
    with pytest.raises(Invalid) as refused:
        render({"body": source}, name="Ada")
    assert guard in refused.value.fields["template"]


def test_a_number_too_long_to_print_is_refused():
    with pytest.raises(Invalid) as refused:
        render({"body": "{{ n | number }}"}, n="1e999999999")
    assert "up to 100 digits" in refused.value.fields["template"]


def test_an_outer_alarm_keeps_its_time_through_a_render():
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        render({"body": "{{ name }}"}, name="Ada")
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert 55 < remaining <= 60 and fired == []


@pytest.mark.parametrize("source", ["{{ name", "{% if x %}", "{{ name | no_such_filter }}"])
def test_a_syntax_error_is_found_when_saved(source):
    assert syntax_problem(source).startswith("template syntax error on line 1")


def test_the_variables_a_template_uses():
    source = "{% set greeting = 'Hi' %}{{ greeting }} {{ user.name }}{% for x in items %}{{ x }}{% endfor %}"
    assert variables_of(source) == {"user", "items"}


def test_a_requests_render_budget_is_shared_by_all_its_renders():
    slow = ("{% for a in 'x' * 9000 %}{% for b in 'x' * 9000 %}{% for c in 'x' * 9000 %}"
            "{% endfor %}{% endfor %}{% endfor %}")
    with render_budget(0.5):
        started = time.monotonic()
        problems = []
        for _ in range(4):
            with pytest.raises(Invalid) as refused:
                render({"body": slow})
            problems.append(refused.value.fields["template"])
        took = time.monotonic() - started
    print(f"\nfour slow renders under a 0.5 s budget: {took:.2f} s")
    assert "the template took more than" in problems[0]
    assert all("time for rendering templates is spent" in p for p in problems[1:])
