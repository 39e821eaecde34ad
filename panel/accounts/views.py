from __future__ import annotations

from datetime import timedelta

import click
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from panel import audit
from panel.accounts import services
from panel.accounts.access import role_required, safe_next
from panel.accounts.forms import LoginForm, RoleForm, StaffForm
from panel.extensions import db, login_manager
from panel.models import StaffUser
from panel.web import render_error

bp = Blueprint("accounts", __name__, url_prefix="/staff", cli_group="staff")


@login_manager.user_loader
def _load_user(user_id: str) -> StaffUser | None:
    return services.load_user(db.session, user_id)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                db.session,
                email=form.email.data,
                password=form.password.data,
                remote_addr=request.remote_addr or "-",
                max_failures=current_app.config["PANEL_LOGIN_MAX_FAILURES"],
                window=timedelta(minutes=current_app.config["PANEL_LOGIN_WINDOW_MINUTES"]),
            )
        except services.LoginThrottled:
            audit.record(db.session, actor=None, actor_email=services.staff_email_or_none(db.session, form.email.data),
                         action="auth.login_throttled", remote_addr=request.remote_addr)
            db.session.commit()
            return render_error(429, _("För många misslyckade inloggningar. Vänta en kvart och försök igen."))
        if user is None:
            audit.record(db.session, actor=None, actor_email=services.staff_email_or_none(db.session, form.email.data),
                         action="auth.login_failed", remote_addr=request.remote_addr)
        else:
            audit.record(db.session, actor=user, action="auth.login", target=user, remote_addr=request.remote_addr)
        db.session.commit()
        if user is not None:
            lang = session.get("lang")
            session.clear()  # nothing from before the login carries over, except the language
            if lang:
                session["lang"] = lang
            login_user(user)
            session.permanent = True  # expires PERMANENT_SESSION_LIFETIME after the last request
            return redirect(safe_next(request.args.get("next"), url_for("overview.index")))
        form.password.errors.append(_("Fel e-postadress eller lösenord."))
    return render_template("accounts/login.html", form=form), 200 if not form.errors else 400


@bp.post("/logout")
@role_required()
def logout():
    # Bumping the version invalidates this session everywhere, including a copy of the
    # cookie: Flask's sessions live in the signed cookie, so clearing it alone is not enough.
    user = current_user._get_current_object()
    user.session_version += 1
    audit.record(db.session, actor=user, action="auth.logout", target=user, remote_addr=request.remote_addr)
    db.session.commit()
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("Du är utloggad."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    form = StaffForm()
    if form.validate_on_submit():
        try:
            created = services.create_staff(db.session, email=form.email.data, name=form.name.data,
                                            role=form.role.data, password=form.password.data)
        except ValueError as error:
            form.email.errors.append(str(error))
        else:
            audit.record(db.session, actor=current_user, action="staff.create", target=created,
                         detail={"role": created.role}, remote_addr=request.remote_addr)
            db.session.commit()
            flash(_("Kontot är skapat."), "success")
            return redirect(url_for(".users"))
    staff = db.session.scalars(select(StaffUser).order_by(StaffUser.name)).all()
    return render_template("accounts/users.html", form=form, staff=staff, role_form=RoleForm()), 400 if form.errors else 200


@bp.post("/users/<int:user_id>/role")
@role_required("admin")
def change_role(user_id: int):
    user = db.get_or_404(StaffUser, user_id)
    form = RoleForm()
    if form.validate_on_submit():
        old_role = user.role
        services.change_role(db.session, user, form.role.data)
        if user.role != old_role:
            audit.record(db.session, actor=current_user, action="staff.role_change", target=user,
                         detail={"from": old_role, "to": user.role}, remote_addr=request.remote_addr)
        db.session.commit()
        flash(_("Rollen är ändrad för %(name)s.", name=user.name), "success")
    return redirect(url_for(".users"))


@bp.cli.command("create")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
@click.option("--role", type=click.Choice(["admin", "analyst", "committee"]), default="admin", show_default=True)
@click.password_option()
def create_command(email: str, name: str, role: str, password: str) -> None:
    """Create a staff account (the first admin, for instance)."""
    try:
        user = services.create_staff(db.session, email=email, name=name, role=role, password=password)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    audit.record(db.session, actor=None, action="staff.create", target=user,
                 detail={"role": user.role, "via": "command line"})
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}")
