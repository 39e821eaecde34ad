"""The analysis package's errors, told to the analyst in the page's language.

``analysis`` raises ``ValueError`` subclasses with English messages for programmers
and the detail as attributes (:class:`analysis.weighting.WeightingInputError`,
:class:`analysis.weighting.ConvergenceError`,
:class:`analysis.targets.agebands.AgeBandMismatch`,
:class:`analysis.recruitment.RecruitmentPlanError`). The health page and the
recruitment planner show instead what is wrong and what to do, through gettext,
with the details as parameters. An error without known detail gets a general
sentence (never the English text); the English text goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from analysis.recruitment import RecruitmentPlanError
from analysis.targets.agebands import AgeBandMismatch
from analysis.weighting import ConvergenceError, WeightingInputError
from panel.charts import format_number, format_percent

log = logging.getLogger(__name__)

VARIABLE_NAMES = {"gender": _l("kön"), "age_group": _l("åldersgrupp"), "district": _l("område")}


def variable_name(name: str | None) -> str:
    """``"gender × district"`` → ``"kön × område"`` (names the page uses)."""
    if not name:
        return ""
    return " × ".join(str(VARIABLE_NAMES.get(part.strip(), part.strip())) for part in name.split("×"))


def _categories(categories: Iterable[object], labels: Mapping[str, str], limit: int = 6) -> str:
    shown = []
    for category in categories:
        parts = category if isinstance(category, tuple) else (category,)
        shown.append(" × ".join(str(labels.get(str(p), p)) for p in parts))
    text = ", ".join(shown[:limit])
    if len(shown) > limit:
        text += " " + _("med flera")
    return text


def _log(error: Exception) -> None:
    log.info("analysis error shown as a general message: %s", error)


def age_bands_problem(error: ValueError) -> str:
    """The population figures' age groups do not fit the panel's age bands."""
    if isinstance(error, AgeBandMismatch):
        return _("Befolkningsuppgifternas åldersgrupp %(group)s går över gränsen mellan panelens åldersgrupper "
                 "%(bands)s, så åldern jämförs inte. Ladda upp befolkningsuppgifter med ettårsklasser, eller med "
                 "åldersgrupper som passar panelens.", group=error.group, bands=", ".join(error.bands))
    _log(error)
    return _("Befolkningsuppgifternas åldrar passar inte panelens åldersgrupper, så åldern jämförs inte. Ladda upp "
             "befolkningsuppgifter med ettårsklasser.")


def comparison_problem(error: ValueError, variables: Iterable[str]) -> str:
    """A comparison with the population could not be made."""
    _log(error)
    return _("Jämförelsen efter %(what)s kunde inte göras med befolkningsuppgifterna som används (till exempel är "
             "summan noll). Kontrollera uppgifterna under Befolkning.",
             what=" × ".join(variable_name(v) for v in variables))


def weighting_problem(error: ValueError, labels: Mapping[str, str]) -> str:
    """Why the active panel could not be raked to the population, and what to do."""
    if isinstance(error, ConvergenceError) and error.max_error is not None:
        return _("Vägningen blev inte klar: den största avvikelsen från befolkningen var %(error)s efter %(n)s varv. "
                 "Pröva att slå ihop små grupper, eller väg efter färre variabler.",
                 error=format_percent(error.max_error, 1), n=error.iterations)
    if isinstance(error, WeightingInputError):
        if error.kind == "zero_population":
            return _("Befolkningsuppgifterna som används har ingen befolkning alls, så panelen kan inte vägas. "
                     "Ladda upp befolkningsuppgifterna igen.")
        missing = [issue for issue in error.report.issues if issue.kind == "untargeted" and issue.variable]
        zero = [issue for issue in error.report.issues if issue.kind == "zero_target"]
        parts = [_("Befolkningssiffror saknas för %(what)s %(categories)s.", what=variable_name(issue.variable),
                   categories=_categories(issue.categories, labels)) for issue in missing]
        parts += [_("Befolkningen är noll i grupper efter %(what)s där panelen har medlemmar.",
                    what=variable_name(issue.margin)) for issue in zero]
        empty = [issue for issue in error.report.errors if issue.kind == "empty_target"]
        parts += [_("Panelen har inga medlemmar i några grupper efter %(what)s som befolkningen har.",
                    what=variable_name(issue.margin)) for issue in empty]
        if error.kind == "nobody_left":
            head = _("Ingen aktiv medlem tillhör en grupp som befolkningsuppgifterna har siffror för, så panelen "
                     "kan inte vägas.")
        else:
            head = _("Panelen kunde inte vägas till befolkningen.")
        advice = _("Kontrollera att befolkningsuppgifterna gäller kommunens områden (samma områdeskoder) och "
                   "panelens åldersgrupper, eller ladda upp uppgifter som gör det.")
        return " ".join([head, *parts, advice])
    _log(error)
    return _("Panelen kunde inte vägas till befolkningen med uppgifterna som används. Kontrollera "
             "befolkningsuppgifterna under Befolkning.")


def r_indicator_problem(error: Exception) -> str:
    """The R-indicator of the recruitment waves could not be computed."""
    _log(error)
    return _("R-indikatorn kunde inte räknas fram: grupperna i rekryteringarna är för få eller för små för "
             "modellen. Den går att räkna när fler har bjudits in.")


def plan_problem(error: ValueError, labels: Mapping[str, str]) -> str:
    """Why no recruitment plan could be made, and what to change in the form."""
    if isinstance(error, RecruitmentPlanError):
        tolerance = format_number(error.tolerance_pp, 1) if error.tolerance_pp is not None else "–"
        category = str(labels.get(error.category or "", error.category or ""))
        if error.reason == "no_history":
            return _("Inga brev har skickats i tidigare rekryteringar. Ange en antagen andel som går med.")
        if error.reason == "no_joiners":
            return _("Ingen har gått med efter tidigare rekryteringsbrev. Ange en antagen andel som går med.")
        if error.reason == "no_members":
            return _("Ingen medlem tillhör en grupp (efter %(what)s) som befolkningsuppgifterna har siffror för. "
                     "Ange hur många nya medlemmar som behövs.", what=variable_name(error.variable))
        if error.reason == "cannot_recruit":
            return _("Panelen har för få i %(what)s %(category)s, och ingen där kan få brev (ingen har gått med "
                     "förut, eller alla har redan fått brev). Öka den tillåtna avvikelsen (nu %(tolerance)s "
                     "procentenheter) eller ange en antagen andel som går med.",
                     what=variable_name(error.variable), category=category, tolerance=tolerance)
        if error.reason == "cannot_recruit_outside":
            return _("Panelen har för många i %(what)s %(category)s, och ingen utanför den gruppen kan få brev. "
                     "Öka den tillåtna avvikelsen (nu %(tolerance)s procentenheter).",
                     what=variable_name(error.variable), category=category, tolerance=tolerance)
        if error.reason == "whole_invitations":
            return _("Den tillåtna avvikelsen (%(tolerance)s procentenheter) är mindre än vad ett enda brev flyttar "
                     "en andel. Öka den tillåtna avvikelsen.", tolerance=tolerance)
        if error.reason == "not_enough_residents":
            needed = format_number(error.needed, 0) if error.needed is not None else "–"
            if error.new_members is not None:
                return _("Det finns inte tillräckligt många invånare kvar att bjuda in i vissa grupper för "
                         "%(n)s nya medlemmar (det skulle behövas omkring %(needed)s som går med). Ange färre nya "
                         "medlemmar eller öka den tillåtna avvikelsen.",
                         n=format_number(error.new_members, 0), needed=needed)
            return _("Det finns inte tillräckligt många invånare kvar att bjuda in i vissa grupper (det skulle "
                     "behövas omkring %(needed)s som går med). Öka den tillåtna avvikelsen.", needed=needed)
        return _("Ingen plan håller alla grupper inom %(tolerance)s procentenheter. Öka den tillåtna avvikelsen "
                 "eller ange en antagen andel som går med.", tolerance=tolerance)
    _log(error)
    return _("Pröva en större tillåten avvikelse, eller ange en antagen andel som går med.")
