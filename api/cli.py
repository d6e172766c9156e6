"""`flask --app api keys ...`: make, list and revoke API keys (a secret is shown once, at creation)."""

from __future__ import annotations

import click
from flask import Blueprint

from api.auth import KEY_KINDS, KeyNotFound, create_api_key, list_api_keys, revoke_api_key
from api.responses import iso

bp = Blueprint("keys", __name__, cli_group="keys")


@bp.cli.command("create")
@click.argument("service")
@click.option("--kind", type=click.Choice(KEY_KINDS), default="live", show_default=True,
              help="test keys always deliver through the sandbox")
@click.option("--quiet", is_flag=True, help="print only the key")
def create(service: str, kind: str, quiet: bool) -> None:
    """Create an API key for SERVICE and print it (it is not shown again)."""
    key, secret = create_api_key(service, kind)
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
