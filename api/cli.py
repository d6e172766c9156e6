"""`flask --app api keys create SERVICE`: make an API key and show it once."""

from __future__ import annotations

import click
from flask import Blueprint

from api.auth import KEY_KINDS, create_api_key

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
    click.echo(f"Created {kind} key {key.key_prefix}... for service {service!r}.")
    click.echo("Keep it now: Herald stores only its hash.")
    click.echo(secret)
