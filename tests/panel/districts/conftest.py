import pytest

from tests.factories import make_staff


def log_in(client, user) -> None:
    """Log a staff user in through Flask-Login's session keys (the login form has tests of its own)."""
    with client.session_transaction() as cookie:
        cookie["_user_id"] = user.get_id()
        cookie["_fresh"] = True


@pytest.fixture
def admin_client(client, session):
    admin = make_staff(session, "admin")
    session.commit()
    log_in(client, admin)
    return client
