from tests.conftest import csrf_token
from tests.factories import PASSWORD, make_staff


def login(client, email, password=PASSWORD, next_=None):
    token = csrf_token(client, "/staff/login")
    url = "/staff/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


def test_staff_login_and_logout(client, session):
    user = make_staff(session, "analyst")
    session.commit()
    response = login(client, user.email)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/staff/")
    assert client.get("/staff/").status_code == 200
    token = csrf_token(client, "/staff/")
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/staff/").status_code == 302  # back to login


def test_wrong_password_says_so_without_telling_which(client, session):
    user = make_staff(session)
    session.commit()
    wrong = login(client, user.email, "not the password")
    unknown = login(client, "nobody@kommun.test", "not the password")
    assert wrong.status_code == unknown.status_code == 400
    assert "Fel e-postadress eller lösenord" in wrong.get_data(as_text=True)
    assert "Fel e-postadress eller lösenord" in unknown.get_data(as_text=True)


def test_login_is_throttled_after_repeated_failures(client, session, app):
    user = make_staff(session)
    session.commit()
    for _ in range(app.config["PANEL_LOGIN_MAX_FAILURES"]):
        assert login(client, user.email, "wrong password!").status_code == 400
    blocked = login(client, user.email)  # even the right password is refused now
    assert blocked.status_code == 429
    assert "För många" in blocked.get_data(as_text=True)


def test_login_rejects_open_redirect(client, session):
    user = make_staff(session)
    session.commit()
    response = login(client, user.email, next_="https://evil.example/")
    assert response.headers["Location"].endswith("/staff/")


def test_login_without_csrf_token_is_refused(client, session):
    user = make_staff(session)
    session.commit()
    response = client.post("/staff/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "säkerhetskod" in response.get_data(as_text=True)


def test_role_change_ends_existing_sessions(client, session):
    admin = make_staff(session, "admin")
    analyst = make_staff(session, "analyst")
    session.commit()
    other = client.application.test_client()
    login(other, analyst.email)
    assert other.get("/staff/").status_code == 200
    login(client, admin.email)
    token = csrf_token(client, "/staff/users")
    client.post(f"/staff/users/{analyst.id}/role", data={"role": "committee", "csrf_token": token})
    assert other.get("/staff/").status_code == 302  # must log in again


def test_committee_cannot_manage_accounts(client, session):
    member = make_staff(session, "committee")
    session.commit()
    login(client, member.email)
    assert client.get("/staff/users").status_code == 403


def test_cli_creates_first_admin(runner, session):
    from panel.models import StaffUser

    result = runner.invoke(args=["staff", "create", "--email", "Admin@Kommun.test", "--name", "Ada",
                                 "--role", "admin", "--password", "a long enough pw"])
    assert result.exit_code == 0, result.output
    assert session.query(StaffUser).filter_by(email="admin@kommun.test").one().role == "admin"
    short = runner.invoke(args=["staff", "create", "--email", "b@k.test", "--name", "B", "--password", "short"])
    assert short.exit_code != 0 and "minst 12 tecken" in short.output


def test_staff_login_works_over_https_without_a_referer(app, session):
    """Pages send Referrer-Policy: no-referrer, so an HTTPS POST arrives without Referer."""
    user = make_staff(session)
    session.commit()
    client = app.test_client()
    page = client.get("/staff/login", base_url="https://panel.test").get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/staff/login", base_url="https://panel.test",
                           data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" in response.headers
