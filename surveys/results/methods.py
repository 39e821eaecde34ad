"""The methods section, written automatically from a report document (Swedish and English).

Plain language for a committee reader: who was invited and how, how many answered,
how the answers were weighted and to which population figures, the design effect
and the margin of error, and, when members recruited themselves (opt-in), the
caveat that no sampling-based margin of error exists for them.

Only the document is read, so a published (frozen) version's methods text can be
written again from the stored JSON and says the same.
"""

from __future__ import annotations

import math

from surveys.results.document import Methods, ReportDocument

METHOD_NAMES = {
    "rake": ("räfsning (iterativ proportionell anpassning)", "raking (iterative proportional fitting)"),
    "poststratify": ("poststratifiering", "post-stratification"),
    "linear": ("linjär kalibrering (GREG)", "linear calibration (GREG)"),
    "truncated_linear": ("linjär kalibrering med begränsade vikter", "bounded linear calibration"),
    "logit": ("logit-kalibrering med begränsade vikter", "bounded logit calibration"),
    "raking_ratio": ("multiplikativ kalibrering", "multiplicative calibration"),
}
VARIABLE_NAMES = {"gender": ("kön", "gender"), "age_group": ("åldersgrupp", "age group"),
                  "district": ("område", "district")}
Z = 1.959963984540054


def _pct(value: float | None, lang: str) -> str:
    """One decimal, as the report pages: "42,5 %" (no-break space) in Swedish, "42.5%" in English."""
    if value is None:
        return "–"
    return _num(value * 100, lang, 1) + ("\u00a0%" if lang == "sv" else "%")


def _num(value: float | None, lang: str, digits: int = 2) -> str:
    """Swedish: no-break space between thousands, decimal comma, U+2212 minus."""
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    if lang == "sv":
        text = text.replace(",", "\u00a0").replace(".", ",").replace("-", "\u2212")
    return text


def _int(value: int, lang: str) -> str:
    text = f"{value:,d}"
    return text.replace(",", "\u00a0") if lang == "sv" else text


def _list(items: list[str], lang: str) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + (" och " if lang == "sv" else " and ") + items[-1]


def margin_of_error(effective_n: float | None, p: float = 0.5) -> float | None:
    """Half-width of a 95 % interval for a share ``p`` with ``effective_n`` respondents."""
    if effective_n is None or effective_n <= 1:
        return None
    return Z * math.sqrt(p * (1 - p) / effective_n)


def _variables(margins: tuple[str, ...], lang: str) -> str:
    index = 0 if lang == "sv" else 1
    parts = []
    for margin in margins:
        names = [VARIABLE_NAMES.get(v.strip(), (v, v))[index] for v in margin.split("×")]
        parts.append(" × ".join(names))
    return _list(parts, lang)


def _distinct(variables: tuple[str, ...], lang: str) -> str:
    """Each variable once, crosses taken apart: ("gender × age_group",) → "kön och åldersgrupp"."""
    index = 0 if lang == "sv" else 1
    names = dict.fromkeys(part.strip() for margin in variables for part in margin.split("×") if part.strip())
    return _list([VARIABLE_NAMES.get(v, (v, v))[index] for v in names], lang)


