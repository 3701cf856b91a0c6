"""The typer application and the entry point: every user error one line on stderr and exit 2.

``--debug`` shows the traceback; anything that is not a VramscopeError (and an InvariantError) is a
bug in vramscope: exit 3 with one line asking for a report.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import InvariantError, VramscopeError

app = typer.Typer(
    name="vramscope",
    help="How much GPU memory an LLM needs — parameters, weight bytes per format, and more — "
    "from the model's real architecture.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_state = {"debug": False}

#: exit status of a bug (an exception that is not a VramscopeError); user errors exit with 2
INTERNAL_ERROR = 3


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False) -> None:
    _state["debug"] = debug


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning VramscopeError into one line and exit status 2."""
    from ..api import set_progress_listener
    from .show import spinner

    previous = set_progress_listener(spinner)
    try:
        app(args=argv, standalone_mode=False)
    except VramscopeError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        # an InvariantError is an unsound estimate: vramscope's bug (its message says "please report")
        raise SystemExit(INTERNAL_ERROR if isinstance(exc, InvariantError) else 2) from None
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        raise SystemExit(130) from None
    except Exception as exc:
        # click's (typer-vendored) usage errors and exits, recognised by their interface so that
        # this works whichever click copy typer ships
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            typer.echo(f"error: {exc.format_message()}", err=True)
            raise SystemExit(2) from None
        if type(exc).__name__ == "Exit":
            raise SystemExit(getattr(exc, "exit_code", 0)) from None
        if _state["debug"]:
            raise
        # anything that is not a VramscopeError is a bug in vramscope, never the user's fault
        typer.echo(f"internal error ({type(exc).__name__}: {str(exc)[:200]}); this is a bug in vramscope: "
                   "please report it with the command line, and rerun with --debug for the traceback", err=True)
        raise SystemExit(INTERNAL_ERROR) from None
    finally:
        set_progress_listener(previous)
