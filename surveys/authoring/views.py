"""Authoring pages for analysts: list, create or import, edit, reorder, preview, export, copy."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import click
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from panel.accounts.access import role_required
from panel.extensions import db
from panel.web import render_error
from surveys.authoring import preview as preview_flow
from surveys.authoring import services
from surveys.authoring.forms import (
    TYPE_LABELS,
    ActionForm,
    NewSurveyForm,
    condition_from_form,
    SourceForm,
    keep_yes_no_labels,
    page_choices,
    page_form,
    question_form,
    question_form_data,
    question_from_form,
    settings_form,
    texts_from,
)
from surveys.authoring.forms import condition_choices as condition_choices_for
from surveys.definition import DefinitionError, SurveyDefinition, dump_definition, guess_format, text_in
from surveys.forms import expected_pages
from surveys.languages import autonym, direction
from surveys.markdown import render_markdown
from surveys.models import Survey

bp = Blueprint("authoring", __name__, url_prefix="/staff/surveys", cli_group="authoring")
bp.add_app_template_filter(render_markdown, "markdown")
REFUSALS = (DefinitionError, services.StructureFrozen, services.EditConflict)


def _survey(survey_id: int) -> tuple[Survey, SurveyDefinition]:
    survey = db.get_or_404(Survey, survey_id)
    return survey, services.definition_of(survey)


def _problems(error: Exception) -> list[str]:
    if isinstance(error, DefinitionError):
        return list(error.errors)
    if isinstance(error, services.StructureFrozen):
        return [str(error), *error.changes]
    return [str(error)]


def _refuse(form, error: Exception) -> int:
    """Put a refused change's reasons at the top of the form; return the status to answer with."""
    form.form_errors.extend(_problems(error))
    return 400 if isinstance(error, DefinitionError) else 409


def _status(form) -> int:
    return 400 if form.errors else 200


def _staff():
    return current_user._get_current_object()


@bp.get("/")
@role_required("analyst")
def index():
    return render_template("surveys/authoring/index.html", surveys=services.list_surveys(db.session),
                           definition_of=services.definition_of)


@bp.route("/new", methods=["GET", "POST"])
@role_required("analyst")
def create():
    form = NewSurveyForm()
    if form.validate_on_submit():
        try:
            survey = _create_from(form)
        except DefinitionError as error:
            _refuse(form, error)
        else:
            db.session.commit()
            flash(_("Enkäten är skapad som utkast."), "success")
            return redirect(url_for(".show", survey_id=survey.id))
    return render_template("surveys/authoring/new.html", form=form), _status(form)


def _create_from(form: NewSurveyForm) -> Survey:
    upload = form.file.data
    pasted = (form.text.data or "").strip()
    if upload and pasted:
        raise DefinitionError([_("Välj antingen en fil eller inklistrad text, inte båda.")])
    filename = upload.filename if upload else None
    text = _decode(upload.read()) if upload else pasted
    if not text:
        return services.create_survey(db.session, title=form.title.data or "", created_by=_staff())
    return services.import_survey(db.session, text=text, format=guess_format(filename, text),
                                  title=form.title.data or "", created_by=_staff())


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DefinitionError([_("Filen är inte text i UTF-8. Spara den som UTF-8 och försök igen.")]) from None


@bp.get("/<int:survey_id>")
@role_required("analyst")
def show(survey_id: int):
    survey, defn = _survey(survey_id)
    return _render_show(survey, defn)


def _render_show(survey: Survey, defn: SurveyDefinition, problems: list[str] | None = None, status: int = 200):
    return render_template("surveys/authoring/show.html", survey=survey, defn=defn, problems=problems or [],
                           readiness=services.readiness_problems(defn), type_labels=TYPE_LABELS,
                           action_form=ActionForm(), text_in=text_in, autonym=autonym,
                           fielding="fielding.show" in current_app.view_functions), status


