"""The ``polsplit`` command: thin typer wiring; the work lives in the library modules."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from polsplit_cli import __version__
from polsplit_cli.analyze.cli import app as analyze_app
from polsplit_cli.errors import UserError
from polsplit_cli.eval.command import eval_command
from polsplit_cli.judge.command import judge as judge_command
from polsplit_cli.modes import builtin_modes, get_mode
from polsplit_cli.openmp import choose_openmp_waiting
from polsplit_cli.terminal import HelpCommand, HelpGroup
from polsplit_cli.train.command import train_command
from polsplit_cli.train.verl.export import export_command
from polsplit_cli.train.verl.prepare import prepare_command

app = typer.Typer(
    name="polsplit",
    help="Policy Split: train, evaluate, judge and analyze dual-mode (normal / high-entropy) reasoning LLMs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=HelpGroup,
)
err_console = Console(stderr=True)

modes_app = typer.Typer(help="List the prompt modes and show their system texts.", invoke_without_command=True,
                        cls=HelpGroup)
app.add_typer(modes_app, name="modes")


@modes_app.callback()
def modes_list(ctx: typer.Context) -> None:
    """List the built-in modes (name and the start of the system text)."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    table = Table("mode", "system prompt", "sha256[:12]")
    for mode in builtin_modes().values():
        text = mode.system or "(no system turn)"
        table.add_row(mode.name, text if len(text) <= 70 else text[:67] + "...", mode.digest)
    Console().print(table)
    Console().print("A text file path works as a mode too: its contents become the system turn.")


@modes_app.command("show")
def modes_show(name: str = typer.Argument(..., help="A built-in mode name or a path to a text file.")) -> None:
    """Print one mode's system text exactly as the model sees it."""
    mode = get_mode(name)
    print(mode.system if mode.system is not None else f"({mode.name}: no system turn)")


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        print(f"polsplit {__version__}")
        raise typer.Exit()


# The jobs. Their modules import only typer at the top; torch, transformers, verl, vllm, openai and
# matplotlib load inside the commands, so `polsplit --help` stays fast.
app.command("train")(train_command)
app.command("prepare")(prepare_command)
app.command("export", no_args_is_help=True)(export_command)
app.command("eval", no_args_is_help=True)(eval_command)
app.command("judge", no_args_is_help=True)(judge_command)
app.add_typer(analyze_app, name="analyze", cls=HelpGroup)
for typer_app in (app, modes_app, analyze_app):
    for info in typer_app.registered_commands:
        info.cls = HelpCommand


TORCH_COMMANDS = ("train", "eval", "export", "analyze")  # the jobs that load torch (analyze: kl does)


def main() -> None:
    """Console-script entry point: user mistakes become one red line and exit code 2."""
    if sys.argv[1:2] and sys.argv[1] in TORCH_COMMANDS and "--help" not in sys.argv:
        choose_openmp_waiting()  # before torch loads; the probe costs 0.1 s, so only where torch will load
    try:
        app()
    except UserError as exc:
        from rich.markup import escape

        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
