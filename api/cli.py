"""`flask --app api keys create SERVICE`: make an API key and show it once; `keys set-limits`."""

from __future__ import annotations

import click
from flask import Blueprint
from sqlalchemy import update

from api.auth import KEY_KINDS, create_api_key
from common.config import check_rate_limit
from common.db import db
from common.models import ApiKey

bp = Blueprint("keys", __name__, cli_group="keys")

DEFAULT = "default"


def _rate_limit_option(name: str, budget: str):
    def parse(_context, _parameter, value: str | None) -> str | None:
        if value is None or value == DEFAULT:
            return value
        try:
            return check_rate_limit(value)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None

    return click.option(name, callback=parse, metavar="LIMITS",
                        help=f'{budget} budget such as "100/second;3000/minute", or '
                             f'"{DEFAULT}" for RATE_LIMIT_{budget.upper()}S')


def _stored(value: str | None) -> str | None:
    return None if value == DEFAULT else value


@bp.cli.command("create")
@click.argument("service")
@click.option("--kind", type=click.Choice(KEY_KINDS), default="live", show_default=True,
              help="test keys always deliver through the sandbox")
@_rate_limit_option("--write-limit", "write")
@_rate_limit_option("--read-limit", "read")
@click.option("--quiet", is_flag=True, help="print only the key")
def create(service: str, kind: str, write_limit: str | None, read_limit: str | None,
           quiet: bool) -> None:
    """Create an API key for SERVICE and print it (it is not shown again)."""
    key, secret = create_api_key(service, kind)
    key.write_rate_limit, key.read_rate_limit = _stored(write_limit), _stored(read_limit)
    db.session.commit()
    if quiet:
        click.echo(secret)
        return
    click.echo(f"Created {kind} key {key.key_prefix}... for service {service!r}.")
    click.echo("Keep it now: Herald stores only its hash.")
    click.echo(secret)


@bp.cli.command("set-limits")
@click.argument("service")
@click.option("--kind", type=click.Choice(KEY_KINDS), default="live", show_default=True)
@_rate_limit_option("--write-limit", "write")
@_rate_limit_option("--read-limit", "read")
def set_limits(service: str, kind: str, write_limit: str | None, read_limit: str | None) -> None:
    """Set the request budgets of SERVICE's active keys of one kind (they share the budget)."""
    changes = {column: _stored(value)
               for column, value in (("write_rate_limit", write_limit),
                                     ("read_rate_limit", read_limit)) if value is not None}
    if not changes:
        raise click.UsageError("give --write-limit, --read-limit or both")
    result = db.session.execute(
        update(ApiKey)
        .where(ApiKey.service == service, ApiKey.kind == kind, ApiKey.revoked_at.is_(None))
        .values(**changes))
    db.session.commit()
    if result.rowcount == 0:
        raise click.ClickException(f"no active {kind} key for service {service!r}")
    click.echo(f"Updated {result.rowcount} {kind} key(s) of service {service!r}.")
