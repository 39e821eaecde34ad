"""The code from a recruitment letter typed with Arabic-Indic or full-width digits is found."""

from __future__ import annotations

import pytest

from panel.recruitment.services import format_code, normalise_code
from tests.conftest import csrf_token
from tests.panel.recruitment.helpers import make_wave

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def test_normalise_code_reads_digits_of_any_script():
    assert normalise_code("4NCRDMP٩") == "4NCRDMP9"
    assert normalise_code("acde-３４７９") == "ACDE3479"


@pytest.mark.parametrize("digits", [ARABIC_INDIC, FULL_WIDTH], ids=["arabic-indic", "full-width"])
def test_the_arabic_code_page_finds_a_code_typed_with_other_digits(client, app, session, districts, digits):
    wave = make_wave(app, session)
    invite = next(i for i in wave.invites if any(ch.isdigit() for ch in i.code))
    client.get("/join?lang=ar")
    response = client.post("/join", data={"csrf_token": csrf_token(client, "/join"),
                                          "code": format_code(invite.code).translate(digits)})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/join/details")
