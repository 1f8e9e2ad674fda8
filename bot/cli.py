"""Command line: ``python -m bot`` runs the bot; subcommands for the database, demo and classifier.

``python -m bot`` and ``python -m bot run`` start the bot without loading this module (and typer):
see :mod:`bot.__main__`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from bot.runner import configure_logging

app = typer.Typer(
    help="Huifang: complaint desk and satisfaction-callback bot.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")
staff_app = typer.Typer(help="Staff accounts: invite, list, remove.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")
team_app = typer.Typer(help="Teams and the categories they handle.", no_args_is_help=True)
app.add_typer(team_app, name="team")
apikey_app = typer.Typer(help="API keys of the integrations that use /api/v1.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")



@app.callback(invoke_without_command=True)
def main_callback(ctx: typer.Context) -> None:
    """Without a subcommand: run the bot (long polling)."""
    if ctx.invoked_subcommand is None:
        run()


@app.command()
def run(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Migrate the database and run the bot with long polling."""
    from bot.runner import run_bot

    raise typer.Exit(code=run_bot(verbose=verbose))


@apikey_app.command("create")
def apikey_create(name: Annotated[str, typer.Argument(help="the integration, e.g. wechat or hotline")]) -> None:
    """Create a key for an integration; the key is printed once, on the last line (stored hashed)."""
    from bot import web_cli

    raise typer.Exit(code=asyncio.run(web_cli.apikey("create", name, out=sys.stdout, err=sys.stderr)))


@apikey_app.command("revoke")
def apikey_revoke(name: Annotated[str, typer.Argument(help="the integration's name")]) -> None:
    """Revoke an integration's key: its calls are refused from now on."""
    from bot import web_cli

    raise typer.Exit(code=asyncio.run(web_cli.apikey("revoke", name, out=sys.stdout, err=sys.stderr)))


@apikey_app.command("list")
def apikey_list() -> None:
    """Integrations with their key's first characters, and whether it is revoked."""
    from bot import web_cli

    raise typer.Exit(code=asyncio.run(web_cli.apikey("list", None, out=sys.stdout, err=sys.stderr)))