@bp.route("/<int:survey_id>/source", methods=["GET", "POST"])
@role_required("analyst")
def source(survey_id: int):
    survey, defn = _survey(survey_id)
    form = SourceForm(data={"text": dump_definition(defn), "revision": survey.revision})
    status = 200
    if form.validate_on_submit():
        try:
            services.replace_from_text(survey, form.text.data or "", guess_format(None, form.text.data or ""),
                                       revision=form.revision.data)
        except REFUSALS as error:
            status = _refuse(form, error)
        else:
            db.session.commit()
            flash(_("Enkäten är sparad."), "success")
            return redirect(url_for(".show", survey_id=survey.id))
    return render_template("surveys/authoring/source.html", survey=survey, form=form), max(status, _status(form))


@bp.route("/<int:survey_id>/settings", methods=["GET", "POST"])
@role_required("analyst")
def settings(survey_id: int):
    survey, defn = _survey(survey_id)
    form = settings_form(defn.languages)(data=_settings_data(survey, defn))
    status = 200
    if form.validate_on_submit():
        texts = {name: texts_from(form, name, defn.languages) for name in ("title", "intro", "closing")}
        try:
            services.update_settings(survey, title=form.internal_title.data or "", anonymous=form.anonymous.data,
                                     texts=texts, revision=form.revision.data)
        except REFUSALS as error:
            status = _refuse(form, error)
        else:
            db.session.commit()
            flash(_("Inställningarna är sparade."), "success")
            return redirect(url_for(".show", survey_id=survey.id))
    return render_template("surveys/authoring/settings.html", survey=survey, defn=defn, form=form), \
        max(status, _status(form))


def _settings_data(survey: Survey, defn: SurveyDefinition) -> dict:
    data = {"internal_title": survey.title, "anonymous": survey.anonymous, "revision": survey.revision}
    for language in defn.languages:
        for name in ("title", "intro", "closing"):
            data[f"{name}_{language}"] = (getattr(defn, name) or {}).get(language, "")
    return data


@bp.route("/<int:survey_id>/questions/new", methods=["GET", "POST"])
@role_required("analyst")
def new_question(survey_id: int):
    survey, defn = _survey(survey_id)
    page_key = request.args.get("page") or defn.pages[-1].key
    if defn.page(page_key) is None:
        abort(404)
    return _question_page(survey, defn, None, page_key)


@bp.route("/<int:survey_id>/questions/<key>/edit", methods=["GET", "POST"])
@role_required("analyst")
def edit_question(survey_id: int, key: str):
    survey, defn = _survey(survey_id)
    question = defn.question(key)
    if question is None:
        abort(404)
    return _question_page(survey, defn, question, defn.page_of(key).key)


def _question_page(survey: Survey, defn: SurveyDefinition, question, page_key: str):
    form_class = question_form(defn.languages, page_choices(defn), condition_choices_for(defn, page_key))
    initial = (question_form_data(question, page_key, defn.languages) if question else
               {"page": page_key, "type": request.args.get("type", "single_choice"), "scale_min": 1, "scale_max": 5})
    form = form_class(data={**initial, "revision": survey.revision})
    status = 200
    if form.validate_on_submit():
        data, problems = question_from_form(form, defn)
        keep_yes_no_labels(data, question)
        try:
            if problems:
                raise DefinitionError(problems)
            saved = services.save_question(survey, data, page_key=form.page.data,
                                           old_key=question.key if question else None, revision=form.revision.data)
        except REFUSALS as error:
            status = _refuse(form, error)
        else:
            db.session.commit()
            flash(_("Frågan är sparad."), "success")
            key = data.get("key") or saved.page(form.page.data).questions[-1].key
            return redirect(url_for(".show", survey_id=survey.id, _anchor=f"question-{key}"))
    return render_template("surveys/authoring/question.html", survey=survey, defn=defn, form=form,
                           question=question), max(status, _status(form))


