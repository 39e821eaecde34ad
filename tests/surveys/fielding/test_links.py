"""The personal links: 256-bit tokens stored as digests, re-derivable for reminders, and the
fast List-Unsubscribe signing that must equal the members' own."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from panel.members.services import unsubscribe_headers
from surveys.fielding.links import KeyedHash, SurveyLinks, UnsubscribeLinks, token_digest
from tests.factories import make_member


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
@pytest.mark.parametrize("key_length", [0, 20, 64, 65, 300])
def test_keyed_hash_is_hmac(algorithm, key_length):
    key = os.urandom(key_length)
    for message in (b"", b"x", os.urandom(1000)):
        assert KeyedHash(key, algorithm).digest(message) == hmac.digest(key, message, algorithm)


def test_a_new_link_is_256_bits_stored_as_a_digest_and_derivable_again(app):
    with app.test_request_context():
        links = SurveyLinks()
        secret, token, digest = links.new()
        assert len(bytes.fromhex(secret)) == 32 and len(token) == 43  # 256 bits each
        assert digest == hashlib.sha256(token.encode()).hexdigest() == token_digest(token)
        assert token not in (secret, digest)
        assert SurveyLinks().token_for(secret) == token  # what a reminder does
        assert links.url(token) == f"http://panel.test/s/{token}"
        assert len({links.new()[1] for _ in range(1000)}) == 1000


def test_links_depend_on_the_secret_key(app):
    with app.test_request_context():
        secret, token, _digest = SurveyLinks().new()
        app.config["SECRET_KEY"] = "another key"
        assert SurveyLinks().token_for(secret) != token


def test_fast_unsubscribe_links_equal_the_members_own(app, session):
    members = [make_member(session) for _ in range(3)]
    session.commit()
    with app.test_request_context():
        links = UnsubscribeLinks()
        for member in members:
            assert f"<{links.url(member.id, member.created_at)}>" == unsubscribe_headers(member)["List-Unsubscribe"]
        assert links._fast_is_right is True  # the fast way is in use, not the fallback
