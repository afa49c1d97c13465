"""``raygate explain``: one rule in full, or the rules behind an error message."""

from __future__ import annotations

import click

from raygate.errors import RaygateError

EPILOG = """\b
Examples:
  raygate explain RG101
  raygate explain snippet-annotation
  raygate explain --error 'admission webhook "validate.nginx.ingress.kubernetes.io"
      denied the request: annotation group ConfigurationSnippet contains risky
      annotation based on ingress configuration'
  raygate explain --error 'does not have any active Endpoint for TCP port 9000'
  raygate explain --error "RuntimeError: Request failed with status code 413"
"""


@click.command(epilog=EPILOG)
@click.argument("rule", required=False, metavar="CODE|NAME")
@click.option("-e", "--error", "error_text", metavar="TEXT",
              help="An error message you saw (webhook denial, controller log line, Ray client "
                   "error); lists the rules that explain it.")
def command(rule: str | None, error_text: str | None) -> None:
    """Print a rule's documentation, or find the rules behind a pasted error."""
    from raygate import catalog_docs
    from raygate.rules import CATALOG

    if bool(rule) == bool(error_text):
        raise RaygateError("give a rule code or name, or --error TEXT (not both)")
    if rule:
        found = CATALOG.find(rule)
        if found is None:
            raise RaygateError(f"no rule {rule!r}; `raygate rules` lists them")
        click.echo(catalog_docs.explain(found))
        return
    from raygate.rules import best_error_matches

    matches = best_error_matches(CATALOG, error_text or "")
    if not matches:
        click.echo("No rule matches that message. `raygate rules` lists the catalog; "
                   "`raygate doctor` can diagnose a live cluster.", err=True)
        raise SystemExit(1)
    for r in matches:
        click.echo(catalog_docs.explain(r))
        click.echo("")
