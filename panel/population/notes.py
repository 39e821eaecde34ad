"""The population importer's notes (``analysis.targets``, in English) in the reader's words.

The importer says how it read a file ("summed over civilstånd (4 categories: …)"). The
notes an SCB export gives rise to are recognised here and said in the page's language; any
other note is shown as it is: the panel's own notes are stored beside the importer's and
are already Swedish, and a file's own texts are in whatever language the file has.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _
from flask_babel import ngettext

_DIMENSIONS = {"gender": "kön", "age": "ålder", "age_group": "åldersgrupp", "region": "region",
               "district": "område", "period": "period"}


def _dimension(name: str) -> str:
    return _(_DIMENSIONS[name]) if name in _DIMENSIONS else name


def _grouped(what: str) -> str:
    """What the importer grouped into the panel's bands."""
    return {"single years of age": _("ettårsklasserna"), "the age groups": _("filens åldersgrupper")}.get(what, what)


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"summed over (?P<dim>.+?) \((?P<n>\d+) categor(?:y|ies): (?P<values>.*)\)"),
     lambda m: ngettext("summerat över %(dim)s (%(num)s kategori: %(values)s)",
                        "summerat över %(dim)s (%(num)s kategorier: %(values)s)", int(m["n"]),
                        dim=_dimension(m["dim"]), values=m["values"])),
    (re.compile(r"(?P<dim>.+?): the file has only its total, so the figures are for all categories together"),
     lambda m: _("%(dim)s: filen har bara totalen, så siffrorna gäller alla kategorier tillsammans",
                 dim=_dimension(m["dim"]))),
    (re.compile(r"the file holds SCB's totals as well as the detailed cells: used the detailed cells and checked "
                r"the totals against their sums \(see totals\)"),
     lambda m: _("filen har SCB:s totaler och de detaljerade cellerna: de detaljerade cellerna används, och "
                 "totalerna jämfördes med deras summor (se skillnaderna ovan)")),
    (re.compile(r"used table contents (?P<chosen>.+?); left out (?P<others>.+)"),
     lambda m: _("tabellinnehållet %(chosen)s används; %(others)s lämnades bort", chosen=m["chosen"],
                 others=m["others"])),
    (re.compile(r"regions \((?P<level>.+?)\) used as the districts"),
     lambda m: _("regionerna (%(level)s) används som panelens områden", level=m["level"])),
    (re.compile(r"aggregated (?P<n>\d+) regions \((?P<level>.+?)\) into (?P<m>\d+) districts"),
     lambda m: _("%(n)s regioner (%(level)s) summerades till %(m)s områden", n=m["n"], level=m["level"], m=m["m"])),
    (re.compile(r"grouped (?P<what>.+?) into the bands (?P<bands>.+?); left out (?P<n>\d+) persons in no band "
                r"\(ages (?P<ages>.+)\)"),
     lambda m: _("%(what)s delades in i åldersgrupperna %(bands)s; %(n)s personer i åldrar utanför grupperna "
                 "(%(ages)s) räknas inte", what=_grouped(m["what"]), bands=m["bands"], n=m["n"], ages=m["ages"])),
    (re.compile(r"grouped (?P<what>.+?) into the bands (?P<bands>.+)"),
     lambda m: _("%(what)s delades in i åldersgrupperna %(bands)s", what=_grouped(m["what"]), bands=m["bands"])),
    (re.compile(r"the file has regions at several levels \((?P<levels>.+?)\): used the (?P<kept>\d+) at level "
                r"(?P<level>\S+?)(?:; (?P<coarse>\d+) coarser regions were checked against them and set aside)?"
                r"(?:; left out (?P<fine>\d+) finer regions)?"),
     lambda m: " ".join(filter(None, (
         _("Filen har regioner på flera nivåer (%(levels)s): de %(kept)s på nivån %(level)s används.",
           levels=m["levels"], kept=m["kept"], level=m["level"]),
         _("%(n)s större regioner jämfördes med dem och lades åt sidan.", n=m["coarse"]) if m["coarse"] else "",
         _("%(n)s mindre regioner lämnades bort.", n=m["fine"]) if m["fine"] else "")))),
]


def importer_note(note: str) -> str:
    """The note in the page's language when it is one the importer is known to write, else
    the note itself."""
    text = str(note)
    for pattern, say in _RULES:
        match = pattern.fullmatch(text)
        if match:
            return say(match)
    return text
