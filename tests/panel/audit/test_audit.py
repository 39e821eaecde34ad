"""The audit log: staff actions are recorded, the log cannot be changed, admins can read it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DatabaseError

from panel import audit
from panel.models import AuditEvent, StaffUser
from tests.conftest import csrf_token
from tests.factories import PASSWORD, make_staff


def login(client, email, password=PASSWORD):
    token = csrf_token(client, "/staff/login")
    return client.post("/staff/login", data={"email": email, "password": password, "csrf_token": token})


def actions(session):
    session.expire_all()
    return [(e.action, e.actor_email) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_login_failure_login_and_logout_are_logged(client, session):
    user = make_staff(session, "analyst")
    session.commit()
    login(client, user.email, "wrong password!!")
    login(client, "nobody@kommun.test", "wrong password!!")
    assert login(client, user.email).status_code == 302
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert actions(session) == [
        ("auth.login_failed", user.email),
        ("auth.login_failed", None),  # an address with no account is not kept in the log
        ("auth.login", user.email),
        ("auth.logout", user.email),
    ]
    login_event = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login")).one()
    assert login_event.actor_id == user.id
    assert login_event.target_type == "staff_user" and login_event.target_id == str(user.id)
    assert login_event.remote_addr == "127.0.0.1"


def test_throttled_login_is_logged(client, session, app):
    app.config["PANEL_LOGIN_MAX_FAILURES"] = 2
    user = make_staff(session)
    session.commit()
    for _ in range(3):
        login(client, user.email, "wrong password!!")
    assert [a for a, _ in actions(session)] == ["auth.login_failed", "auth.login_failed", "auth.login_throttled"]


def test_logout_ends_a_copied_session_cookie(client, app, session):
    user = make_staff(session, "analyst")
    session.commit()
    login(client, user.email)
    stolen = client.get_cookie("session").value
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    other = app.test_client()
    other.set_cookie("session", stolen, domain="localhost")
    assert other.get("/staff/").status_code == 302  # to the login page: the old session is dead


def test_account_creation_and_role_change_are_logged(client, session):
    admin = make_staff(session, "admin")
    session.commit()
    login(client, admin.email)
    token = csrf_token(client, "/staff/users")
    response = client.post("/staff/users", data={"name": "Ny Analytiker", "email": "ny@example.se",
                                                 "role": "analyst", "password": "a long password 1",
                                                 "csrf_token": token})
    assert response.status_code == 302
    created = session.scalars(select(StaffUser).where(StaffUser.email == "ny@example.se")).one()
    client.post(f"/staff/users/{created.id}/role", data={"role": "committee", "csrf_token": token})
    client.post(f"/staff/users/{created.id}/role", data={"role": "committee", "csrf_token": token})  # no change
    session.expire_all()
    rows = session.scalars(select(AuditEvent).where(AuditEvent.action.like("staff.%")).order_by(AuditEvent.id)).all()
    assert [(r.action, r.actor_email, r.target_id, r.detail) for r in rows] == [
        ("staff.create", admin.email, str(created.id), {"role": "analyst"}),
        ("staff.role_change", admin.email, str(created.id), {"from": "analyst", "to": "committee"}),
    ]
    assert "a long password" not in str([r.detail for r in rows])


def test_staff_create_command_is_logged(runner, session):
    result = runner.invoke(args=["staff", "create", "--email", "chef@kommun.test", "--name", "Chef",
                                 "--role", "admin", "--password", "a long password 1"])
    assert result.exit_code == 0, result.output
    assert actions(session) == [("staff.create", None)]
    event = session.scalars(select(AuditEvent)).one()
    assert event.detail == {"role": "admin", "via": "command line"}


def test_audit_rows_cannot_be_updated_or_deleted(app, session):
    admin = make_staff(session, "admin")
    audit.record(session, actor=admin, action="test.action", detail={"n": 1})
    session.commit()
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(update(AuditEvent).values(action="forged"))
        session.flush()
    session.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(delete(AuditEvent))
    session.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text("UPDATE audit_event SET actor_email = 'someone@else'"))
    session.rollback()
    assert session.scalars(select(AuditEvent.action)).all() == ["test.action"]


def test_a_table_created_by_alembic_gets_the_guard_too(tmp_path):
    """Migrations create tables with op.create_table (a Table of Alembic's own), which fires
    the same DDL events as create_all, so a migrated database is guarded as well."""
    import sqlalchemy as sa
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'alembic.sqlite'}")
    with engine.begin() as conn:
        op = Operations(MigrationContext.configure(conn))
        op.create_table("audit_event", sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("action", sa.String(64)))
        conn.execute(text("INSERT INTO audit_event (action) VALUES ('x')"))
    with engine.begin() as conn, pytest.raises(DatabaseError, match="append-only"):
        conn.execute(text("DELETE FROM audit_event"))
    engine.dispose()


def test_record_target_and_detail_kinds(app, session):
    admin = make_staff(session, "admin")
    when = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)
    audit.record(session, actor=admin, action="export.download", target=("survey", 7),
                 detail={"format": "xlsx", "rows": 12, "at": when, "columns": ("a", "b")}, remote_addr="10.0.0.1")
    session.commit()
    event = session.scalars(select(AuditEvent)).one()
    assert (event.target_type, event.target_id) == ("survey", "7")
    assert event.detail == {"format": "xlsx", "rows": 12, "at": "2026-01-02T03:04:00+00:00", "columns": ["a", "b"]}
    with pytest.raises(ValueError):
        audit.record(session, actor=admin, action="")
    with pytest.raises(TypeError):
        audit.record(session, actor=admin, action="x", target=object())


def _seed_log(session, admin):
    base = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    for i in range(120):
        session.add(AuditEvent(at=base + timedelta(days=i // 10), actor_id=admin.id, actor_email=admin.email,
                               action="auth.login" if i % 2 else "export.download", target_type="survey",
                               target_id=str(i)))
    session.commit()


def test_audit_page_is_admin_only(client, session):
    analyst = make_staff(session, "analyst")
    session.commit()
    assert client.get("/staff/audit").status_code == 302  # to the login page
    login(client, analyst.email)
    assert client.get("/staff/audit").status_code == 403


def test_audit_page_filters_and_pages(client, session):
    admin = make_staff(session, "admin")
    session.commit()
    _seed_log(session, admin)
    login(client, admin.email)
    page = client.get("/staff/audit").get_data(as_text=True)
    assert "Granskningslogg" in page
    assert "sida 1 av 3" in page  # 121 events (with this login), 50 a page
    filtered = client.get("/staff/audit?action=export.download&since=2026-03-02&until=2026-03-03")
    assert filtered.status_code == 200
    body = filtered.get_data(as_text=True)
    # days 2 and 3 of March hold events 10..29; the even ones are exports
    assert "(10 st, sida 1 av 1)" in body
    assert body.count("<td>export.download</td>") == 10
    assert "<td>auth.login</td>" not in body
    last = client.get("/staff/audit?page=3").get_data(as_text=True)
    assert "sida 3 av 3" in last and "Nyare" in last and "Äldre" not in last
    assert client.get("/staff/audit?page=999").status_code == 200  # clamped to the last page
    bad = client.get("/staff/audit?since=not-a-date&action=unknown")
    assert bad.status_code == 400
    assert "Det finns fel i formuläret" in bad.get_data(as_text=True)


def test_audit_page_has_no_edit_or_delete_routes(app):
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule


def test_population_import_is_logged(client, session):
    from panel.demo_seed import SCB_EXPORT
    from tests.panel.population.conftest import confirm, pending_id, upload

    analyst = make_staff(session, "analyst")
    session.commit()
    login(client, analyst.email)
    response = upload(client, SCB_EXPORT.read_bytes(), SCB_EXPORT.name, name="Gotland 2020")
    assert confirm(client, pending_id(response)).status_code == 302
    session.expire_all()
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "population.import")).one()
    assert (event.actor_id, event.target_type, event.detail) == (analyst.id, "population_dataset",
                                                                  {"name": "Gotland 2020"})


def test_publishing_and_adding_a_decision_are_logged(client, session):
    from tests.surveys.publication.conftest import field_survey

    fielded = field_survey(session, [{"park": "ja", "visits": 3, "comment": None}] * 12
                           + [{"park": "nej", "visits": 1, "comment": None}] * 8)
    analyst = make_staff(session, "analyst")
    session.commit()
    login(client, analyst.email)
    path = f"/staff/surveys/{fielded.survey.id}/publication"
    assert client.post(path + "/publish", data={"csrf_token": csrf_token(client, path), "version": "1"}).status_code == 302
    assert client.post(path + "/decision", data={"csrf_token": csrf_token(client, path),
                                                 "text": "Parken byggs."}).status_code == 302
    session.expire_all()
    rows = session.scalars(select(AuditEvent).where(AuditEvent.action.like("publication.%"))
                           .order_by(AuditEvent.id)).all()
    assert [(r.action, r.actor_id, r.target_type, r.target_id) for r in rows] == [
        ("publication.publish", analyst.id, "survey", str(fielded.survey.id)),
        ("publication.decision", analyst.id, "survey", str(fielded.survey.id)),
    ]
    assert rows[0].detail["version"] == 1 and rows[0].detail["emails"] == len(fielded.respondents)
    assert "Parken byggs" not in str(rows[1].detail)


def test_dropping_the_table_removes_the_guard(database_url):
    """create_all/drop_all (and migrations up and down) leave no trigger function behind."""
    import sqlalchemy as sa

    from panel.models.audit import AuditEvent as Model

    if not database_url.startswith("postgresql"):
        pytest.skip("the trigger function is PostgreSQL's; SQLite's triggers go with the table")
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA audit_drop_test"))
    try:
        table = Model.__table__.to_metadata(sa.MetaData(), schema="audit_drop_test")
        with engine.begin() as conn:
            conn.execute(text("SET search_path TO audit_drop_test"))
            table.create(conn)
            assert conn.scalar(text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_event_append_only' "
                                    "AND pronamespace = 'audit_drop_test'::regnamespace")) == 1
            table.drop(conn)
            assert conn.scalar(text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_event_append_only' "
                                    "AND pronamespace = 'audit_drop_test'::regnamespace")) == 0
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA audit_drop_test CASCADE"))
        engine.dispose()
