"""Several server processes on one database, eight clients at once: exact counts, no lost edit.

Conflicting edits are answered with 412 and retried by the client, never silently merged: every client's
appended marker must be in the final text exactly once, and the version must count every accepted edit.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx

from tests.conftest import Account
from tests.servers import running, server_env

API = "/api/v1"
CLIENTS = 8
CASES_PER_CLIENT = 3
EDITS_PER_CLIENT = 5
VICTIMS_PER_CLIENT = 2


def test_two_processes_and_eight_clients_lose_no_edit_and_count_exactly(
    database_url: str, data_dir: Path, accounts: dict[str, Account]
) -> None:
    documenter = accounts["documenter"]
    env_a, env_b = server_env(database_url, data_dir), server_env(database_url, data_dir)
    with running(env_a, "--no-migrate") as a, running(env_b, "--no-migrate") as b:
        bases = [a.base, b.base]
        shared = httpx.post(
            f"{a.base}{API}/cases",
            json={"title": "Strike at Belaruskali", "country": "BY", "occurred_from": "2020-08"},
            headers=documenter.headers,
        ).json()
        conflicts = Counter()
        errors: list[str] = []

        def client(n: int) -> None:
            with httpx.Client(timeout=60, headers=documenter.headers) as http:
                for i in range(CASES_PER_CLIENT):
                    base = bases[(n + i) % 2]
                    body = {"title": f"Case {n}.{i}", "country": "BY", "occurred_from": "2021"}
                    response = http.post(f"{base}{API}/cases", json=body)
                    if response.status_code != 201:
                        errors.append(f"create {response.status_code} {response.text}")
                for i in range(EDITS_PER_CLIENT):
                    while True:
                        base = bases[(n + i) % 2]
                        current = http.get(f"{base}{API}/cases/{shared['id']}")
                        narrative = current.json()["narrative"]
                        response = http.patch(
                            f"{base}{API}/cases/{shared['id']}",
                            json={"narrative": narrative + f"[{n}:{i}]"},
                            headers={"If-Match": current.headers["ETag"]},
                        )
                        if response.status_code == 412:
                            conflicts[n] += 1
                            continue
                        if response.status_code != 200:
                            errors.append(f"edit {response.status_code} {response.text}")
                        break
                for i in range(VICTIMS_PER_CLIENT):  # each recounts the case's victims under a lock
                    base = bases[(n + i) % 2]
                    person = http.post(f"{base}{API}/people", json={"pseudonym": f"Worker {n}.{i}"}).json()
                    response = http.post(
                        f"{base}{API}/cases/{shared['id']}/involvements",
                        json={"person_id": person["id"], "role": "victim", "victim_status": "detained"},
                    )
                    if response.status_code != 201:
                        errors.append(f"involve {response.status_code} {response.text}")

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []

        final = httpx.get(f"{b.base}{API}/cases/{shared['id']}", headers=documenter.headers).json()
        markers = [f"[{n}:{i}]" for n in range(CLIENTS) for i in range(EDITS_PER_CLIENT)]
        assert all(final["narrative"].count(m) == 1 for m in markers)
        assert final["version"] == 1 + CLIENTS * EDITS_PER_CLIENT
        history = httpx.get(f"{a.base}{API}/cases/{shared['id']}/history", headers=documenter.headers).json()
        assert [h["action"] for h in history].count("update") == CLIENTS * EDITS_PER_CLIENT

        victims = CLIENTS * VICTIMS_PER_CLIENT
        counted = httpx.get(
            f"{b.base}{API}/cases",
            params={"victims_min": victims, "victims_max": victims, "victim_status": "detained"},
            headers=documenter.headers,
        ).json()
        assert [c["id"] for c in counted["items"]] == [shared["id"]]  # no concurrent recount was lost

        listed = httpx.get(f"{a.base}{API}/cases", params={"limit": 200}, headers=documenter.headers).json()
        assert listed["total"] == 1 + CLIENTS * CASES_PER_CLIENT
        numbers = sorted(int(c["reference"].rsplit("-", 1)[1]) for c in listed["items"])
        # unique and gapless across processes
        assert numbers == list(range(1, 2 + CLIENTS * CASES_PER_CLIENT))
    print(f"412 conflicts answered and retried: {sum(conflicts.values())}")


READERS = 120  # more clients at once than the server has worker threads (40) and pooled connections


def test_more_readers_at_once_than_threads_and_connections_are_all_answered(
    database_url: str, data_dir: Path, accounts: dict[str, Account]
) -> None:
    """Every request gets its answer, even with the threadpool and the connection pool both exhausted.

    A request returns its connection when its session closes. If the closing waited for a worker thread, the
    threads could all be held by requests waiting for a connection: nothing would move until the pool's
    timeout, and then every waiting request would fail.
    """
    researcher = accounts["researcher"]
    with running(server_env(database_url, data_dir), "--no-migrate") as server:
        statuses: Counter[int] = Counter()
        start = threading.Barrier(READERS)

        def reader() -> None:
            with httpx.Client(timeout=120, headers=researcher.headers) as http:
                start.wait()
                for _ in range(3):
                    response = http.get(f"{server.base}{API}/cases", params={"q": "strike"})
                    statuses[response.status_code] += 1

        threads = [threading.Thread(target=reader) for _ in range(READERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert statuses == Counter({200: 3 * READERS})


def test_people_named_in_several_cases_at_once_are_counted_once_in_the_statistics(
    database_url: str, data_dir: Path, accounts: dict[str, Account]
) -> None:
    """Writers naming the same people in different cases at once, then retracting: each write that makes a
    person a victim in a second case (or no longer) rewrites every case's list of people in several cases,
    under locks taken in one order (no deadlock, no lost list), and the statistics then match a count of what
    was accepted."""
    documenter, coordinator = accounts["documenter"], accounts["coordinator"]
    employer = "Concurrency Works"
    statuses = ["detained", "released", "sentenced"]
    env_a, env_b = server_env(database_url, data_dir), server_env(database_url, data_dir)
    with running(env_a, "--no-migrate") as a, running(env_b, "--no-migrate") as b:
        bases = [a.base, b.base]
        with httpx.Client(timeout=60, headers=documenter.headers) as http:
            cases = [
                http.post(
                    f"{a.base}{API}/cases",
                    json={
                        "title": f"Case {n}",
                        "country": "BY",
                        "occurred_from": "2021",
                        "employer": employer,
                    },
                ).json()["id"]
                for n in range(4)
            ]
            people = [
                http.post(f"{a.base}{API}/people", json={"pseudonym": f"P{n}"}).json()["id"] for n in range(8)
            ]
        live: list[tuple[str, str, str]] = []  # (case, person, status) of every involvement left
        errors: list[str] = []
        start = threading.Barrier(CLIENTS)

        def client(n: int) -> None:
            base = bases[n % 2]
            plan = [
                (cases[n % 4], people[n], statuses[n % 3]),
                (cases[(n + 1) % 4], people[(n + 1) % 8], statuses[(n + 1) % 3]),
                (cases[(n + 2) % 4], people[n], statuses[(n + 2) % 3]),
            ]
            with httpx.Client(timeout=60, headers=documenter.headers) as http:
                start.wait()
                made = []
                for case, person, status in plan:
                    response = http.post(
                        f"{base}{API}/cases/{case}/involvements",
                        json={"person_id": person, "role": "victim", "victim_status": status},
                    )
                    if response.status_code != 201:
                        errors.append(f"involve {response.status_code} {response.text}")
                        return
                    made.append((case, response.json(), status))
                case, first, status = made[0]  # the first is retracted: its person may drop back to one case
                url = f"{base}{API}/cases/{case}/involvements/{first['id']}"
                etag = http.get(url).headers["ETag"]
                response = http.post(f"{url}/retract", json={"reason": "test"}, headers={"If-Match": etag})
                if response.status_code != 200:
                    errors.append(f"retract {response.status_code} {response.text}")
                live.extend((c, i["person_id"], s) for c, i, s in made[1:])

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []

        def stats(group_by: str) -> tuple[dict[str, tuple[int, int]], int]:
            body = httpx.get(
                f"{b.base}{API}/stats",
                params={"group_by": group_by, "employer": employer},
                headers=coordinator.headers,
            ).json()
            return {g["key"]: (g["cases"], g["people"]) for g in body["groups"]}, body["total_people"]

        everyone = len({person for _, person, _ in live})
        assert stats("year") == ({"2021": (4, everyone)}, everyone)
        by_status = {
            status: (
                len({c for c, _, s in live if s == status}),
                len({p for _, p, s in live if s == status}),
            )
            for status in {s for _, _, s in live}
        }
        assert stats("victim_status") == (by_status, everyone)