@bp.route("/<int:survey_id>/pages/new", methods=["GET", "POST"], defaults={"key": None})
@bp.route("/<int:survey_id>/pages/<key>/edit", methods=["GET", "POST"])
@role_required("analyst")
def edit_page(survey_id: int, key: str | None):
    survey, defn = _survey(survey_id)
    page = defn.page(key) if key else None
    if key and page is None:
        abort(404)
    form = page_form(defn.languages, condition_choices_for(defn, key))(data=_page_data(survey, page, defn))
    status = 200
    if form.validate_on_submit():
        try:
            services.save_page(survey, _page_from(form, defn), old_key=key, revision=form.revision.data)
        except REFUSALS as error:
            status = _refuse(form, error)
        else:
            db.session.commit()
            flash(_("Sidan är sparad."), "success")
            return redirect(url_for(".show", survey_id=survey.id))
    return render_template("surveys/authoring/page.html", survey=survey, defn=defn, form=form, page=page), \
        max(status, _status(form))


def _page_data(survey: Survey, page, defn: SurveyDefinition) -> dict:
    data = {"revision": survey.revision, "key": page.key if page else ""}
    for language in defn.languages:
        data[f"title_{language}"] = (page.title or {}).get(language, "") if page else ""
    if page and page.condition:
        data["condition_question"] = page.condition.question_key
        data["condition_value"] = str(page.condition.value)
    return data


def _page_from(form, defn: SurveyDefinition) -> dict:
    page: dict = {}
    if (form.key.data or "").strip():
        page["key"] = form.key.data.strip()
    title = texts_from(form, "title", defn.languages)
    if title:
        page["title"] = title
    condition = condition_from_form(form, defn)
    if condition:
        page["condition"] = condition
    return page