def _invited(document: ReportDocument, lang: str) -> str:
    f = document.fielding
    sv = lang == "sv"
    filt = f.target_filter or {}
    conditions = []
    if filt.get("age_min") is not None or filt.get("age_max") is not None:
        low, high = filt.get("age_min"), filt.get("age_max")
        if low is not None and high is not None:
            conditions.append(f"{low}–{high} år" if sv else f"aged {low}–{high}")
        elif low is not None:
            conditions.append(f"minst {low} år" if sv else f"aged {low} or older")
        else:
            conditions.append(f"högst {high} år" if sv else f"aged {high} or younger")
    if filt.get("genders"):
        conditions.append(("kön: " if sv else "gender: ") + ", ".join(filt["genders"]))
    if filt.get("districts"):
        conditions.append((f"{len(filt['districts'])} valda områden" if sv
                           else f"{len(filt['districts'])} selected districts"))
    if filt.get("sources"):
        names = {"open": ("självanmälda", "self-registered"), "wave": ("rekryterade med brev", "recruited by letter")}
        conditions.append(", ".join(names.get(s, (s, s))[0 if sv else 1] for s in filt["sources"]))
    where = ""
    if conditions:
        where = (" bland de aktiva medlemmar som uppfyllde villkoren (" if sv
                 else " among the active members who met the conditions (") + "; ".join(conditions) + ")"
    if f.target_mode == "sample":
        allocation = {"proportional": ("proportionell", "proportional"), "equal": ("lika stor per grupp", "equal")}
        alloc = allocation.get(f.allocation or "", (f.allocation or "", f.allocation or ""))[0 if sv else 1]
        seed = f" {f.sample_seed}" if f.sample_seed is not None else ""
        if sv:
            return (f"Enkäten skickades till ett stratifierat slumpmässigt urval av {_int(f.invited, lang)} "
                    f"panelmedlemmar{where}, med {alloc} fördelning över kön, åldersgrupp och område. "
                    f"Urvalet drogs med slumpfröet{seed}, så det kan upprepas.")
        return (f"The survey was sent to a stratified random sample of {_int(f.invited, lang)} panel members"
                f"{where}, allocated {alloc}ly over gender, age group and district. The sample was drawn with "
                f"the random seed{seed}, so it can be repeated.")
    if sv:
        return f"Enkäten skickades till alla {_int(f.invited, lang)} aktiva medlemmar i panelen{where}."
    return f"The survey was sent to all {_int(f.invited, lang)} active members of the panel{where}."


def _responses(document: ReportDocument, lang: str) -> str:
    f = document.fielding
    sv = lang == "sv"
    if f.invited == 0:
        return ("Ingen har bjudits in ännu." if sv else "Nobody has been invited yet.")
    text = (f"{_int(f.completed, lang)} av {_int(f.invited, lang)} inbjudna svarade, en svarsfrekvens på "
            f"{_pct(f.response_rate, lang)}." if sv else
            f"{_int(f.completed, lang)} of the {_int(f.invited, lang)} invited answered, a response rate of "
            f"{_pct(f.response_rate, lang)}.")
    ri = document.representativeness.r_indicator
    if ri is not None and ri.r is not None:
        by = _distinct(tuple(ri.variables), lang)  # the variables the response propensities were modelled on
        by = (f" efter {by}" if sv else f" by {by}") if by else ""
        text += (f" R-indikatorn är {_num(ri.r, lang)} (1 betyder att alla grupper svarade i samma grad; "
                 f"lägre värden betyder att svarsbenägenheten skilde sig mellan grupper{by})."
                 if sv else
                 f" The R-indicator is {_num(ri.r, lang)} (1 means every group answered at the same rate; lower "
                 f"values mean that the propensity to answer differed{by}).")
    return text


