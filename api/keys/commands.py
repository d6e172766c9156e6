"""`flask --app api keys ...` (the CLI blueprint): make, list and revoke API keys (a secret is shown once, at creation) and set their rate limits."""

from __future__ import annotations

import click
from flask import Blueprint

from api.keys.service import (
    KEY_KINDS, KeyNotFound, create_api_key, list_api_keys, revoke_api_key, set_rate_limits,
)
from api.response_model import iso
from common.config import check_rate_limit

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
    key, secret = create_api_key(service, kind, write_rate_limit=_stored(write_limit),
                                 read_rate_limit=_stored(read_limit))
    if quiet:
        click.echo(secret)
        return
    click.echo(f"Created {kind} key {key.key_prefix}... (id {key.id}) for service {service!r}.")
    click.echo("Keep it now: Herald stores only its hash.")
    click.echo(secret)


@bp.cli.command("list")
@click.option("--service", help="only this service's keys")
def list_keys(service: str | None) -> None:
    """List the keys: id, prefix, service, kind, created, revoked (never a secret or a hash)."""
    rows = [("ID", "PREFIX", "SERVICE", "KIND", "CREATED", "REVOKED")]
    rows += [(str(key.id), f"{key.key_prefix}...", key.service, key.kind, iso(key.created_at),
              iso(key.revoked_at) or "-") for key in list_api_keys(service)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@bp.cli.command("revoke")
@click.argument("prefix_or_id")
def revoke(prefix_or_id: str) -> None:
    """Revoke the key with this id or prefix (as `keys list` shows them): it is refused at once."""
    try:
        key, revoked = revoke_api_key(prefix_or_id)
    except KeyNotFound as error:
        raise click.ClickException(str(error)) from None
    if revoked:
        click.echo(f"Revoked {key.kind} key {key.key_prefix}... (id {key.id}) of service {key.service!r}.")
    else:
        click.echo(f"Key {key.key_prefix}... (id {key.id}) was already revoked at {iso(key.revoked_at)}.")


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
    updated = set_rate_limits(service, kind, changes)
    if updated == 0:
        raise click.ClickException(f"no active {kind} key for service {service!r}")
    click.echo(f"Updated {updated} {kind} key(s) of service {service!r}.")
