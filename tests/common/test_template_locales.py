"""The locale a template renders in: request > recipient > service default > the template's first."""

from __future__ import annotations

import pytest

from common.templates.locales import resolve_locale

EN_FR = ["en", "fr"]


@pytest.mark.parametrize("requested, recipient, service_default, available, expected", [
    ("fr", "en", None, EN_FR, "fr"),  # the request wins over the recipient
    (None, "fr", "en", EN_FR, "fr"),  # the recipient wins over the service
    (None, None, "fr", EN_FR, "fr"),  # the service's default
    (None, None, None, ["fr", "en"], "fr"),  # nothing asked: the template's first locale
    ("fr-CA", None, None, EN_FR, "fr"),  # region -> language
    ("fr-CA", None, None, ["en", "fr", "fr-CA"], "fr-CA"),  # the exact one when the template has it
    ("FR_ca", None, None, ["en", "fr-CA"], "fr-CA"),  # case and "_" do not matter
    ("de", None, "fr", EN_FR, "fr"),  # unknown -> the service default
    ("de-AT", None, "fr-BE", EN_FR, "fr"),  # ... and the default's language
    ("de", None, None, EN_FR, "en"),  # unknown, no default -> the first
    ("de", None, "it", ["fr", "en"], "fr"),  # a default the template lacks -> the first
    ("zh-Hant-TW", None, None, ["en", "zh-Hant"], "zh-Hant"),  # one subtag at a time
])
def test_the_fallback_chain(requested, recipient, service_default, available, expected):
    assert resolve_locale(available, requested=requested, recipient=recipient,
                          service_default=service_default) == expected
