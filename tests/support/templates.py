"""One appointment template in English and French for push, email and SMS, and how its texts should read.

The expected texts are spelled out here from month names and the recipient's
wall clock, independently of Babel, so a test checks what a reader would see.
"""

from __future__ import annotations

from datetime import datetime

import pytz

APPOINTMENT = "appointment"
WHEN = "{{ appointment_at | local_datetime('d MMMM y, HH:mm') }}"
APPOINTMENT_TEMPLATE = {"locales": {
    "en": {
        "push": {"title": "Appointment", "body": f"Hi {{{{ name }}}}, see you on {WHEN}.",
                 "data": {"kind": "appointment"}},
        "email": {"subject": "Your appointment, {{ name }}",
                  "body": f"Hi {{{{ name }}}}, see you on {WHEN}.",
                  "html": f"<p>Hi {{{{ name }}}}, see you on {WHEN}.</p>"},
        "sms": {"body": f"Hi {{{{ name }}}}, see you on {WHEN}."},
    },
    "fr": {
        "push": {"title": "Rendez-vous", "body": f"Bonjour {{{{ name }}}}, à bientôt le {WHEN}.",
                 "data": {"kind": "rendez-vous"}},
        "email": {"subject": "Votre rendez-vous, {{ name }}",
                  "body": f"Bonjour {{{{ name }}}}, à bientôt le {WHEN}.",
                  "html": f"<p>Bonjour {{{{ name }}}}, à bientôt le {WHEN}.</p>"},
        "sms": {"body": f"Bonjour {{{{ name }}}}, à bientôt le {WHEN}."},
    },
}}

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"],
}
GREETING = {"en": ("Hi", "see you on"), "fr": ("Bonjour", "à bientôt le")}


def local_when(moment: datetime, zone: str, language: str) -> str:
    local = moment.astimezone(pytz.timezone(zone))
    return f"{local.day} {MONTHS[language][local.month - 1]} {local.year}, {local:%H:%M}"


def expected_body(name: str, moment: datetime, zone: str, language: str) -> str:
    hello, see_you = GREETING[language]
    return f"{hello} {name}, {see_you} {local_when(moment, zone, language)}."


def put_appointment_template(client, auth, body: dict | None = None) -> dict:
    response = client.put(f"/v1/templates/{APPOINTMENT}", json=body or APPOINTMENT_TEMPLATE,
                          headers=auth)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()