@app.command()
def web(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Serve the desk's web console alone (the bot, run elsewhere, delivers its notices)."""
    from bot.settings import Settings
    from bot.web_cli import serve

    configure_logging(verbose)
    raise typer.Exit(code=asyncio.run(serve(Settings(), out=sys.stdout, err=sys.stderr)))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Apply schema migrations (also done automatically at start)."""
    from bot.settings import Settings
    from models.db import upgrade_sync

    settings = Settings()
    upgrade_sync(settings.database_url, revision)
    typer.echo(f"database at {revision}: {_safe_url(settings.database_url)}")


@db_app.command("copy")
def db_copy(to: Annotated[str, typer.Option("--to", help="target database URL, e.g. postgresql://user@host/db")]) -> None:
    """Copy every table from DATABASE_URL into an empty database (e.g. SQLite → PostgreSQL)."""
    from bot.settings import Settings
    from models.copy import copy_database

    settings = Settings()
    target = Settings(database_url=to, _env_file=None).database_url  # the same URL spellings as DATABASE_URL

    def progress(table: str, rows: int) -> None:
        typer.echo(f"\r{table}: {rows} rows", nl=False)

    try:
        copied = asyncio.run(copy_database(settings.database_url, target, progress=progress))
    except ValueError as error:
        typer.echo(f"\nerror: {error}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo("\n" + ", ".join(f"{name} {count}" for name, count in copied.items() if count))
    typer.echo(f"copied {_safe_url(settings.database_url)} → {_safe_url(target)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@staff_app.command("invite")
def staff_invite(
    name: Annotated[str, typer.Option("--name", help="display name, as staff and residents will see it")],
    team: Annotated[Optional[str], typer.Option("--team", help="team code: engineering, cleaning, security, service, hr, audit")] = None,
    role: Annotated[str, typer.Option("--role", help="staff | supervisor | manager | admin")] = "staff",
) -> None:
    """Create a staff member and print a one-time deep link (last line) that binds their Telegram."""
    from bot import staff_cli

    raise typer.Exit(code=asyncio.run(staff_cli.invite(name=name, team=team, role=role, out=sys.stdout, err=sys.stderr)))


@staff_app.command("login")
def staff_login(
    name_or_id: Annotated[str, typer.Argument(help="staff id or exact name, as `staff list` shows them")],
) -> None:
    """Print a one-time login link for the web console (last line; valid WEB_LOGIN_TTL, works once)."""
    from bot import staff_cli

    raise typer.Exit(code=asyncio.run(staff_cli.login_link(name_or_id=name_or_id, out=sys.stdout, err=sys.stderr)))


@staff_app.command("list")
def staff_list(
    all_: Annotated[bool, typer.Option("--all", help="include removed staff")] = False,
) -> None:
    """List staff with team, role, binding and open tickets."""
    from bot import staff_cli

    raise typer.Exit(code=asyncio.run(staff_cli.list_staff(include_removed=all_, out=sys.stdout)))


@staff_app.command("remove")
def staff_remove(staff_id: Annotated[int, typer.Argument(help="the id shown by `staff list`")]) -> None:
    """Remove a staff member; their open tickets are reassigned (and pinged when BOT_TOKEN is set)."""
    from bot import staff_cli

    raise typer.Exit(code=asyncio.run(staff_cli.remove(staff_id=staff_id, out=sys.stdout, err=sys.stderr)))


@team_app.command("list")
def team_list() -> None:
    """Teams with their categories."""
    from bot import staff_cli

    raise typer.Exit(code=asyncio.run(staff_cli.list_teams(out=sys.stdout)))


@team_app.command("set")
def team_set(
    code: Annotated[str, typer.Argument(help="team code, new or existing")],
    name: Annotated[Optional[str], typer.Option("--name", help="display name of the team")] = None,
    categories: Annotated[Optional[str], typer.Option("--categories", help="comma-separated category names, as `team list` shows them")] = None,
) -> None:
    """Create a team or change its name and categories (a category belongs to one team)."""
    from bot import staff_cli

    raise typer.Exit(code=asyncio.run(staff_cli.set_team(code=code, name=name, categories=categories,
                                                          out=sys.stdout, err=sys.stderr)))


@app.command()
def report(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM, e.g. 2026-10")],
    out: Annotated[Path, typer.Option("--out", help="the .xlsx to write; charts go beside it as PNG")],
    team: Annotated[Optional[str], typer.Option("--team", help="only this team's tickets (team code)")] = None,
    lang: Annotated[str, typer.Option("--lang", help="language of the workbook: zh_Hans, zh_Hant or en")] = "zh_Hans",
    csv: Annotated[bool, typer.Option("--csv", help="also write every ticket of the month to the .csv beside --out "
                                                    "(the workbook lists the first REPORT_LIST_ROWS)")] = False,
) -> None:
    """Write the monthly complaint analysis report (spreadsheet with charts)."""
    from bot.report_cli import write_report

    raise typer.Exit(code=asyncio.run(write_report(month=month, out=out, team=team, out_stream=sys.stdout,
                                                   err=sys.stderr, locale=lang, csv=csv)))


@app.command()
def demo(
    sandbox_only: Annotated[bool, typer.Option(help="only start the sandbox and the bot, no script")] = False,
) -> None:
    """Start the sandbox and the bot in one process and play a resident filing a complaint."""
    from bot.demo import run_demo

    code = asyncio.run(run_demo(out=sys.stdout, interactive=sandbox_only))
    raise typer.Exit(code=code)


@app.command()
def classify(
    text: Annotated[Optional[str], typer.Argument(help="a message to classify")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="TSV of id<TAB>text lines")] = None,
    eval_path: Annotated[Optional[Path], typer.Option("--eval", help="labelled TSV to evaluate")] = None,
    folds: Annotated[Optional[int], typer.Option("--folds", min=2, help="with --eval: k-fold cross-validation, the model refitted on the training folds")] = None,
    learn: Annotated[bool, typer.Option("--learn", help="retrain the model from the labelled sets and the staff corrections in the database")] = False,
    train: Annotated[Optional[list[Path]], typer.Option("--train", help="labelled TSV to train on (repeatable): with --learn instead of CLASSIFIER_TRAINING_PATH, with --folds added to every training fold")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="model file --learn writes (default CLASSIFIER_MODEL_PATH)")] = None,
    no_corrections: Annotated[bool, typer.Option("--no-corrections", help="with --learn: the labelled sets only, no database")] = False,
    overlay: Annotated[Optional[Path], typer.Option("--overlay", help="with --learn: also write learned lexicon weights to this overlay file")] = None,
) -> None:
    """Classify a message (JSON), a file of messages (TSV), evaluate (or cross-validate), or retrain the model."""
    from services import classify_cli

    chosen = [x is not None for x in (text, file, eval_path)] + [learn]
    if sum(chosen) != 1:
        typer.echo('give exactly one of: TEXT, --file PATH, --eval PATH, --learn  (e.g. classify "<message>")', err=True)
        raise typer.Exit(code=2)
    if folds is not None and eval_path is None:
        typer.echo("--folds goes with --eval", err=True)
        raise typer.Exit(code=2)
    if learn:
        from bot.learn import learn_from_corrections

        raise typer.Exit(code=asyncio.run(learn_from_corrections(
            out=sys.stdout, overlay=overlay, model=model, train=train, corrections=not no_corrections)))
    try:
        if text is not None:
            typer.echo(classify_cli.classify_text(text))
        elif file is not None:
            classify_cli.classify_file(file, sys.stdout)
        elif folds is not None:
            classify_cli.cross_validate_file(eval_path, sys.stdout, folds=folds, extra=train or ())
        else:
            classify_cli.evaluate_file(eval_path, sys.stdout)
    except (OSError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None


@app.command("retention")
def retention_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only list what would be anonymised")] = False,
) -> None:
    """Anonymise tickets finished longer ago than RETENTION (also done daily by the bot)."""
    from bot.maintenance_cli import run_retention

    raise typer.Exit(code=asyncio.run(run_retention(dry_run=dry_run, out=sys.stdout)))


@app.command("backup")
def backup_command(out: Annotated[Path, typer.Option("--out", help="file to write")]) -> None:
    """Copy the database (SQLite online backup; PostgreSQL through pg_dump)."""
    from bot.maintenance_cli import backup

    raise typer.Exit(code=backup(out_path=out, out=sys.stdout, err=sys.stderr))


@app.command("restore")
def restore_command(from_path: Annotated[Path, typer.Argument(help="a file written by `backup`")]) -> None:
    """Replace the database with a backup (stop the bot first)."""
    from bot.maintenance_cli import restore

    raise typer.Exit(code=restore(from_path=from_path, out=sys.stdout, err=sys.stderr))


if __name__ == "__main__":
    app()
