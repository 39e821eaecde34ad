from __future__ import annotations

from pathlib import Path

import click
from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from panel.accounts.access import role_required
from panel.districts import services
from panel.districts.forms import DeleteForm, DistrictForm, ImportForm
from panel.extensions import db
from panel.models import District

bp = Blueprint("districts", __name__, url_prefix="/staff/districts", cli_group="districts")


@bp.route("/", methods=["GET", "POST"])
@role_required("admin")
def index():
    form = DistrictForm()
    if form.validate_on_submit():
        try:
            district = services.create_district(db.session, code=form.code.data, name=form.name.data)
        except ValueError as error:
            form.code.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Området %(name)s är tillagt.", name=district.name), "success")
            return redirect(url_for(".index"))
    rows = services.list_districts(db.session)
    return render_template("districts/index.html", form=form, rows=rows), 400 if form.errors else 200


@bp.route("/<int:district_id>", methods=["GET", "POST"])
@role_required("admin")
def edit(district_id: int):
    district = db.get_or_404(District, district_id)
    form = DistrictForm(obj=district)
    if form.validate_on_submit():
        try:
            services.update_district(db.session, district, code=form.code.data, name=form.name.data)
        except ValueError as error:
            db.session.rollback()
            form.code.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Området %(name)s är sparat.", name=district.name), "success")
            return redirect(url_for(".index"))
    return _edit_page(district, form, status=400 if form.errors else 200)


@bp.post("/<int:district_id>/delete")
@role_required("admin")
def delete(district_id: int):
    district = db.get_or_404(District, district_id)
    if not DeleteForm().validate_on_submit():
        return redirect(url_for(".edit", district_id=district.id))
    try:
        services.delete_district(db.session, district)
    except services.DistrictInUse as error:
        return _edit_page(district, DistrictForm(obj=district, formdata=None), status=409, delete_error=str(error))
    db.session.commit()
    flash(_("Området %(name)s är borttaget.", name=district.name), "success")
    return redirect(url_for(".index"))


def _edit_page(district: District, form: DistrictForm, *, status: int, delete_error: str | None = None):
    return render_template("districts/edit.html", district=district, form=form, delete_form=DeleteForm(),
                           delete_error=delete_error), status


@bp.route("/import", methods=["GET", "POST"])
@role_required("admin")
def import_file():
    form = ImportForm()
    problems = []
    if form.validate_on_submit():
        try:
            result = services.import_file(db.session, form.kind.data, form.file.data.read(),
                                          scb_key=form.scb_key.data.read() if form.scb_key.data else None)
        except services.ImportRejected as rejected:
            db.session.rollback()
            problems = rejected.problems
        else:
            db.session.commit()
            flash(_("Filen är inläst: %(created)s nya och %(updated)s ändrade rader.",
                    created=result.created, updated=result.updated), "success")
            return redirect(url_for(".index"))
    status = 400 if form.errors or problems else 200
    return render_template("districts/import.html", form=form, problems=problems), status


def _import_command(kind: str, path: Path, scb_key: Path | None = None) -> None:
    # Problems are written in the default language: there is no request to choose another.
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            result = services.import_file(db.session, kind, path.read_bytes(),
                                          scb_key=scb_key.read_bytes() if scb_key else None)
        except services.ImportRejected as rejected:
            db.session.rollback()
            raise click.ClickException(f"{path.name}: nothing imported.\n{rejected}") from None
    db.session.commit()
    click.echo(f"{path.name} ({result.encoding}): {result.created} created, {result.updated} updated.")


FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@bp.cli.command("import")
@click.argument("file", type=FILE)
def import_command(file: Path) -> None:
    """Add or update districts from a CSV file with columns code,name."""
    _import_command("districts", file)


@bp.cli.command("import-postcodes")
@click.argument("file", type=FILE)
def import_postcodes_command(file: Path) -> None:
    """Add or update the postcode table from a CSV file with columns postcode,district_code."""
    _import_command("postcodes", file)


@bp.cli.command("import-deso")
@click.argument("file", type=FILE)
@click.option("--scb-key", type=FILE, help="SCB's DeSO-RegSO key file, to check codes and fill in RegSO.")
def import_deso_command(file: Path, scb_key: Path | None) -> None:
    """Add or update the DeSO table from a CSV file with columns deso,district_code."""
    _import_command("deso", file, scb_key)
