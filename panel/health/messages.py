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
from collections.abc import Callable, Iterable, Mapping

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


def _quoted_categories(variable: str, categories: Iterable[object],
                       category_label: Callable[[str, str], str] | None, limit: int = 5) -> str:
    values = [str(c) for c in categories]
    shown = [f"”{category_label(variable, v) if category_label else v}”" for v in values[:limit]]
    return ", ".join(shown) + (" …" if len(values) > limit else "")


def r_indicator_note(code: str, params: Mapping[str, object], *, joined: bool = False,
                     name_of: Callable[[str], str] = variable_name,
                     category_label: Callable[[str, str], str] | None = None) -> str:
    """A note of :func:`analysis.rindicator.r_indicator` (its ``code`` and ``params``, see
    :class:`analysis.rindicator.RIndicatorNote`) in the page's language, with variables and
    categories as the page names them (``name_of``, ``category_label``). ``joined``: the
    response modelled is joining the panel after a recruitment letter, not answering a survey.
    ``"technical"`` (``message``) is a warning of the libraries the computation uses, shown
    with a lead-in; an unknown code is shown the same way with ``params["message"]``."""
    variable = str(params.get("variable") or "")
    if code in ("no_respondents", "only_respondents"):
        values = {"variable": name_of(variable),
                  "categories": _quoted_categories(variable, params.get("categories") or (), category_label)}
        if code == "no_respondents":
            text = (_("Ingen av de inbjudna med %(variable)s %(categories)s gick med.", **values) if joined else
                    _("Ingen av de inbjudna med %(variable)s %(categories)s svarade.", **values))
            return text + " " + _("Modellens sannolikhet där är 0, så medelfelet är osäkert; slå gärna ihop små "
                                  "grupper.")
        text = (_("Alla inbjudna med %(variable)s %(categories)s gick med.", **values) if joined else
                _("Alla inbjudna med %(variable)s %(categories)s svarade.", **values))
        return text + " " + _("Modellens sannolikhet där är 1, så medelfelet är osäkert; slå gärna ihop små grupper.")
    if code == "dependent_dummies":
        return _("Modellens grupper beror av varandra (en grupp bestäms av de andra). Sannolikheterna är ändå "
                 "entydiga; osäkerheten räknas med en pseudoinvers.")
    if code == "equal_propensities":
        return _("Alla grupper har samma skattade sannolikhet, så R-indikatorns medelfel kan inte räknas med "
                 "linjärisering (det kräver bootstrap).")
    if code == "not_converged":
        return _("Modellen för sannolikheterna blev inte klar på %(n)s varv, så R-indikatorn är osäker.",
                 n=params.get("iterations", ""))
    if code == "bootstrap_not_converged":
        return _("%(count)s av %(replicates)s omräkningar (bootstrap) av modellen blev inte klara på %(n)s varv.",
                 count=params.get("count", ""), replicates=params.get("replicates", ""),
                 n=params.get("iterations", ""))
    return _("Teknisk varning från beräkningen: %(message)s", message=params.get("message", ""))


def r_indicator_notes(notes: Iterable[object], caught: Iterable[object] = (), **kwargs: object) -> list[str]:
    """The notes of an R-indicator and the warnings ``caught`` while computing it
    (``warnings.catch_warnings(record=True)``), each once, in the page's language
    (keywords as :func:`r_indicator_note`)."""
    found: dict[tuple[str, str], Mapping[str, object]] = {}
    for note in (*notes, *(getattr(w, "message", w) for w in caught)):
        note = getattr(note, "note", note)  # an RIndicatorWarning holds its note
        code = getattr(note, "code", "") or "technical"
        params = dict(getattr(note, "params", None) or {}) if code != "technical" else {}
        found.setdefault((code, str(note)), {"message": str(note), **params})
    return list(dict.fromkeys(r_indicator_note(code, params, **kwargs)  # type: ignore[arg-type]
                              for (code, _text), params in found.items()))


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