def _apply(survey: Survey, change: Callable[[str | None], object], message: str, anchor: str | None = None):
    """A button's POST: check the form, make the change, commit, say so, go back to the survey."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        change(form.revision.data)
    except LookupError:
        abort(404)
    except REFUSALS as error:
        db.session.rollback()
        return _render_show(survey, services.definition_of(survey), _problems(error),
                            400 if isinstance(error, DefinitionError) else 409)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".show", survey_id=survey.id, _anchor=anchor), 303)


@bp.post("/<int:survey_id>/questions/<key>/move/<any(up, down):direction>")
@role_required("analyst")
def move_question(survey_id: int, key: str, direction: str):
    survey, _defn = _survey(survey_id)
    return _apply(survey, lambda revision: services.move_question(survey, key, direction, revision=revision),
                  _("Frågan är flyttad."), anchor=f"question-{key}")


@bp.post("/<int:survey_id>/pages/<key>/move/<any(up, down):direction>")
@role_required("analyst")
def move_page(survey_id: int, key: str, direction: str):
    survey, _defn = _survey(survey_id)
    return _apply(survey, lambda revision: services.move_page(survey, key, direction, revision=revision),
                  _("Sidan är flyttad."), anchor=f"page-{key}")


@bp.route("/<int:survey_id>/questions/<key>/delete", methods=["GET", "POST"])
@role_required("analyst")
def delete_question(survey_id: int, key: str):
    survey, defn = _survey(survey_id)
    question = defn.question(key)
    if question is None:
        abort(404)
    if request.method == "POST":
        return _apply(survey, lambda revision: services.delete_question(survey, key, revision=revision),
                      _("Frågan är borttagen."))
    return render_template("surveys/authoring/confirm_delete.html", survey=survey, what="question",
                           name=text_in(question.text, "sv"), key=key, form=ActionForm(data={"revision": survey.revision}))


@bp.route("/<int:survey_id>/pages/<key>/delete", methods=["GET", "POST"])
@role_required("analyst")
def delete_page(survey_id: int, key: str):
    survey, defn = _survey(survey_id)
    page = defn.page(key)
    if page is None:
        abort(404)
    if request.method == "POST":
        return _apply(survey, lambda revision: services.delete_page(survey, key, revision=revision),
                      _("Sidan är borttagen."))
    return render_template("surveys/authoring/confirm_delete.html", survey=survey, what="page",
                           name=text_in(page.title, "sv") or key, key=key,
                           form=ActionForm(data={"revision": survey.revision}))


@bp.post("/<int:survey_id>/copy")
@role_required("analyst")
def copy(survey_id: int):
    survey, _defn = _survey(survey_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    duplicate = services.copy_survey(db.session, survey, created_by=_staff())
    db.session.commit()
    flash(_("En kopia är skapad som nytt utkast."), "success")
    return redirect(url_for(".show", survey_id=duplicate.id), 303)


@bp.get("/<int:survey_id>/export.<any(yaml, json):format>")
@role_required("analyst")
def export(survey_id: int, format: str):
    survey, defn = _survey(survey_id)
    filename = f"enkat-{survey.id}-{_slug(survey.title)}.{format}"
    mimetype = "application/json" if format == "json" else "application/yaml"
    return Response(dump_definition(defn, format), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40] or "enkat"


@bp.route("/<int:survey_id>/preview/<language>", methods=["GET", "POST"])
@role_required("analyst")
def preview(survey_id: int, language: str):
    survey, defn = _survey(survey_id)
    if language not in defn.languages:
        abort(404)
    secret = current_app.secret_key
    with force_locale(language):
        if request.method == "GET":
            return _render_preview(survey, defn, language, preview_flow.PreviewStep(None, None, {}))
        try:
            page_key, answers = preview_flow.load_state(secret, survey.id, request.form.get(preview_flow.STATE_FIELD))
        except preview_flow.PreviewStateInvalid:
            return render_error(400, _("Förhandsvisningen kunde inte fortsätta. Börja om från början."))
        result = preview_flow.step(defn, language, page_key, answers, request.form.get("nav"), request.form)
        return _render_preview(survey, defn, language, result)


def _render_preview(survey: Survey, defn: SurveyDefinition, language: str, result: preview_flow.PreviewStep):
    pages = expected_pages(defn, result.answers)
    state = preview_flow.dump_state(current_app.secret_key, survey.id, result.page, result.answers)
    return render_template(
        "surveys/authoring/preview.html", survey=survey, defn=defn, language=language, result=result,
        state=state, state_field=preview_flow.STATE_FIELD, text_in=text_in, autonym=autonym,
        page_number=pages.index(result.page) + 1 if result.page in pages else None, page_count=len(pages),
        answers_json={key: json.dumps(value, ensure_ascii=False) for key, value in result.answers.items()},
        page_lang=language, page_dir=direction(language),
    ), result.status


# --- command line ----------------------------------------------------------------------------


@bp.cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", default="", help="Internal name (default: the survey's Swedish title).")
def import_command(path: Path, title: str) -> None:
    """Create a draft survey from a YAML or JSON file."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        with force_locale("sv"):  # messages in Swedish; there is no request to choose from
            survey = services.import_survey(db.session, text=text, format=guess_format(path.name, text),
                                            title=title, created_by=None)
    except DefinitionError as error:
        raise click.ClickException("\n".join(error.errors)) from error
    db.session.commit()
    click.echo(f"Imported survey {survey.id}: {survey.title}")


@bp.cli.command("validate")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate_command(path: Path) -> None:
    """Check a survey file and list every problem (nothing is stored)."""
    from surveys.definition import load_definition

    text = path.read_text(encoding="utf-8-sig")
    try:
        with force_locale("sv"):
            defn = load_definition(text, guess_format(path.name, text))
    except DefinitionError as error:
        raise click.ClickException("\n".join(error.errors)) from error
    click.echo(f"OK: {sum(1 for _q in defn.questions())} questions on {len(defn.pages)} pages, "
               f"languages {', '.join(defn.languages)}")


@bp.cli.command("export")
@click.argument("survey_id", type=int)
@click.option("--format", "format_", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def export_command(survey_id: int, format_: str) -> None:
    """Print a survey's definition as YAML or JSON."""
    survey = db.session.get(Survey, survey_id)
    if survey is None:
        raise click.ClickException(f"no survey {survey_id}")
    with force_locale("sv"):
        click.echo(dump_definition(services.definition_of(survey), format_), nl=False)
