"""Per-service request budgets: flask-limiter counting in Redis or memory; 429 in the error shape.

Each authenticated caller has two budgets, one for writes (POST, PUT, PATCH,
DELETE) and one for reads, counted per service and key kind (live keys and
test keys of a service count apart, as GOV.UK Notify does), shared by every
route. A key may carry its own limits; otherwise the settings' defaults
apply. End users' inbox requests (an inbox token) have the same default
budgets, counted per recipient. Requests without a valid key are not counted: the view answers 401.
A view marked with `costs` counts as several writes (a batch: one per item).
"""

from __future__ import annotations

import logging
import math
import threading
import time

from flask import Flask, current_app, g, request
from flask_limiter import ApplicationLimit, Limiter, RequestLimit
from flask_limiter.errors import RateLimitExceeded

from api.errors import ApiError, error_response
from api.rate_limit_callers import Caller, CallerCache, inbox_caller
from common import metrics
from common.config import Settings

log = logging.getLogger(__name__)

# Probes, Prometheus and provider callbacks carry no API key and are never counted.
UNLIMITED_ENDPOINTS = frozenset({"health.health", "health.ready", "metrics.prometheus",
                                 "receipts.twilio"})
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
READ_METHODS = ("GET", "HEAD", "OPTIONS")
# A Redis that does not answer within this must not hold a request up; the
# limiter then counts in this process's memory until Redis is back.
STORAGE_TIMEOUT_SECONDS = 0.5
EXTENSION = "herald_rate_limiter"
CALLERS = "herald_rate_limit_callers"
REFUSALS = "herald_rate_limit_refusals"


class RefusalLog:
    """One log line per caller and budget per minute at most, however many requests are refused."""

    def __init__(self, interval: float = 60.0):
        self.interval = interval
        self._last: dict[tuple[Caller, str], float] = {}
        self._lock = threading.Lock()

    def note(self, caller: Caller, budget: str, limit: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get((caller, budget), -self.interval) < self.interval:
                return
            self._last[(caller, budget)] = now
        log.info("rate limit: %s key of service %s over its %s budget (%s); refusing with 429",
                 caller.kind, caller.service, budget, limit)


def _identify_caller() -> None:
    """Know the caller before counting: the budget is theirs; no valid key, nothing counted."""
    g.rate_limited_caller = None
    if request.endpoint is None or request.endpoint in UNLIMITED_ENDPOINTS:
        return  # no such route (404, 405), or one that is never counted
    if "Authorization" not in request.headers:
        return  # the view answers 401
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "requires_inbox_token", False):  # an end user's inbox: per recipient
        g.rate_limited_caller = inbox_caller(request.headers["Authorization"], _settings())
        return
    callers = current_app.extensions[CALLERS]
    g.rate_limited_caller = callers.identify(request.headers["Authorization"])


def _not_counted() -> bool:
    return g.get("rate_limited_caller") is None


def _bucket() -> str:
    caller = g.rate_limited_caller
    subject = f":{caller.subject}" if caller.subject else ""
    return f"{caller.kind}:{caller.service}{subject}"


def _settings() -> Settings:
    return current_app.config["HERALD_SETTINGS"]


def _write_limits() -> str:
    caller = g.get("rate_limited_caller")
    return (caller is not None and caller.write_limits) or _settings().rate_limit_writes


def _read_limits() -> str:
    caller = g.get("rate_limited_caller")
    return (caller is not None and caller.read_limits) or _settings().rate_limit_reads


def costs(weigh):
    """Mark a view whose request counts as `weigh()` writes (a batch: one per item), not one."""
    def mark(view):
        view.rate_limit_cost = weigh
        return view

    return mark


def _cost() -> int:
    weigh = getattr(current_app.view_functions.get(request.endpoint), "rate_limit_cost", None)
    return weigh() if weigh else 1


def _budget(limits, name: str, methods: tuple[str, ...]) -> ApplicationLimit:
    return ApplicationLimit(limits, scope=name, methods=methods, exempt_when=_not_counted,
                            cost=_cost)


