"""Keeps personal data and secrets out of every log line a Herald process writes.

Two leaks are closed where every record is made (a log record factory), so no
logger, handler or format can forget them:

- Database errors carry the values they choke on: psycopg2's
  `DETAIL:  Key (recipient)=(+447700900123) already exists`, `invalid input
  syntax ...: "<caller text>"`. An exception from the database driver or
  SQLAlchemy is written as its class, SQLSTATE and the names of the constraint,
  table and column involved (schema names, not data), never its message.
  (The engine's `hide_parameters` keeps SQLAlchemy's own `[parameters: ...]` out.)
- Email addresses, E.164 phone numbers, API keys and inbox tokens in any message or
  traceback are masked, whatever put them there (a path in the access log, a
  user agent, an exception's text).

Push tokens have no recognisable shape: code that logs one masks it itself
(`common.channels.push.mask_push_token`).
"""

from __future__ import annotations

import logging
import re
import sys
import traceback

from sqlalchemy.exc import StatementError

# An email address: enough of RFC 5322's shape to catch what a caller sends (without the
# characters that also delimit paths, queries and quotes around it: / = ? & ').
_EMAIL = re.compile(r"[\w.!#$%*+^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# A phone number in E.164 (+ and 7 to 15 digits), not inside a longer number.
_PHONE = re.compile(r"(?<![\w+])\+\d{7,15}(?!\d)")
# A Herald API key (api.auth): shown as its kind only.
_API_KEY = re.compile(r"hrd_(live|test)_[\w-]+")
# An end user's inbox token (a JWT: three base64url parts, the first a JSON header).
_INBOX_TOKEN = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]+")
# psycopg2's detail lines repeat the offending row's values (also inside an exception's repr,
# where the line break is written `\n`).
_DB_DETAIL = re.compile(r"^(DETAIL|HINT|CONTEXT|LINE \d+):.*$", re.MULTILINE)
_DB_DETAIL_ESCAPED = re.compile(r"\\n(DETAIL|HINT|CONTEXT|LINE \d+):.*?(?=\\n|$)", re.MULTILINE)
# SQLAlchemy appends the bound values unless the engine hides them.
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n|$)", re.DOTALL)

_DRIVER_MODULES = ("psycopg2", "sqlite3")


def _mask_email(match: re.Match) -> str:
    local, _, domain = match.group().rpartition("@")
    return f"{local[:1]}***@{domain}"


def _mask_phone(match: re.Match) -> str:
    number = match.group()
    return number[:5] + "*" * (len(number) - 7) + number[-2:]


def scrub(text: str) -> str:
    """`text` with addresses, phone numbers, API keys, inbox tokens and database detail lines masked."""
    text = _SQL_PARAMETERS.sub("[parameters hidden]", text)
    text = _DB_DETAIL.sub(lambda m: f"{m.group(1)}: [hidden]", text)
    text = _DB_DETAIL_ESCAPED.sub(lambda m: f"\\n{m.group(1)}: [hidden]", text)
    text = _API_KEY.sub(lambda m: f"hrd_{m.group(1)}_[hidden]", text)
    text = _INBOX_TOKEN.sub("[inbox token]", text)
    text = _EMAIL.sub(_mask_email, text)
    return _PHONE.sub(_mask_phone, text)


def _is_database_error(exc_type: type) -> bool:
    """An error of a statement (SQLAlchemy's) or of the driver, whose text may quote bound values."""
    return issubclass(exc_type, StatementError) or any(
        cls.__module__.split(".")[0] in _DRIVER_MODULES for cls in exc_type.__mro__)


def describe_database_error(error: BaseException) -> str:
    """A database error without the data in its message: SQLSTATE and schema names only."""
    orig = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
    parts = [type(orig).__name__]
    if code := getattr(orig, "pgcode", None):
        parts.append(f"SQLSTATE {code}")
    diag = getattr(orig, "diag", None)
    for name in ("constraint_name", "table_name", "column_name"):
        if value := getattr(diag, name, None):
            parts.append(f"{name.removesuffix('_name')} {value}")
    statement = getattr(error, "statement", None)
    if statement:
        parts.append(f"SQL: {' '.join(statement.split())[:500]}")
    return "; ".join(parts)


def _describe_database_errors(formatted: traceback.TracebackException, value: BaseException | None,
                              seen: set[int]) -> None:
    """Replace, along the chain of causes, each database error's message by its description."""
    # TracebackException keeps no reference to the exception: walk both chains side by side.
    if formatted is None or value is None or id(value) in seen:
        return
    seen.add(id(value))
    if _is_database_error(type(value)):
        formatted._str = describe_database_error(value)
    _describe_database_errors(formatted.__cause__, value.__cause__, seen)
    _describe_database_errors(formatted.__context__, value.__context__, seen)


def format_exception(exc_info) -> str:
    """A traceback as logging writes it, with database errors described and data masked."""
    exc_type, value, tb = exc_info
    formatted = traceback.TracebackException(exc_type, value, tb)
    _describe_database_errors(formatted, value, set())
    return scrub("".join(formatted.format()).rstrip("\n"))


def _exc_info(exc_info):
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    return exc_info if isinstance(exc_info, tuple) and exc_info[1] is not None else None


def _database_errors(exception: BaseException | None) -> list[BaseException]:
    """The database errors in an exception's chain of causes."""
    found, pending, seen = [], [exception], set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if _is_database_error(type(current)):
            found.append(current)
        pending += [current.__cause__, current.__context__]
    return found


def _described(value):
    """A log argument, with a database error replaced by its description."""
    if isinstance(value, BaseException) and _is_database_error(type(value)):
        return describe_database_error(value)
    return value


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Fix the record's text now, masked; its traceback becomes masked text too."""
    if isinstance(record.args, tuple):
        record.args = tuple(_described(value) for value in record.args)
    elif isinstance(record.args, dict):
        record.args = {name: _described(value) for name, value in record.args.items()}
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it to logging to report
        return record
    exc_info = _exc_info(record.exc_info)
    # A message may quote the exception it reports (Celery's "raised unexpected: <repr>").
    for error in _database_errors(exc_info[1] if exc_info else None):
        for text in {str(error), repr(error)} - {""}:
            message = message.replace(text, describe_database_error(error))
    record.msg, record.args = scrub(message), None
    if exc_info is not None:
        record.exc_text = format_exception(exc_info)
        record.exc_info = None  # formatters append exc_text; nothing formats the raw one again
    elif record.exc_text:
        record.exc_text = scrub(record.exc_text)
    return record


def redact_every_log_record() -> None:
    """Make every log record of this process pass through `redact_record` (once per process)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "herald_redacts", False):
        return

    def redacting_factory(*args, **kwargs):
        return redact_record(factory(*args, **kwargs))

    redacting_factory.herald_redacts = True
    logging.setLogRecordFactory(redacting_factory)
