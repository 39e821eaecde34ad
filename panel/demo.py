from __future__ import annotations

import click


@click.command("demo")
def demo_command() -> None:
    """Seed a demo municipality and run web server, SMTP catcher and dispatcher."""
    raise click.ClickException("not yet")
