"""``raygate rules``: the catalog, from the rules' own metadata."""

from __future__ import annotations

import click

EPILOG = """\b
Examples:
  raygate rules                      # table of every rule
  raygate rules --layer protocol
  raygate rules -o markdown > docs/rules.md   # how the docs are generated
  raygate explain RG202              # one rule in full
"""


@click.command(epilog=EPILOG)
@click.option("--layer", type=click.Choice(["security", "protocol", "infrastructure"]),
              help="Only one layer.")
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "markdown", "json"]),
              default=None, help="Output format. [default: table]")
@click.option("-f", "--format", "legacy_format", type=click.Choice(["table", "markdown", "json"]),
              default=None, hidden=True)
def command(layer: str | None, fmt: str | None, legacy_format: str | None) -> None:
    """List the rule catalog: code, name, layer, severity and title."""
    if legacy_format is not None:
        from raygate.cli import _common
        _common.deprecated(f"-f/--format {legacy_format}", f"-o {legacy_format}")
    fmt = fmt or legacy_format or "table"
    from raygate import catalog_docs
    from raygate.rules import CATALOG

    rules = [r for r in CATALOG if layer is None or r.layer.value == layer]
    if fmt == "markdown":
        click.echo(catalog_docs.markdown(rules), nl=False)
    elif fmt == "json":
        click.echo(catalog_docs.json_catalog(rules))
    else:
        for r in rules:
            needs = " (runtime)" if r.needs == "runtime" else ""
            click.echo(f"{r.code}  {r.name:<42} {r.layer.value:<15} {r.severity.value:<8} "
                       f"{r.title}{needs}")
