"""The ``raygate`` command line: thin wiring over the library, one module per command.

Commands are imported lazily (only the one being run), so ``raygate lint`` of a small file
starts fast. Every command reports user errors through ``raygate.errors.RaygateError``:
``main`` prints them as one clear line and exits with the error's code, never a traceback.

Exit codes (all commands): 0 clean, 1 findings at or above --fail-on / a failed probe,
2 usage or input error.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from raygate import __version__
from raygate.errors import EXIT_USAGE, RaygateError

#: command name -> (module under raygate.cli, one-line help shown in `raygate --help`).
COMMANDS: dict[str, tuple[str, str]] = {
    "lint": ("lint", "Check manifests against the rule catalog (static)."),
    "doctor": ("doctor", "Diagnose a live cluster or a snapshot down to the root cause."),
    "render": ("render", "Render the Pinned Gateway from a raygate.yaml spec."),
    "migrate": ("migrate", "Convert an ingress-nginx setup for Ray to Gateway API, with a report."),
    "init": ("init", "Write a commented raygate.yaml to start from."),
    "apply": ("apply", "Server-side apply the rendered gateway, wait, then verify."),
    "probe": ("probe", "Check the real path through a gateway, as a Ray user would."),
    "lab": ("lab", "Run a real local data plane (Ray head + nginx) to rehearse faults."),
    "rules": ("rules", "List the rule catalog."),
    "explain": ("explain", "Explain a rule, or find the rules behind a pasted error."),
    "operator": ("operator", "Keep every annotated Ray cluster reachable (Kubernetes operator)."),
}

EPILOG = """\b
Examples:
  raygate lint examples/seed-broken/          # the guide's three root causes
  raygate render -f raygate.yaml | raygate lint -
  raygate explain --error 'denied the request: ... risky annotation'
  kubectl raygate doctor --context prod

Exit codes: 0 clean, 1 findings at/above --fail-on (or a failed probe), 2 usage or input error.
"""


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (mod, _) in COMMANDS.items() if _available(mod)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _available(COMMANDS[name][0]):
            return None
        module = importlib.import_module(f"raygate.cli.{COMMANDS[name][0]}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, COMMANDS[n][1]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(module: str) -> bool:
    from importlib.util import find_spec
    return find_spec(f"raygate.cli.{module}") is not None


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"],
                                                              "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="raygate")
def app() -> None:
    """raygate: make Ray clusters on Kubernetes reachable through one stable, secure,
    snippet-free gateway (Dashboard, Jobs API, Ray Client, Serve), prove it end to end,
    and keep it that way."""


def main(argv: list[str] | None = None) -> Any:
    try:
        return app.main(args=argv, prog_name=_prog_name(), standalone_mode=False)
    except RaygateError as e:
        click.echo(f"raygate: error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("raygate: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_USAGE)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("raygate: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)


def _prog_name() -> str:
    name = sys.argv[0].rsplit("/", 1)[-1] if sys.argv and sys.argv[0] else "raygate"
    return "kubectl raygate" if name == "kubectl-raygate" else "raygate"