def _weighting(document: ReportDocument, lang: str) -> list[str]:
    w = document.weighting
    sv = lang == "sv"
    if w.status == "design_weighted":
        return [_design_only(w, lang)]
    if w.status != "weighted":
        reason = w.reason
        return [("Resultaten är inte viktade: " + reason) if sv else
                ("The results are not weighted. Reason (in Swedish): " + reason)]
    method = METHOD_NAMES.get(w.method or "", (w.method or "", w.method or ""))[0 if sv else 1]
    targets = w.targets
    source = ""
    if targets is not None:
        date = targets.reference_date or targets.period
        source = (f" till befolkningssiffrorna ”{targets.name}” (källa: {targets.source}"
                  f"{', tabell ' + targets.source_table_id if targets.source_table_id else ''}"
                  f"{', avser ' + date if date else ''})" if sv else
                  f" to the population figures “{targets.name}” (source: {targets.source}"
                  f"{', table ' + targets.source_table_id if targets.source_table_id else ''}"
                  f"{', reference date ' + date if date else ''})")
    out = []
    if sv:
        out.append(f"Svaren viktades med {method}{source} efter {_variables(w.variables, lang)}, så att de "
                   "viktade svaren fördelar sig som befolkningen på dessa variabler."
                   + (" Viktningen utgick från urvalets designvikter (1/sannolikheten att komma med i urvalet), "
                      "eftersom urvalet gav grupperna olika sannolikhet att komma med." if w.design_weights else ""))
    else:
        out.append(f"The answers were weighted by {method}{source} on {_variables(w.variables, lang)}, so that "
                   "the weighted answers are distributed as the population is on these variables."
                   + (" The weighting started from the sample's design weights (1/the probability of being "
                      "selected), since the sample gave the groups different probabilities of selection."
                      if w.design_weights else ""))
    if w.trim_lower is not None or w.trim_upper is not None:
        bounds = f"{_num(w.trim_lower, lang)}–{_num(w.trim_upper, lang)}"
        out.append(f"Vikterna begränsades till {bounds} gånger medelvikten." if sv
                   else f"The weights were bounded to {bounds} times the mean weight.")
    moe = margin_of_error(w.effective_n)
    if sv:
        text = (f"Vikterna varierar mellan {_num(w.weight_min, lang, 1)} och {_num(w.weight_max, lang, 1)} "
                f"invånare per svarande. Designeffekten av vikterna är {_num(w.design_effect, lang)}, vilket "
                f"motsvarar en effektiv urvalsstorlek på {_num(w.effective_n, lang, 0)} svarande.")
        if moe is not None:
            text += (f" För en andel kring 50 % i hela gruppen är felmarginalen därför ungefär ±"
                     f"{_num(moe * 100, lang, 1)} procentenheter (95\u00a0% konfidensnivå); för mindre grupper är den större.")
    else:
        text = (f"The weights range from {_num(w.weight_min, lang, 1)} to {_num(w.weight_max, lang, 1)} residents "
                f"per respondent. The design effect of the weights is {_num(w.design_effect, lang)}, an "
                f"effective sample size of {_num(w.effective_n, lang, 0)} respondents.")
        if moe is not None:
            text += (f" For a share around 50% of everyone, the margin of error is therefore about ±"
                     f"{_num(moe * 100, lang, 1)} percentage points (95% confidence); it is larger for smaller groups.")
    out.append(text)
    if w.converged is False:
        out.append("Viktningen nådde inte full överensstämmelse med befolkningssiffrorna; se varningarna."
                   if sv else "The weighting did not fully match the population figures; see the warnings.")
    return out


def _design_only(w, lang: str) -> str:
    """The weighting paragraph of a report weighted by the design weights 1/π alone."""
    moe = margin_of_error(w.effective_n)
    if lang == "sv":
        text = ("Resultaten är designviktade men inte viktade till befolkningen: urvalet drogs med lika många "
                "per grupp (kön × åldersgrupp × område), så varje svar väger som 1/sannolikheten att komma med "
                "i urvalet. Det rättar för att små grupper kom med oftare, men inte för att vissa grupper svarade "
                f"oftare än andra. Skälet till att svaren inte viktades till befolkningen: {w.reason} "
                f"Designvikterna varierar mellan {_num(w.weight_min, lang, 1)} och {_num(w.weight_max, lang, 1)} "
                f"panelmedlemmar per inbjuden. Designeffekten av vikterna är {_num(w.design_effect, lang)}, vilket "
                f"motsvarar en effektiv urvalsstorlek på {_num(w.effective_n, lang, 0)} svarande.")
        if moe is not None:
            text += (f" För en andel kring 50 % i hela gruppen är felmarginalen därför ungefär ±"
                     f"{_num(moe * 100, lang, 1)} procentenheter (95\u00a0% konfidensnivå); för mindre grupper är den större.")
        return text
    text = ("The results are design-weighted but not weighted to the population: the sample took equal numbers "
            "per group (gender × age group × district), so each answer counts as 1/the probability of being "
            "selected. This corrects for small groups being selected more often, but not for some groups "
            f"answering more often than others. Why the answers were not weighted to the population (in Swedish): "
            f"{w.reason} The design weights range from {_num(w.weight_min, lang, 1)} to {_num(w.weight_max, lang, 1)} "
            f"panel members per invited member. The design effect of the weights is {_num(w.design_effect, lang)}, "
            f"an effective sample size of {_num(w.effective_n, lang, 0)} respondents.")
    if moe is not None:
        text += (f" For a share around 50% of everyone, the margin of error is therefore about ±"
                 f"{_num(moe * 100, lang, 1)} percentage points (95% confidence); it is larger for smaller groups.")
    return text


