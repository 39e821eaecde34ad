"""Mail: the staff page for failed email, the ``medborgarpanel mail ...`` commands, and
the development mailbox at /dev/mail (only when PANEL_DEV_MAILBOX is set)."""

from __future__ import annotations

import ipaddress
import re
import signal
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta

import click
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from panel.accounts.access import role_required
from panel.db import utcnow
from panel.extensions import db
from panel.mail import devserver, dispatcher, services
from panel.mail.forms import RetryForm
from panel.mail.smtp import MailSettings

bp = Blueprint("mail", __name__, cli_group="mail")


# ---------------------------------------------------------------- staff page


@bp.get("/staff/mail")
@role_required("analyst")
def index():
    return render_template("mail/index.html", overview=services.overview(db.session),
                           failed=services.failed_messages(db.session), mask=services.mask_address,
                           form=RetryForm())


@bp.post("/staff/mail/<int:message_id>/retry")
@role_required("analyst")
def retry(message_id: int):
    if RetryForm().validate_on_submit():
        if services.retry(db.session, [message_id]):
            db.session.commit()
            flash(_("E-postmeddelandet skickas igen."), "success")
        else:
            flash(_("Meddelandet har redan skickats om eller finns inte längre."), "info")
    return redirect(url_for(".index"))


@bp.post("/staff/mail/retry")
@role_required("analyst")
def retry_all():
    if RetryForm().validate_on_submit():
        count = services.retry(db.session)
        db.session.commit()
        flash(_("%(n)s e-postmeddelanden skickas igen.", n=count), "success")
    return redirect(url_for(".index"))


# ---------------------------------------------------------------- CLI


@contextmanager
def _stop_on_signals(stop: threading.Event):
    """SIGTERM and Ctrl-C finish the message in flight, release the rest, and exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handle(signum, _frame):
        click.echo("Stopping after the message in flight ...", err=True)
        stop.set()

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@bp.cli.command("dispatch")
@click.option("--once", is_flag=True, help="Send what is due now, then exit (for cron).")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000),
              help="Messages claimed and sent over one SMTP connection per round.")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds to wait when the queue is empty.")
@click.option("--worker-id", default=None, help="Name in claimed_by (default host:pid:random).")
def dispatch_command(once: bool, batch_size: int, interval: float, worker_id: str | None) -> None:
    """Send queued email. Runs until stopped (SIGTERM, Ctrl-C) unless --once.

    Several dispatchers may run at once on PostgreSQL; with SQLite run one.
    """
    app = current_app._get_current_object()
    sessions = app.extensions["database"]
    settings = MailSettings.from_config(app.config)
    try:
        settings.envelope_from
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    stop = threading.Event()

    def progress(stats: dispatcher.DispatchStats) -> None:
        click.echo(f"{datetime.now():%H:%M:%S} {stats.summary()}")

    click.echo(f"Dispatching through {settings.host}:{settings.port}, batches of {batch_size}.")
    with _stop_on_signals(stop):
        if once:
            total = dispatcher.DispatchStats()
            while not stop.is_set():
                stats = dispatcher.dispatch_once(sessions, settings, batch_size=batch_size,
                                                 worker_id=worker_id, stop=stop)
                total += stats
                if stats.claimed or stats.reclaimed:
                    progress(stats)
                if stats.claimed < batch_size or stats.smtp_error:
                    break
        else:
            total = dispatcher.run(sessions, settings, batch_size=batch_size, interval=interval,
                                   worker_id=worker_id, stop=stop, on_round=progress)
    click.echo(f"Done: sent {total.sent}, retry later {total.retried}, failed {total.failed}.")
    if total.smtp_error:
        click.echo(f"The mail server could not be reached: {total.smtp_error}", err=True)


@bp.cli.command("status")
@click.option("--limit", default=50, show_default=True, help="Failed messages to list.")
def status_command(limit: int) -> None:
    """Outbox counts by status, and the failed messages with their errors."""
    overview = services.overview(db.session)
    for name, count in overview.counts.items():
        click.echo(f"{name:>8}: {count}")
    if overview.oldest_due is not None:
        waited = utcnow() - overview.oldest_due
        click.echo(f"Oldest due message has waited {_duration(waited)}"
                   + (" - is a dispatcher running?" if waited > timedelta(minutes=5) else "."))
    failed = services.failed_messages(db.session, limit=limit)
    if failed:
        click.echo("\nFailed (newest first):")
    for message in failed:
        click.echo(f"  #{message.id} {message.kind} to {message.to_address}, {message.attempts} attempt(s): "
                   f"{message.last_error}")


@bp.cli.command("retry")
@click.argument("message_ids", nargs=-1, type=int)
@click.option("--all", "retry_all_", is_flag=True, help="Retry every failed message.")
def retry_command(message_ids: tuple[int, ...], retry_all_: bool) -> None:
    """Queue failed messages again (by id, or --all)."""
    if not message_ids and not retry_all_:
        raise click.UsageError("give message ids or --all")
    count = services.retry(db.session, None if retry_all_ else list(message_ids))
    db.session.commit()
    click.echo(f"Queued {count} failed message(s) again.")


@bp.cli.command("purge")
@click.option("--days", default=30, show_default=True, type=click.IntRange(0, None),
              help="Delete sent messages older than this many days.")
def purge_command(days: int) -> None:
    """Delete old sent messages (they hold addresses and personal links)."""
    count = services.purge_sent(db.session, older_than=timedelta(days=days))
    db.session.commit()
    click.echo(f"Deleted {count} sent message(s) older than {days} days.")


@bp.cli.command("devserver")
@click.option("--port", default=1025, show_default=True)
@click.option("--maildir", default=None, help="Default: PANEL_DEV_MAILBOX, or instance/dev-mailbox.")
def devserver_command(port: int, maildir: str | None) -> None:
    """Catch all mail in a local Maildir (development only), shown at /dev/mail."""
    app = current_app._get_current_object()
    maildir = maildir or app.config.get("PANEL_DEV_MAILBOX") or f"{app.instance_path}/dev-mailbox"
    stop = threading.Event()
    with devserver.DevSMTPServer(maildir, port=port), _stop_on_signals(stop):
        click.echo(f"Catching mail on 127.0.0.1:{port} into {maildir}. Set MAIL_PORT={port} "
                   f"and PANEL_DEV_MAILBOX={maildir}. Ctrl-C stops.")
        stop.wait()


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


# ---------------------------------------------------------------- development mailbox

_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_HTML_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
             "frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox "
             "allow-top-navigation-by-user-activation")


def _breakable(text: str) -> Markup:
    """Long URLs break at slashes and every 20 characters (a 320 px screen needs it)."""
    pieces = re.findall(r".{1,20}(?:/|$)|.{1,20}", text)
    return Markup("<wbr>").join(escape(piece) for piece in pieces)


def linkify(text: str) -> Markup:
    """Plain text as HTML: escaped, paragraphs and line breaks kept, web addresses as links."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = []
        for line in block.split("\n"):
            out, last = [], 0
            for match in _URL.finditer(line):
                out.append(escape(line[last:match.start()]))
                url = match.group(0)
                out.append(Markup('<a href="{0}">{1}</a>').format(url, _breakable(url)))
                last = match.end()
            out.append(escape(line[last:]))
            lines.append(Markup("").join(out))
        paragraphs.append(Markup("<p>{0}</p>").format(Markup("<br>\n").join(lines)))
    return Markup("\n").join(paragraphs)


