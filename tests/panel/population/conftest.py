import io
import re

import pytest

from tests.conftest import SHARED, csrf_token
from tests.factories import make_staff
from tests.panel.districts.conftest import log_in

SAMPLES = SHARED / "scb_samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(),
                                   reason=f"the shared SCB samples are not checked out beside the repo ({SAMPLES})")


@pytest.fixture
def analyst(client, session):
    user = make_staff(session, "analyst")
    session.commit()
    log_in(client, user)
    return user


def upload(client, content: bytes, filename: str = "befolkning.csv", *, name: str = "Befolkning 2020",
           period: str = "", region: str = ""):
    token = csrf_token(client, "/staff/population/")
    return client.post("/staff/population/", data={
        "csrf_token": token, "name": name, "period": period, "region": region,
        "population": (io.BytesIO(content), filename)}, content_type="multipart/form-data")


def pending_id(response) -> str:
    match = re.search(r"/staff/population/preview/([A-Za-z0-9_-]+)$", response.headers["Location"])
    assert match, response.headers.get("Location")
    return match.group(1)


def confirm(client, pending: str, *, accept: bool = False):
    """Press "Spara och använd"; ``accept`` ticks the box that saves figures that do not fit the panel."""
    token = csrf_token(client, f"/staff/population/preview/{pending}")
    data = {"csrf_token": token}
    if accept:
        data["accept"] = "y"
    return client.post(f"/staff/population/preview/{pending}", data=data)


def cells(page: str, caption: str) -> dict[str, list[str]]:
    """A table's rows by their first cell, tags stripped and spaces normalised."""
    table = re.search(rf"<caption>{re.escape(caption)}</caption>(.*?)</table>", page, re.S).group(1)
    found = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        values = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).replace("\xa0", " ").replace("\u202f", " ").strip()
                  for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        found[values[0]] = values[1:]
    return found