def _storage_options(url: str) -> dict:
    return {} if url.startswith("memory://") else {
        "socket_timeout": STORAGE_TIMEOUT_SECONDS,
        "socket_connect_timeout": STORAGE_TIMEOUT_SECONDS,
    }


def init_rate_limits(app: Flask, config: Settings) -> None:
    if not config.rate_limits_enabled:
        return
    # Registered before the limiter's own hook, so it runs first.
    app.before_request(_identify_caller)
    limiter = Limiter(
        _bucket,
        application_limits=[_budget(_write_limits, "writes", WRITE_METHODS),
                            _budget(_read_limits, "reads", READ_METHODS)],
        # Smooth: no double burst across a window boundary, two counters per window.
        strategy="sliding-window-counter",
        storage_uri=config.rate_limit_storage_url,
        storage_options=_storage_options(config.rate_limit_storage_url),
        key_prefix=config.rate_limit_key_prefix,
        # Redis down: count per process in memory (the same limits, per
        # process) rather than refuse everything or answer 500.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        headers_enabled=False,  # its Reset header is a timestamp; the draft's is seconds (below)
    )
    limiter.init_app(app)
    # It logs every refusal at INFO: a burst would flood the logs. They are
    # counted in herald_api_rate_limited_total and logged by RefusalLog.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    app.extensions[EXTENSION] = limiter
    app.extensions[REFUSALS] = RefusalLog()
    app.extensions[CALLERS] = CallerCache()
    app.register_error_handler(RateLimitExceeded, _too_many_requests)
    app.after_request(_add_rate_limit_headers)


def _too_many_requests(exc: RateLimitExceeded):
    caller = g.get("rate_limited_caller")
    if caller is not None:  # always so for the budgets above
        metrics.request_rate_limited(caller.kind, exc.limit.scope)
        current_app.extensions[REFUSALS].note(caller, exc.limit.scope, str(exc.limit.limit))
    budget = "write" if exc.limit.scope == "writes" else "read"
    cost, allowed = exc.limit.deduction_amount, exc.limit.limit.amount
    if cost > allowed:  # waiting would not help
        message = (f"this request counts as {cost} {budget}s (one per item), more than the "
                   f"{exc.limit.limit} this service may make: send at most {allowed} at once")
        return error_response(ApiError(429, "rate_limited", message, {"items": message}))
    counted = f" (this one counts as {cost})" if cost > 1 else ""
    message = (f"too many {budget} requests{counted}: this service may make {exc.limit.limit}; "
               "retry after the number of seconds in Retry-After")
    return error_response(ApiError(429, "rate_limited", message))


def _seconds_until_reset(limit: RequestLimit) -> int:
    try:
        return max(0, math.ceil(limit.window.reset_time - time.time()))
    except Exception:  # the storage failed since the hit was counted: assume a whole window
        log.warning("rate limit storage unreachable while writing the RateLimit headers")
        return limit.limit.get_expiry()


def _add_rate_limit_headers(response):
    """IETF draft RateLimit-* headers for the budget closest to refusing, and Retry-After on 429."""
    counted = current_app.extensions[EXTENSION].current_limits
    if not counted:
        return response
    breached = [limit for limit in counted if limit.breached]
    try:
        shown = breached[0] if breached else min(counted, key=lambda limit: limit.remaining)
        remaining = 0 if breached else shown.remaining
    except Exception:  # storage failed since the hit: leave the headers out, keep the answer
        log.warning("rate limit storage unreachable while writing the RateLimit headers")
        return response
    reset = _seconds_until_reset(shown)
    response.headers["RateLimit-Limit"] = str(shown.limit.amount)
    response.headers["RateLimit-Remaining"] = str(remaining)
    response.headers["RateLimit-Reset"] = str(reset)
    if breached:
        response.headers["Retry-After"] = str(max(1, reset))
    return response
