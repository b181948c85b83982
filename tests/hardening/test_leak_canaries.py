"""Leak canaries: people with unique canary names and no consent; no log line and no researcher response may
carry them. (Exports are scanned in tests/api/test_exports.py, inside their zips too.)"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import Account
from tests.leaks import find
from tests.servers import running, server_env

API = "/api/v1"
CANARY = "Сцяпан Канарэечны"
PHONE = "+375299990000"


def test_server_logs_never_carry_names_searches_or_secrets(
    database_url: str, data_dir: Path, accounts: dict[str, Account]
) -> None:
    coordinator, researcher = accounts["coordinator"], accounts["researcher"]
    env = server_env(database_url, data_dir, PRECEDENT_LOG_LEVEL="DEBUG")
    with running(env, "--no-migrate") as server, httpx.Client(base_url=server.base, timeout=30) as http:
        person = http.post(
            f"{API}/people",
            json={
                "pseudonym": "Victim C-1",
                "identity": {"full_name": CANARY, "contacts": [{"kind": "phone", "value": PHONE}]},
            },
            headers=coordinator.headers,
        ).json()
        case = http.post(
            f"{API}/cases",
            json={
                "title": "Detention",
                "country": "BY",
                "occurred_from": "2022",
                "narrative": f"{CANARY} detained",
            },
            headers=coordinator.headers,
        ).json()
        http.post(
            f"{API}/cases/{case['id']}/involvements",
            json={"person_id": person["id"], "role": "victim", "victim_status": "detained"},
            headers=coordinator.headers,
        )
        # searches, bad input echoing the name, failed logins with the name as username
        http.get(f"{API}/people", params={"q": CANARY}, headers=coordinator.headers)
        http.get(f"{API}/cases", params={"tag": CANARY}, headers=researcher.headers)
        http.post(f"{API}/cases", json={"title": CANARY, "country": CANARY}, headers=coordinator.headers)
        http.post(f"{API}/auth/token", data={"username": CANARY, "password": PHONE})
        for url in (
            f"{API}/people/{person['id']}",
            f"{API}/cases/{case['id']}/involvements",
            f"{API}/people",
        ):
            response = http.get(url, headers=researcher.headers)
            assert response.status_code == 200
            assert find(response.content, [CANARY, PHONE]) == [], url
        output = server.output()
    assert "POST /api/v1/cases 201" in output  # the access log works: it shows route templates
    assert find(output.encode(), [CANARY, PHONE, coordinator.token, researcher.token]) == []
    for log in data_dir.rglob("*.log"):
        assert find(log.read_bytes(), [CANARY, PHONE]) == [], log
