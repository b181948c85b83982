"""Exports for an outside audience carry free text only as a coordinator cleared it: a testimony naming a
person recorded in another case leaves an ILO export only after its cleared version is approved, and never
in its recorded form; an edit to the source after approval withholds it again."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from fastapi.testclient import TestClient

from api.exports.service import NOT_CLEARED
from tests.api.test_clearing import FOUND, SAID, approve, propose, world  # noqa: F401 - the fixture
from tests.conftest import Account
from tests.factories import API, ok, patch
from tests.leaks import find

CANARIES = [FOUND, "Карпца", "Карпец", "Ярашук"]


def ilo_json(client: TestClient, who: Account, case_id: str) -> dict[str, Any]:
    body = {
        "case_ids": [case_id],
        "complainant": {
            "name": "BKDP",
            "type": "national_directly_interested",
            "permanent_address": "Vilnius",
        },
        "signatory": {"name": "Chair", "function": "President"},
        "format": "json",
    }
    response = client.post(f"{API}/exports/ilo-cfa", json=body, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


def huridocs(client: TestClient, who: Account, case_id: str, audience: str) -> bytes:
    body = {"case_ids": [case_id], "audience": audience, "format": "esf_json"}
    response = client.post(f"{API}/exports/huridocs", json=body, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.content


def case_record(client: TestClient, who: Account, case_id: str, audience: str) -> dict[str, Any]:
    """The case record an evidence bundle for `audience` carries (data/records/case.json)."""
    response = client.get(f"{API}/cases/{case_id}/bundle", params={"audience": audience}, headers=who.headers)
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("data/records/case.json"))
        return json.loads(archive.read(name))


def test_uncleared_free_text_is_withheld_from_every_outside_audience(
    client: TestClient,
    coordinator: Account,
    world: dict[str, Any],  # noqa: F811 - the fixture imported above
) -> None:
    complaint = ilo_json(client, coordinator, world["case"])
    raw = str(complaint).encode()
    assert find(raw, CANARIES) == []
    assert NOT_CLEARED in str(complaint)
    for audience in ("partner", "public"):
        assert find(huridocs(client, coordinator, world["case"], audience), CANARIES) == []
        record = case_record(client, coordinator, world["case"], audience)
        assert all(t["text"] == NOT_CLEARED for t in record["testimonies"])
        assert find(json.dumps(record, ensure_ascii=False).encode(), CANARIES) == []
    inside = case_record(client, coordinator, world["case"], "internal")
    assert [t["text"] for t in inside["testimonies"]] == [SAID]  # inside, the testimony is as recorded


def test_an_approved_clearing_leaves_and_an_edited_source_is_withheld_again(
    client: TestClient,
    coordinator: Account,
    documenter: Account,
    world: dict[str, Any],  # noqa: F811 - the fixture imported above
) -> None:
    for clearing in propose(client, coordinator, world["case"], "public"):
        assert approve(client, coordinator, clearing).status_code == 200
    record = case_record(client, coordinator, world["case"], "public")
    [testimony] = record["testimonies"]
    assert "Worker W-3" in testimony["text"]  # the pseudonym the cleared testimony carries
    assert find(json.dumps(record, ensure_ascii=False).encode(), CANARIES) == []
    assert NOT_CLEARED not in json.dumps(record)
    # The documenter changes the testimony after approval: the clearing no longer counts.
    url = f"{API}/cases/{world['case']}/testimonies/{world['testimony']}"
    etag = client.get(url, headers=documenter.headers).headers["ETag"]
    ok(patch(client, documenter, url, etag, text=SAID + " Яго звалі Юрый."))
    record = case_record(client, coordinator, world["case"], "public")
    assert [t["text"] for t in record["testimonies"]] == [NOT_CLEARED]
    assert "Яго звалі" not in json.dumps(record, ensure_ascii=False)


def test_a_researchers_excerpt_comes_only_from_a_cleared_version(
    client: TestClient,
    coordinator: Account,
    researcher: Account,
    world: dict[str, Any],  # noqa: F811 - the fixture imported above
) -> None:
    def excerpt(word: str) -> str | None:
        page = ok(client.get(f"{API}/cases", params={"q": word}, headers=researcher.headers))
        [hit] = [i for i in page["items"] if i["id"] == world["case"]]
        return hit["snippet"]  # type: ignore[no-any-return]

    def found(word: str) -> int:
        return int(ok(client.get(f"{API}/cases", params={"q": word}, headers=researcher.headers))["total"])

    # The title and the testimony both hold "прахадной": no excerpt of either until a coordinator clears them.
    assert excerpt("прахадной") is None
    for clearing in propose(client, coordinator, world["case"], "partner"):
        assert approve(client, coordinator, clearing).status_code == 200
    shown = excerpt("прахадной")
    assert shown is not None and "<mark>прахадной</mark>" in shown
    assert find(shown.encode(), CANARIES) == []
    # Words only a testimony holds never find a case for a researcher, cleared or not: searching a name
    # must not tell which testimonies hold it.
    assert found("забралі") == 0 and found("Карпца") == 0
