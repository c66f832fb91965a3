"""The ``chefoskop`` command line: database, demo data, simulation, mail and serving."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from chefoskop.i18n import gettext
from chefoskop.settings import get_settings
from chefoskop_cli.mail import mail_app


def _(msgid: str, **params: Any) -> str:
    """Translate CLI text into the configured default language."""
    return gettext(get_settings().default_locale, msgid, **params)


app = typer.Typer(help=_("Chefoskop: the process engine for Chefoskopet."), no_args_is_help=True)
db_app = typer.Typer(help=_("Database tasks."), no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(mail_app, name="mail")
person_app = typer.Typer(help=_("A person's personal data: export and erasure."), no_args_is_help=True)
app.add_typer(person_app, name="person")


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date."""
    from chefoskop.db import get_engine
    from chefoskop.migrate import upgrade

    upgrade(get_engine())
    _err(_("The database is up to date: {url}", url=get_engine().url.render_as_string()))


def _prepare() -> None:
    from chefoskop.db import get_engine
    from chefoskop.migrate import upgrade
    from flows.dispatch import configure_prefect_environment

    configure_prefect_environment()
    upgrade(get_engine())


@app.command()
def demo() -> None:
    """Create the demo organisation Västra Söderbotten and start its process."""
    from chefoskop.demo import ADMIN_MARK, create_demo
    from flows.dispatch import start_queued

    _prepare()
    result = create_demo()
    start_queued(result.queued, wait=True)
    from api.pages.demo_access import DEMO_PASSWORD

    _err(_("Demo organisation {name} is ready; its process has started.", name=result.name))
    _err(_("Sign in as any of these people with their e-mail address and the password {password}:",
           password=DEMO_PASSWORD))
    for line in result.sign_in_lines:
        _err(line)
    for admin in result.admins:
        _err(_("{person} is the organisation admin ({mark}): /admin (the dashboard) and /audit "
               "(the audit trail) show every process.", person=admin, mark=ADMIN_MARK))


@app.command()
def simulate(
    organisations: Annotated[int, typer.Option(min=1, max=400, help=_("Number of organisations."))] = 3,
    managers: Annotated[
        int, typer.Option(min=1, max=2000, help=_("First-line managers per organisation."))
    ] = 40,
    seed: Annotated[int, typer.Option(help=_("Random seed; the same seed gives the same result."))] = 1,
    mail: Annotated[bool, typer.Option(help=_("Deliver the e-mail (to the local sink by default)."))] = True,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print the summary as JSON."))] = False,
    resume: Annotated[bool, typer.Option(help=_(
        "Continue the newest simulation where it stopped, with its own settings (or only "
        "summarise it when it has ended); start one when there is none."))] = False,
) -> None:
    """Run whole processes end to end with simulated people."""
    from chefoskop.simulate import RUNNING, SimConfig, latest_run, run_simulation

    _prepare()
    if resume:
        found = latest_run()
        if found is None:
            _err(_("There is no simulation to resume; a new one starts."))
        elif found[1].status == RUNNING:
            _err(_("Resuming simulation {run} at working day {day}.", run=found[1].run_id,
                   day=found[1].days))
        else:
            _err(_("Simulation {run} has ended; here is its summary.", run=found[1].run_id))
    summary = run_simulation(SimConfig(organisations, managers, seed, mail=mail), progress=_err,
                             resume=resume)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")


@app.command()
def steps() -> None:
    """Open every queued step now (catch-up after a stop)."""
    from flows.dispatch import run_pending_steps

    _prepare()
    work = run_pending_steps(wait=True)
    _err(_("Opened {n} queued steps.", n=sum(len(v) for v in work.values())))


@app.command()
def sweep() -> None:
    """Queue due reminders and escalations now."""
    from flows.sweep import run_sweep

    _prepare()
    report = run_sweep()
    _err(str(report))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help=_("Address to listen on."))] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help=_("Port to listen on."))] = 8000,
) -> None:
    """Run the web app with the mail sink and the step and mail loop."""
    from api.serve import serve as run

    _prepare()
    _err(_("Chefoskop is at http://{host}:{port}/", host=host, port=port))
    run(host, port)


@person_app.command("export")
def person_export(person_id: int) -> None:
    """Print everything kept about one person as JSON."""
    from chefoskop.db import unit_of_work
    from chefoskop.privacy import export_person

    with unit_of_work() as session:
        print(json.dumps(export_person(session, person_id), ensure_ascii=False, indent=2))


@person_app.command("erase")
def person_erase(person_id: int) -> None:
    """Anonymise one person (refused while they hold a role in a running process)."""
    from chefoskop.db import unit_of_work
    from chefoskop.privacy import erase_person
    from flows.engine import Actor, Context

    with unit_of_work() as session:
        erase_person(Context(session, Actor(label="cli")), person_id)
    _err(_("Person {id} is erased.", id=person_id))


if __name__ == "__main__":  # pragma: no cover
    app()
