"""The analyst's export page: downloads in every format, weights, no identity, the log, roles."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter

import pytest
import pyreadstat
from openpyxl import load_workbook
from sqlalchemy import select

from panel.models import AuditEvent, Member
from surveys.answering.models import SurveyResponse
from surveys.exports import services
from surveys.fielding.models import Invitation
from surveys.results import services as results
from tests.factories import make_staff
from tests.surveys.answering.builders import BIBLIOTEKEN, PRIORITERINGAR, VARDAG, invite, start, submit
from tests.surveys.answering.builders import make_survey as make_example_survey
from tests.surveys.conftest import log_in
from tests.surveys.exports.builders import make_population, make_survey


def token_of(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def download(client, survey_id: int, **choices):
    page = client.get(f"/staff/surveys/{survey_id}/export")
    assert page.status_code == 200, page.get_data(as_text=True)
    data = {"csrf_token": token_of(page.get_data(as_text=True)), "format": "csv", "separator": "semicolon",
            "values": "codes", "language": "sv", **choices}
    return client.post(f"/staff/surveys/{survey_id}/export", data=data)


def csv_rows(content: bytes, separator: str = ";") -> list[dict[str, str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(content[3:].decode("utf-8"), newline=""), delimiter=separator))


def exports_logged(session) -> list[AuditEvent]:
    session.expire_all()
    return session.scalars(select(AuditEvent).where(AuditEvent.action == services.EXPORT_ACTION)
                           .order_by(AuditEvent.id)).all()


@pytest.fixture
def weighted_survey(session):
    survey = make_survey(session, responses=160, seed=11)
    make_population(session)
    session.commit()
    return survey


def test_csv_download_carries_the_reports_weights_row_by_row(analyst, session, weighted_survey):
    response = download(analyst, weighted_survey.id)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Content-Disposition"].endswith('.csv"') or ".csv" in response.headers["Content-Disposition"]
    rows = csv_rows(response.data)

    stored = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == weighted_survey.id)).all()
    assert len(rows) == len(stored) > 100
    # The report's own weighting of its own frame: the same weight for every respondent of a cell.
    frame = results.response_frame(session, weighted_survey)
    weighting = results.weight_responses(session, weighted_survey, frame=frame)
    assert weighting.result is not None
    expected: dict[tuple, float] = {}
    for (gender, band, district), weight in zip(frame.data[["gender", "age_group", "district"]].itertuples(index=False),
                                                weighting.result.weights, strict=True):
        key = (gender, band or "-", district)
        assert expected.setdefault(key, weight) == pytest.approx(weight)
    exported = [float(row["vikt"].replace(",", ".")) for row in rows]
    for row, weight in zip(rows, exported, strict=True):
        assert weight == pytest.approx(expected[(row["kon"], row["aldersgrupp"], row["omrade"])], rel=1e-12)
    assert sorted(exported) == pytest.approx(sorted(weighting.result.weights.tolist()), rel=1e-12)
    assert sum(exported) == pytest.approx(float(weighting.result.weights.sum()))

    # The answers: every stored response appears once with its coded answers.
    def signature(gender, band, district, answers):
        return (gender, band, district, {"yes": "1", "no": "0", None: "-1"}[answers.get("trygg")],
                str(answers["nojd"]["parker"]), str(answers["antal"]))
    assert Counter(signature(r.gender, r.age_group, r.district_code, r.answers) for r in stored) == Counter(
        (row["kon"], row["aldersgrupp"], row["omrade"], row["trygg"], row["nojd_parker"], row["antal"]) for row in rows)
    assert {row["omrade_namn"] for row in rows} <= {"Visby", "Slite", "Hemse"}


def test_every_export_is_logged_without_data_and_a_get_logs_nothing(analyst, session, weighted_survey):
    analyst.get(f"/staff/surveys/{weighted_survey.id}/export")
    analyst.get(f"/staff/surveys/{weighted_survey.id}/export/codebook")
    assert exports_logged(session) == []
    responses = session.scalar(select(SurveyResponse.id).where(SurveyResponse.survey_id == weighted_survey.id).limit(1))
    assert responses is not None
    for choice in ("csv", "xlsx", "sav", "codebook"):
        assert download(analyst, weighted_survey.id, format=choice).status_code == 200
    events = exports_logged(session)
    assert [e.detail["format"] for e in events] == ["csv", "xlsx", "sav", "codebook"]
    count = services.response_count(session, weighted_survey)
    for event in events:
        assert event.actor_id == analyst.user.id and event.actor_email == analyst.user.email
        assert event.target_type == "survey" and event.target_id == str(weighted_survey.id)
        assert event.detail["rows"] == count and event.detail["weighted"] is True
        assert event.at is not None
        # no data: only the choices and the count
        assert set(event.detail) <= {"format", "rows", "weighted", "separator", "values", "language"}


def test_xlsx_download_opens_with_both_sheets_and_the_weights(analyst, session, weighted_survey, tmp_path):
    response = download(analyst, weighted_survey.id, format="xlsx", values="labels")
    assert response.status_code == 200
    path = tmp_path / "svar.xlsx"
    path.write_bytes(response.data)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Data", "Kodbok"]
    rows = list(workbook["Data"].iter_rows(values_only=True))
    header = rows[0]
    assert "vikt" in header and "transport_annat_text" in header and "prio_skola" in header
    assert {row[header.index("transport")] for row in rows[1:]} <= {"Bil", "Buss", "Cykel", "Annat, nämligen"}
    codebook = [row[0] for row in workbook["Kodbok"].iter_rows(values_only=True) if row and row[0]]
    assert any(str(cell).startswith("Viktat till marginalerna") for cell in codebook)


def test_sav_download_reads_back_with_labels(analyst, session, weighted_survey, tmp_path):
    response = download(analyst, weighted_survey.id, format="sav", language="en")
    assert response.status_code == 200
    path = tmp_path / "svar.sav"
    path.write_bytes(response.data)
    frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    assert meta.column_names_to_labels["transport"] == "How do you travel?"
    assert meta.variable_value_labels["transport"][2] == "Bus"
    assert meta.variable_value_labels["betyg"][99] == "Don't know"
    # the file's own labels are English too, not only the survey's texts
    assert meta.column_names_to_labels["aldersgrupp"] == "Age group (in the year the invitation was sent)"
    labels = {label for values in meta.variable_value_labels.values() for label in values.values()}
    assert {"Not selected", "Selected", "Not answered"} <= labels and not {"Valt", "Ej valt", "Ej besvarad"} & labels
    assert response.headers["Content-Type"] == "application/x-spss-sav"
    assert meta.missing_ranges["betyg"][0] == {"lo": 99.0, "hi": 99.0}
    assert meta.variable_measure["vikt"] == "scale"
    assert len(frame) == services.response_count(session, weighted_survey)
    assert (frame["vikt"] > 0).all()


def test_an_unweighted_survey_says_why_and_has_no_weight_column(analyst, session):
    survey = make_survey(session, responses=20, seed=3)  # no population figures
    session.commit()
    page = analyst.get(f"/staff/surveys/{survey.id}/export").get_data(as_text=True)
    assert "Ovägd export" in page and "inga befolkningssiffror" in page
    rows = csv_rows(download(analyst, survey.id).data)
    assert rows and "vikt" not in rows[0]
    assert exports_logged(session)[-1].detail["weighted"] is False
    codebook = csv_rows(download(analyst, survey.id, format="codebook", separator="comma").data, ",")
    assert codebook  # a codebook with the notes


def test_a_survey_without_responses_gives_header_only_files(analyst, session, tmp_path):
    survey = make_survey(session, responses=0)
    make_population(session)
    session.commit()
    page = analyst.get(f"/staff/surveys/{survey.id}/export")
    assert page.status_code == 200 and "inga svar ännu" in page.get_data(as_text=True)
    response = download(analyst, survey.id)
    assert response.status_code == 200
    text = response.data[3:].decode("utf-8")
    assert text.startswith("lopnr;kon;aldersgrupp") and text.count("\r\n") == 1
    for choice in ("xlsx", "sav", "codebook"):
        assert download(analyst, survey.id, format=choice).status_code == 200
    assert [e.detail["rows"] for e in exports_logged(session)] == [0, 0, 0, 0]


def test_formula_payloads_are_neutralised_in_the_downloads(analyst, session, tmp_path):
    survey = make_survey(session, responses=12, seed=5)
    responses = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id)).all()
    payloads = ["=HYPERLINK(\"http://x.example\")", "+cmd", "-1+1", "@SUM(A1)"]
    for response, payload in zip(responses, payloads, strict=False):
        response.answers = {**response.answers, "synpunkt": payload, "transport": "other", "transport-other": payload}
    session.commit()
    rows = csv_rows(download(analyst, survey.id, separator="comma").data, ",")
    texts = [row["synpunkt"] for row in rows] + [row["transport_annat_text"] for row in rows]
    for payload in payloads:
        assert texts.count("'" + payload) == 2 and payload not in texts
    path = tmp_path / "svar.xlsx"
    path.write_bytes(download(analyst, survey.id, format="xlsx").data)
    for sheet in load_workbook(path).worksheets:
        for row in sheet.iter_rows():
            assert all(cell.data_type != "f" for cell in row)


def test_identified_survey_exports_carry_no_identity(app, analyst, client, session, tmp_path):
    """A resident answers an identified survey through the real pages; no trace of who in any file."""
    survey = make_example_survey(session, anonymous=False)
    invitation, token = invite(session, survey)
    member = session.get(Member, invitation.member_id)
    session.commit()
    resident = app.test_client()
    first = start(resident, token)
    assert submit(resident, first, VARDAG).status_code == 302
    assert submit(resident, "/s/answer/biblioteken", BIBLIOTEKEN).status_code == 302
    assert submit(resident, "/s/answer/prioriteringar", PRIORITERINGAR).headers["Location"] == "/s/thanks"
    stored = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id)).one()
    assert stored.member_id == member.id and stored.invitation_id == invitation.id  # identified indeed
    invitation_row = session.get(Invitation, invitation.id)

    forbidden = [member.email, member.email.split("@")[0], token, invitation_row.token_digest, str(stored.id),
                 stored.id.hex]
    for choice in ("csv", "xlsx", "sav", "codebook"):
        response = download(analyst, survey.id, format=choice)
        assert response.status_code == 200
        if choice == "xlsx":
            with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
                blobs = [archive.read(name) for name in archive.namelist()]
        else:
            blobs = [response.data]
        for blob in blobs:
            for secret in forbidden:
                assert secret.encode() not in blob, (choice, secret)
    rows = csv_rows(download(analyst, survey.id).data)
    assert len(rows) == 1
    assert rows[0]["buss_forbattring"] == "Fler turer på kvällen"  # the answers themselves are there
    # no column could hold an id: the row number is 1, and no variable is named after one
    assert rows[0]["lopnr"] == "1"
    assert not [name for name in rows[0] if re.search(r"mail|member|medlem|invit|token|^namn|^id$|_id$", name)]


def test_bad_choices_are_refused_with_a_swedish_message_and_nothing_logged(analyst, session, weighted_survey):
    response = download(analyst, weighted_survey.id, format="exe")
    assert response.status_code == 400
    assert "Välj ett av alternativen." in response.get_data(as_text=True)
    assert download(analyst, weighted_survey.id, language="xx").status_code == 400
    assert exports_logged(session) == []


def test_without_csrf_token_nothing_is_exported(analyst, session, weighted_survey):
    response = analyst.post(f"/staff/surveys/{weighted_survey.id}/export", data={"format": "csv"})
    assert response.status_code == 400
    assert exports_logged(session) == []


def test_unknown_survey_is_404(analyst):
    assert analyst.get("/staff/surveys/999999/export").status_code == 404
    assert analyst.get("/staff/surveys/999999/export/codebook").status_code == 404


def test_committee_members_get_403_and_anonymous_visitors_the_login(client, session, weighted_survey):
    survey_id = weighted_survey.id
    for path in (f"/staff/surveys/{survey_id}/export", f"/staff/surveys/{survey_id}/export/codebook"):
        anonymous = client.get(path)
        assert anonymous.status_code == 302 and "/staff/login" in anonymous.headers["Location"]
    assert client.post(f"/staff/surveys/{survey_id}/export", data={"format": "csv"}).status_code in (302, 400)
    committee = make_staff(session, role="committee")
    session.commit()
    log_in(client, committee.email)
    for path in (f"/staff/surveys/{survey_id}/export", f"/staff/surveys/{survey_id}/export/codebook"):
        assert client.get(path).status_code == 403
    token = token_of(client.get("/staff/").get_data(as_text=True))  # the logout form's
    refused = client.post(f"/staff/surveys/{survey_id}/export",
                          data={"csrf_token": token, "format": "csv", "separator": "semicolon", "values": "codes",
                                "language": "sv"})
    assert refused.status_code == 403 and not refused.data.startswith(b"\xef\xbb\xbf")
    assert exports_logged(session) == []


def test_codebook_page_lists_the_variables_in_a_table(analyst, weighted_survey):
    page = analyst.get(f"/staff/surveys/{weighted_survey.id}/export/codebook")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<caption" in html and 'scope="col"' in html and 'scope="row"' in html
    for name in ("lopnr", "vikt", "transport", "transport_annat_text", "prio_skola", "nojd_parker", "synpunkt"):
        assert f"<code>{name}</code>" in html
    assert "1 = Bil; 2 = Buss; 3 = Cykel; 4 = Annat, nämligen" in html


def test_the_survey_page_links_to_the_export_page(analyst, weighted_survey):
    page = analyst.get(f"/staff/surveys/{weighted_survey.id}").get_data(as_text=True)
    assert f"/staff/surveys/{weighted_survey.id}/export" in page
    # and every page with the survey's sub-navigation (fielding, report, publication, export)
    own = analyst.get(f"/staff/surveys/{weighted_survey.id}/export").get_data(as_text=True)
    assert f'href="/staff/surveys/{weighted_survey.id}/export" aria-current="page"' in own
    assert f'href="/staff/surveys/{weighted_survey.id}/report"' in own


def test_an_xlsx_too_large_for_a_request_is_refused_with_advice_and_not_logged(analyst, session, monkeypatch):
    survey = make_survey(session, responses=30, seed=8)
    session.commit()
    monkeypatch.setattr(services, "XLSX_MAX_CELLS", 30 * 10)  # the survey has more variables than 10
    response = download(analyst, survey.id, format="xlsx")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "för många svar för en Excel-fil" in page and "Välj CSV" in page
    assert exports_logged(session) == []
    assert download(analyst, survey.id, format="csv").status_code == 200  # CSV has no limit
