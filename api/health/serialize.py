"""How liveness and readiness look in answers: fixed codes and figures only (no API key asks)."""

from __future__ import annotations

from typing import Literal

from api.response_model import ResponseModel, Timestamp


class Health(ResponseModel):
    status: Literal["ok"]


class QueueState(ResponseModel):
    messages: int | Literal["unknown"]
    consumers: int | Literal["unknown"]
    problem: str | None = None  # "not declared": no pool has started, nothing was published


class ProviderState(ResponseModel):
    provider: str
    problem: str | None  # the last credential problem a worker met, if any
    reported_at: Timestamp | None


class Readiness(ResponseModel):
    status: Literal["ready", "degraded", "unavailable"]
    # "ok", or "unreachable: <error class>"
    checks: dict[Literal["database", "broker"], str]
    down: list[Literal["database", "broker"]]
    queues: dict[str, QueueState]
    providers: dict[str, ProviderState]
