"""The duress sign-in and a second factor's reset on the web, without JavaScript."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.phone import enrol, token_for
from tests.conftest import PASSWORD, Account
from tests.web.conftest import post_form, sign_in

DURESS = "blue kettle on the windowsill"


def test_on_the_web_the_duress_sign_in_looks_normal_and_admins_see_a_banner(
    browser_factory,
    admin: Account,
    documenter: Account,  # type: ignore[no-untyped-def]
) -> None:
    coerced = sign_in(browser_factory(), documenter)
    set_it = post_form(coerced, "/account/duress", {"password": PASSWORD, "duress_password": DURESS})
    assert set_it.status_code == 303
    watcher = sign_in(browser_factory(), admin)
    assert "Duress alert" not in watcher.get("/").text
    border = browser_factory()
    response = post_form(
        border, "/login", {"username": documenter.username, "password": DURESS, "next": "/cases"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/cases"
    page = border.get("/")
    assert (
        page.status_code == 200
        and "Duress" not in page.text
        and "duress" not in page.text.lower().split("<main")[1]
    )
    assert coerced.get("/", follow_redirects=False).status_code == 303  # the other session ended
    banner = watcher.get("/cases").text
    assert "Duress alert" in banner and documenter.username in banner
    lifted = post_form(watcher, f"/admin/users/{documenter.user_id}/duress/lift", {}, form_url="/admin/users")
    assert lifted.status_code == 303
    assert "Duress alert" not in watcher.get("/").text


def test_an_admin_resets_a_second_factor_on_the_web(
    client: TestClient,
    browser_factory,
    admin: Account,
    documenter: Account,  # type: ignore[no-untyped-def]
) -> None:
    enrol(client, documenter)
    watcher = sign_in(browser_factory(), admin)
    assert "Reset the second factor" in watcher.get("/admin/users").text
    response = post_form(watcher, f"/admin/users/{documenter.user_id}/2fa/reset", {}, form_url="/admin/users")
    assert response.status_code == 303
    assert token_for(client, documenter.username).status_code == 200