def _caveat(document: ReportDocument, lang: str) -> str | None:
    f = document.fielding
    sv = lang == "sv"
    if f.share_self_recruited is None and f.self_recruited == 0:
        return None
    if f.self_recruited == 0:
        return ("Alla som svarade hade rekryterats genom ett slumpmässigt urval ur befolkningsregistret."
                if sv else "Everyone who answered had been recruited through a random sample from the population register.")
    share = _pct(f.share_self_recruited, lang)
    weighted = document.weighting.status == "weighted"
    design_only = document.weighting.status == "design_weighted"
    by = _distinct(document.weighting.variables, lang) if weighted else ""
    if sv:
        assumption = ("beskriver bara hur mycket den viktade skattningen varierar under antagandet att "
                      "viktningsmodellen är riktig" + (f", det vill säga att de som svarade liknar andra invånare "
                                                       f"med samma {by}." if by else ".") if weighted else
                      "beskriver bara hur mycket skattningen varierar under antagandet att de som svarade liknar "
                      "andra panelmedlemmar i samma grupp, eftersom svaren bara är designviktade." if design_only else
                      "beskriver bara hur mycket skattningen varierar under antagandet att de som svarade liknar "
                      "invånarna i stort, eftersom svaren inte är viktade.")
        return (f"{share} av de svarande har själva anmält sig till panelen (självrekrytering). För dem finns "
                f"ingen slumpmässig urvalsprocess, och därför ingen urvalsbaserad felmarginal: konfidensintervallen "
                f"{assumption} Om de skiljer sig på andra sätt kan resultaten vara snedvridna utan att intervallen "
                "visar det.")
    assumption = ("describe only the variation of the weighted estimate under the model" +
                  (f", assuming that those who answered resemble other residents of the same {by}." if by else ".")
                  if weighted else
                  "describe only the variation of the estimate assuming that those who answered resemble other "
                  "panel members of the same group, since the answers are design-weighted only." if design_only else
                  "describe only the variation of the estimate assuming that those who answered resemble the "
                  "residents at large, since the answers are not weighted.")
    return (f"{share} of the respondents joined the panel on their own (self-recruited, opt-in). There is no "
            f"random selection for them, and so no sampling-based margin of error: the confidence intervals "
            f"{assumption} If they differ in other ways, the results may be biased without the intervals showing it.")


def _estimates(document: ReportDocument, lang: str) -> str:
    if lang == "sv":
        return ("Andelar redovisas med 95\u00a0% konfidensintervall (logit-metoden; för andelar på 0 eller 100\u00a0% "
                "Korn och Graubards Clopper–Pearson-intervall med vikternas effektiva urvalsstorlek) och medelvärden "
                "med normalapproximation, avkortade vid svarsskalans gränser. Standardfelen tar hänsyn till viktningen (linjärisering, samma metod som R:s "
                "paket survey). Designeffekten per skattning jämför variansen med ett obundet slumpmässigt urval "
                "av samma storlek. Svaret ”vet ej” räknas inte in i medelvärden utan redovisas för sig.")
    return ("Shares are shown with 95% confidence intervals (logit method; for shares of 0 or 100%, Korn and "
            "Graubard's Clopper–Pearson interval with the effective sample size of the weights) and means with the "
            "normal approximation, cut at the ends of the answer scale. Standard errors take the weighting into account (linearization, the same method as "
            "R's survey package). The design effect of each estimate compares its variance with a simple random "
            "sample of the same size. “Don't know” answers are left out of means and shown separately.")


def _privacy(document: ReportDocument, lang: str) -> str:
    if document.survey.anonymous:
        return ("Enkäten var anonym: svaren sparas utan koppling till den som svarade, bara med kön, åldersgrupp "
                "och område." if lang == "sv" else
                "The survey was anonymous: answers are stored without a link to the respondent, only with gender, "
                "age group and district.")
    return ("Enkäten var inte anonym: svaren är kopplade till den inbjudan de kom från." if lang == "sv" else
            "The survey was not anonymous: answers are linked to their invitation.")


def write_methods(document: ReportDocument) -> Methods:
    """The methods section of ``document`` in Swedish and English (a list of paragraphs each)."""
    paragraphs: dict[str, list[str]] = {}
    for lang in ("sv", "en"):
        items = [_invited(document, lang), _responses(document, lang)]
        items += _weighting(document, lang)
        caveat = _caveat(document, lang)
        if caveat:
            items.append(caveat)
        items.append(_estimates(document, lang))
        items.append(_privacy(document, lang))
        paragraphs[lang] = items
    return Methods(paragraphs)
