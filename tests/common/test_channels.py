"""The channel registry (common/channels): one descriptor per channel, and what is derived from it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from common import channels, topology
from common.channels.registry import EXTRA_CHANNELS_VARIABLE
from common.config import PROJECT_ROOT


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


@pytest.mark.parametrize("channel", channels.all_channels(), ids=lambda c: c.name)
def test_each_channel_has_its_own_queue_routing_key_and_delivery_route(channel):
    queues = {q.name: q for q in topology.task_queues()}
    assert queues[channel.queue].routing_key == channel.routing_key
    assert topology.task_routes()[topology.delivery_task_name(channel.name)] == {
        "queue": channel.queue, "routing_key": channel.routing_key}


@pytest.mark.parametrize("channel", channels.all_channels(), ids=lambda c: c.name)
def test_each_channel_requires_and_titles_only_content_it_allows(channel):
    assert channel.required <= channel.allowed
    assert channel.title_field is None or channel.title_field in channel.allowed
    assert channel.body_field in channel.required


def test_a_second_channel_with_a_taken_name_is_refused():
    taken = channels.all_channels()[0]
    with pytest.raises(ValueError, match="registered twice"):
        channels.register(replace(taken))
    assert channels.channel(taken.name) is taken


def test_an_extra_channel_module_that_cannot_be_imported_stops_the_process_every_time():
    # All or nothing: a second look must not find the built-in channels without the extra one.
    code = ("from common import channels\n"
            "for attempt in (1, 2):\n"
            "    try:\n"
            "        channels.names()\n"
            "        print('loaded')\n"
            "    except ModuleNotFoundError:\n"
            "        print('refused')\n")
    result = run_python(code, **{EXTRA_CHANNELS_VARIABLE: "tests.no_such_channel_module"})
    assert result.stdout.split() == ["refused", "refused"], result.stderr


def test_the_api_imports_neither_the_workers_nor_a_vendor_client():
    code = ("import sys\n"
            "from api import create_app\n"
            "from common.config import settings\n"
            "create_app(settings())\n"
            "print(sorted({m.split('.')[0] + ('.rest' if m.startswith('twilio.rest') else '')\n"
            "              for m in sys.modules if m.startswith(('workers', 'pyfcm', 'twilio.rest', 'smtplib'))}))\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
