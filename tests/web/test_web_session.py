"""The session cookie and the login codes: signed with the token, expiring, one use per code."""

from __future__ import annotations

import pytest

from quorum.web.session import SESSION_TTL_S, Sessions

pytestmark = pytest.mark.unit

TOKEN = "a-token-of-the-right-length-0123"


def test_a_cookie_is_valid_for_its_token_until_it_expires() -> None:
    sessions = Sessions(token=TOKEN)
    value = sessions.cookie_value(now=1_000.0)
    assert sessions.valid_cookie(value, now=1_000.0 + SESSION_TTL_S - 1)
    assert not sessions.valid_cookie(value, now=1_000.0 + SESSION_TTL_S + 1)
    assert Sessions(token=TOKEN).valid_cookie(value, now=1_001.0)  # a restart with the same token
    assert not Sessions(token=TOKEN + "x").valid_cookie(value, now=1_001.0)  # a new token: logged out
    assert TOKEN not in value


@pytest.mark.parametrize("forged", ["", "v1", "v1.abc.sig", "v2.9999999999.sig", "v1.9999999999.sig",
                                    "v1.9999999999", "v1.1.2.3"])
def test_a_forged_or_malformed_cookie_is_refused(forged: str) -> None:
    assert not Sessions(token=TOKEN).valid_cookie(forged, now=0.0)


def test_an_expiry_cannot_be_moved() -> None:
    sessions = Sessions(token=TOKEN)
    _, expires, signature = sessions.cookie_value(now=0.0).split(".")
    assert not sessions.valid_cookie(f"v1.{int(expires) + 10_000}.{signature}", now=0.0)


def test_a_login_code_works_once_the_token_always() -> None:
    sessions = Sessions(token=TOKEN)
    code = sessions.new_login_code()
    assert code != TOKEN
    assert sessions.redeem(code)
    assert not sessions.redeem(code)
    assert sessions.redeem(TOKEN)
    assert sessions.redeem(TOKEN)
    assert not sessions.redeem("")
    assert not sessions.redeem(TOKEN[:-1])
    assert code not in repr(sessions)
    assert TOKEN not in repr(sessions)
