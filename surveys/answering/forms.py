"""Forms of the answering pages.

The question pages are built from the survey definition by
:func:`surveys.forms.build_page_form` (one field per visible question, CSRF included);
this module adds the start button of the landing page and the few messages the
answering views put on a page form.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField

NOT_SAVED = _l("Sidan sparades inte, eftersom något gick fel hos oss. Det du har svarat finns kvar här "
               "nedanför: försök skicka igen om en stund.")
EXPIRED_FORM = _l("Sidan hade gått ut och sparades inte. Det du har svarat finns kvar här nedanför: "
                  "kontrollera och skicka igen.")
START_EXPIRED = _l("Sidan hade gått ut. Klicka på knappen en gång till.")
BACK_NOT_SAVED = _l("Rätta det som är markerat innan du går tillbaka, så sparas det du har svarat på den "
                    "här sidan.")


class StartForm(FlaskForm):
    """The landing page's button: starts (or resumes) answering in the chosen language."""

    language = HiddenField()