def _mailbox() -> str:
    """The Maildir path; 404 for anyone but this machine (it holds everyone's login links)."""
    try:
        loopback = ipaddress.ip_address((request.remote_addr or "").split("%")[0]).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        abort(404)
    return current_app.config["PANEL_DEV_MAILBOX"]


def dev_mailbox():
    return render_template("mail/dev_mailbox.html", messages=devserver.list_mail(_mailbox()))


def dev_message(key: str):
    message = devserver.read_mail(_mailbox(), key)
    if message is None:
        abort(404)
    return render_template("mail/dev_message.html", message=message,
                           text=linkify(message.text) if message.text else None)


def dev_message_html(key: str):
    """The HTML part alone, for a sandboxed iframe: no scripts, no requests, no forms;
    links open in the top window (the newcomer's click on the confirmation link)."""
    message = devserver.read_mail(_mailbox(), key)
    if message is None or message.html is None:
        abort(404)
    html, found = re.subn(r"(<head\b[^>]*>)", r'\1<base target="_top">', message.html, count=1, flags=re.I)
    if not found:
        html = '<base target="_top">' + html
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _HTML_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.record_once
def _register_dev_mailbox(state) -> None:
    """The /dev/mail pages exist only when PANEL_DEV_MAILBOX is set (404 otherwise)."""
    if not state.app.config.get("PANEL_DEV_MAILBOX"):
        return
    state.app.logger.warning("PANEL_DEV_MAILBOX is set: /dev/mail shows every email. Never in production.")
    state.add_url_rule("/dev/mail", "dev_mailbox", dev_mailbox)
    state.add_url_rule("/dev/mail/<key>", "dev_message", dev_message)
    state.add_url_rule("/dev/mail/<key>/html", "dev_message_html", dev_message_html)
