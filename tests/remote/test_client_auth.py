"""ApiClient sign-in against the reference server over HTTP: login, refresh, expiry, restore, logout.

The server runs on a fake clock, so access and refresh tokens expire without sleeping. The refresh
token goes through a real CredentialStore on the in-memory keyring.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import keyring
import pytest
from keyring.backends import null
from sqlalchemy import Engine, text

from classhub_desktop.config.credentials import CredentialStore, MemoryKeyring
from classhub_desktop.remote import ApiClient, AuthenticationFailed, RateLimited, SessionExpired
from tests.api_support import SEED_PASSWORD, SeededDatabase, ServedApi, serve_database
from tests.remote.client_support import teacher_accounts

ACCESS_SECONDS = 60
PROFILE = "school"


@pytest.fixture(scope="module")
def served(seeded_db: SeededDatabase) -> Iterator[ServedApi]:
    api = serve_database(seeded_db, fake_clock=True, access_token_seconds=ACCESS_SECONDS)
    yield api
    api.stop()


def advance(served: ServedApi, seconds: float) -> None:
    assert served.clock is not None
    served.clock.advance(seconds)


def make_client(served: ServedApi, credentials: CredentialStore | None = None, username: str = "admin",
                **kw: object) -> ApiClient:
    return ApiClient(served.base_url, username=username, profile_name=PROFILE if credentials else None,
                     credentials=credentials, **kw)  # type: ignore[arg-type]


def saved_token(credentials: CredentialStore) -> str | None:
    return credentials.get(PROFILE, "api_refresh_token", use_keyring=True)


def test_login_returns_the_account_and_saves_the_refresh_token(served: ServedApi, credentials: CredentialStore,
                                                               db: Engine) -> None:
    with make_client(served, credentials) as client:
        me = client.login(SEED_PASSWORD)
        assert (me.username, me.role, me.teacher_id) == ("admin", "admin", None)
        assert client.signed_in
        token = saved_token(credentials)
        assert token and len(token) > 20
        assert token not in repr(client)
        assert client.me() == me
    with db.connect() as conn:
        last_login = conn.execute(text("SELECT last_login_at FROM app_users WHERE username = 'admin'")).scalar()
    assert last_login is not None


def test_teacher_login_knows_its_teacher(served: ServedApi, db: Engine) -> None:
    teacher_id, username = teacher_accounts(db)[0]
    with make_client(served, username=username) as client:
        me = client.login(SEED_PASSWORD)
    assert (me.role, me.teacher_id, me.username) == ("teacher", teacher_id, username)
    assert me.display_name


def test_expired_access_token_is_refreshed_transparently_and_rotated(served: ServedApi,
                                                                    credentials: CredentialStore) -> None:
    with make_client(served, credentials) as client:
        client.login(SEED_PASSWORD)
        first = saved_token(credentials)
        advance(served, ACCESS_SECONDS + 1)
        assert client.me().username == "admin"  # 401, refresh, repeat: invisible to the caller
        second = saved_token(credentials)
        assert second and second != first
        # Rotation: the old refresh token is dead on the server.
        refused = httpx.post(f"{served.base_url}/api/v1/auth/refresh", json={"refresh_token": first}, timeout=5)
        assert refused.status_code == 401
        advance(served, ACCESS_SECONDS + 1)
        client.me()
        assert saved_token(credentials) not in (first, second)


def test_explicit_refresh_rotates_the_saved_token(served: ServedApi, credentials: CredentialStore) -> None:
    with make_client(served, credentials) as client:
        client.login(SEED_PASSWORD)
        before = saved_token(credentials)
        client.refresh()
        after = saved_token(credentials)
        assert after and after != before
        assert client.me().username == "admin"


def test_expired_refresh_token_ends_the_session(served: ServedApi, credentials: CredentialStore) -> None:
    with make_client(served, credentials) as client:
        client.login(SEED_PASSWORD)
        advance(served, served.settings.refresh_token_seconds + 1)
        with pytest.raises(SessionExpired) as caught:
            client.me()
        assert "Sign in again" in str(caught.value)
        assert saved_token(credentials) is None  # a refused token is not kept
        assert not client.signed_in


def test_restore_session_uses_the_saved_refresh_token(served: ServedApi, credentials: CredentialStore,
                                                     memory_keyring: MemoryKeyring) -> None:
    with make_client(served, credentials, remember="keyring") as first:
        first.login(SEED_PASSWORD)
    assert memory_keyring.users() == [f"{PROFILE}:api_refresh_token"]
    fresh_store = CredentialStore(probe_timeout=2.0)  # a new process: only the keyring remembers
    with make_client(served, fresh_store, remember="keyring") as second:
        me = second.restore_session()
        assert me is not None and me.username == "admin"
    with make_client(served, CredentialStore(probe_timeout=2.0), remember="keyring") as third:
        third.logout()
        assert third.restore_session() is None
    assert memory_keyring.users() == []


def test_restore_session_without_or_with_a_refused_token_is_none(served: ServedApi,
                                                                 credentials: CredentialStore) -> None:
    with make_client(served, credentials) as client:
        assert client.restore_session() is None
        credentials.set(PROFILE, "api_refresh_token", "not-a-token-the-server-knows", "session")
        assert client.restore_session() is None
        assert saved_token(credentials) is None


def test_logout_forgets_the_tokens(served: ServedApi, credentials: CredentialStore) -> None:
    with make_client(served, credentials) as client:
        client.login(SEED_PASSWORD)
        client.logout()
        assert saved_token(credentials) is None
        with pytest.raises(SessionExpired) as caught:
            client.me()
        assert caught.value.code == "not_signed_in"


def test_remember_never_keeps_the_token_in_memory_only(served: ServedApi, credentials: CredentialStore) -> None:
    with make_client(served, credentials, remember="never") as client:
        client.login(SEED_PASSWORD)
        assert saved_token(credentials) is None
        advance(served, ACCESS_SECONDS + 1)
        assert client.me().username == "admin"  # refreshed from memory


def test_an_unusable_keyring_does_not_fail_the_login(served: ServedApi, credentials: CredentialStore,
                                                   memory_keyring: MemoryKeyring) -> None:
    keyring.set_keyring(null.Keyring())  # the memory_keyring fixture puts the previous backend back
    with make_client(served, credentials, remember="keyring") as client:
        assert client.login(SEED_PASSWORD).username == "admin"
        assert client.credential_warning and "This session only" in client.credential_warning
        advance(served, ACCESS_SECONDS + 1)
        assert client.me().username == "admin"  # the refresh token still lives in memory
    assert memory_keyring.users() == []


def test_wrong_password_is_authentication_failed(served: ServedApi) -> None:
    wrong = "not-the-password-42"
    with make_client(served, username="support") as client, pytest.raises(AuthenticationFailed) as caught:
        client.login(wrong)
    error = caught.value
    assert not isinstance(error, SessionExpired)
    assert (error.status, error.code) == (401, "invalid_credentials")
    assert "password is wrong" in str(error)
    assert wrong not in str(error) and wrong not in repr(error)
    assert error.request_id and len(error.request_id) == 32
    assert not client.signed_in


def test_unknown_user_is_authentication_failed_too(served: ServedApi) -> None:
    with make_client(served, username="nobody-here") as client, pytest.raises(AuthenticationFailed):
        client.login(SEED_PASSWORD)


def test_repeated_failures_are_rate_limited_with_retry_after(served: ServedApi, db: Engine) -> None:
    _, username = teacher_accounts(db)[-1]
    with make_client(served, username=username) as client:
        for _ in range(served.settings.max_failed_logins):
            with pytest.raises(AuthenticationFailed):
                client.login("wrong-password")
        with pytest.raises(RateLimited) as caught:
            client.login(SEED_PASSWORD)  # locked: even the right password waits
        assert caught.value.retry_after is not None
        assert 0 < caught.value.retry_after <= served.settings.lockout_seconds
        assert "Wait" in str(caught.value)
        advance(served, served.settings.lockout_seconds + 1)
        assert client.login(SEED_PASSWORD).username == username


def test_calls_before_login_say_sign_in_first(served: ServedApi) -> None:
    with make_client(served) as client, pytest.raises(SessionExpired) as caught:
        client.list_submissions()
    assert "Sign in first" in str(caught.value)


def test_password_reset_request_answers_the_same_for_any_name(served: ServedApi, db: Engine) -> None:
    with make_client(served) as client:
        known = client.request_password_reset("admin")
        unknown = client.request_password_reset("nobody-at-all")
    assert known == unknown and "reset" in known.lower()
