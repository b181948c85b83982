"""The taxonomy in the service: tree, node pages with verified norms, search, counts, subtree queries,
versioned retirement, local nodes and the HURIDOCS vocabularies."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.models import TaxonomyClosure, TaxonomyNode
from api.taxonomy import loader
from api.taxonomy import service as taxonomy_service
from tests.conftest import Account
from tests.factories import API, create_case, create_person, ok

FIXTURES = Path(__file__).resolve().parents[1] / "taxonomy" / "data"
V1 = loader.current_taxonomy_path()


def ids(page: dict) -> set[str]:
    return {c["id"] for c in page["items"]}


class TestTree:
    def test_tree_lists_seven_areas_with_nested_children(
        self, client: TestClient, researcher: Account
    ) -> None:
        roots = ok(client.get(f"{API}/taxonomy", headers=researcher.headers))
        assert [r["code"] for r in roots] == list("ABCDEFG")
        a = roots[0]
        assert a["labels"]["be"] == "Грамадзянскія свабоды прафсаюзных актывістаў"
        lib = next(c for c in a["children"] if c["code"] == "A.LIB")
        arrest = next(c for c in lib["children"] if c["code"] == "A.LIB.ARREST")
        assert arrest["is_leaf"] and arrest["urgent"] and arrest["children"] == []

        def leaves(nodes: list[dict]) -> int:
            return sum(1 if n["is_leaf"] else leaves(n["children"]) for n in nodes)

        assert leaves(roots) >= 45

    def test_node_page_names_ilo_articles_and_cfa_chapter_and_whether_each_is_verified(
        self, client: TestClient, researcher: Account
    ) -> None:
        detail = ok(client.get(f"{API}/taxonomy/A.LIB.ARREST", headers=researcher.headers))
        assert [a["code"] for a in detail["ancestors"]] == ["A", "A.LIB"]
        own = detail["node"]["norms"]
        c87 = next(n for n in own if n["reference"]["kind"] == "ilo_instrument")
        assert c87["reference"]["instrument"] == "C87"
        assert c87["reference"]["articles"] == ["2", "3"]
        assert (c87["verification"], c87["verified"], c87["marker"]) == ("inferred", False, "✱")
        chapter = next(n for n in own if n["reference"]["kind"] == "cfa_compilation")
        assert (chapter["reference"]["chapter"], chapter["verified"], chapter["marker"]) == (2, True, "✔")
        inherited = detail["inherited_norms"]
        assert any(n["reference"].get("article") == "8(2)" and n["from_code"] == "A" for n in inherited)

    def test_an_inferred_cfa_chapter_is_never_presented_as_verified(
        self, client: TestClient, researcher: Account
    ) -> None:
        roots = ok(client.get(f"{API}/taxonomy", headers=researcher.headers))
        stack, seen = list(roots), 0
        while stack:
            node = stack.pop()
            stack += node["children"]
            for norm in node["norms"]:
                ref = norm["reference"]
                if ref["kind"] == "cfa_compilation" and ref.get("chapter") not in (None, 1, 2, 11, 13):
                    seen += 1
                    assert norm["verified"] is False, (node["code"], ref)
        assert seen > 0

    def test_search_finds_labels_in_any_language_ignoring_case(
        self, client: TestClient, researcher: Account
    ) -> None:
        for q in ("АРЫШТ", "арест", "Arrest", "ПРЫМУСОВАЯ"):
            hits = ok(client.get(f"{API}/taxonomy", params={"q": q}, headers=researcher.headers))
            assert hits, q
            assert all(h["children"] == [] for h in hits)
        codes = {
            h["code"]
            for h in ok(client.get(f"{API}/taxonomy", params={"q": "арышт"}, headers=researcher.headers))
        }
        assert "A.LIB.ARREST" in codes

    def test_unknown_node_is_a_404_problem(self, client: TestClient, researcher: Account) -> None:
        response = client.get(f"{API}/taxonomy/Z.NOPE", headers=researcher.headers)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    def test_vocabularies_are_served_with_three_languages(
        self, client: TestClient, researcher: Account
    ) -> None:
        vocabs = {v["key"]: v for v in ok(client.get(f"{API}/vocabularies", headers=researcher.headers))}
        assert {
            "perpetrator_type",
            "location_type",
            "detention_type",
            "violation_status",
            "reliability",
        } <= vocabs.keys()
        police = next(t for t in vocabs["perpetrator_type"]["terms"] if t["code"] == "010104000000")
        assert set(police["labels"]) == {"en", "be", "ru"}


class TestCasesAndCategories:
    def test_a_researcher_asking_for_civil_liberties_gets_the_cases_filed_under_its_leaves(
        self, client: TestClient, documenter: Account, researcher: Account
    ) -> None:
        arrest = create_case(client, documenter, categories=["A.LIB.ARREST"])
        pretrial = create_case(client, documenter, categories=["A.LIB.PRETRIAL"])
        conviction = create_case(client, documenter, categories=["A.LIB.CRIMINAL", "C.DIS.DISMISSAL"])
        dismissal = create_case(client, documenter, categories=["C.DIS.DISMISSAL"])
        page = ok(client.get(f"{API}/cases", params={"category": "A"}, headers=researcher.headers))
        assert ids(page) == {arrest["id"], pretrial["id"], conviction["id"]}
        assert page["total"] == 3
        assert ids(
            ok(client.get(f"{API}/cases", params={"category": "A.LIB.PRETRIAL"}, headers=researcher.headers))
        ) == {pretrial["id"]}
        assert ids(ok(client.get(f"{API}/cases", params={"category": "C"}, headers=researcher.headers))) == {
            conviction["id"],
            dismissal["id"],
        }

    def test_unknown_category_filter_is_a_422_naming_it(
        self, client: TestClient, researcher: Account
    ) -> None:
        response = client.get(f"{API}/cases", params={"category": "A.LIB.NOPE"}, headers=researcher.headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.category"

    def test_unknown_code_on_a_case_is_a_422_naming_it(self, client: TestClient, documenter: Account) -> None:
        response = client.post(
            f"{API}/cases",
            json={
                "title": "x",
                "country": "BY",
                "occurred_from": "2022",
                "categories": ["A.LIB.ARREST", "A.LIB.BOGUS"],
            },
            headers=documenter.headers,
        )
        assert response.status_code == 422
        error = response.json()["errors"][0]
        assert error["field"] == "body.categories.1"
        assert "A.LIB.BOGUS" in error["message"]

    def test_primary_category_is_one_of_the_categories(self, client: TestClient, documenter: Account) -> None:
        case = create_case(
            client,
            documenter,
            categories=["A.LIB.ARREST", "A.LIB.PRETRIAL"],
            primary_category="A.LIB.PRETRIAL",
        )
        assert case["primary_category"] == "A.LIB.PRETRIAL"
        assert case["categories"][0] == "A.LIB.PRETRIAL"

    def test_counts_roll_up_and_count_only_cases_the_caller_may_see(
        self, client: TestClient, documenter: Account, documenter2: Account, coordinator: Account
    ) -> None:
        create_case(client, documenter, categories=["A.LIB.ARREST", "A.LIB.PRETRIAL"])
        create_case(client, documenter, categories=["A.INT.THREAT"])
        create_case(client, documenter2, categories=["A.LIB.ARREST"])

        def counts(who: Account) -> dict[str, int]:
            out: dict[str, int] = {}
            stack = ok(client.get(f"{API}/taxonomy", params={"counts": "true"}, headers=who.headers))
            while stack:
                node = stack.pop()
                out[node["code"]] = node["case_count"]
                stack += node["children"]
            return out

        mine = counts(documenter)
        # one case under two leaves of A.LIB counts once for A.LIB
        assert (mine["A.LIB.ARREST"], mine["A.LIB.PRETRIAL"], mine["A.LIB"], mine["A"], mine["B"]) == (
            1,
            1,
            1,
            2,
            0,
        )
        everyone = counts(coordinator)
        assert (everyone["A.LIB.ARREST"], everyone["A.LIB"], everyone["A"]) == (2, 2, 3)

    def test_facet_codes_are_checked_against_their_vocabulary(
        self, client: TestClient, documenter: Account
    ) -> None:
        case = create_case(client, documenter, location_type="030600000000", violation_status="010100000000")
        assert case["location_type"] == "030600000000"
        bad = client.post(
            f"{API}/cases",
            json={"title": "x", "country": "BY", "occurred_from": "2022", "location_type": "999999999999"},
            headers=documenter.headers,
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "body.location_type"
        person = create_person(client, documenter)
        response = client.post(
            f"{API}/cases/{case['id']}/involvements",
            json={"person_id": person["id"], "role": "victim", "detention_type": "123456789012"},
            headers=documenter.headers,
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.detention_type"


class TestLoading:
    def test_loading_twice_changes_nothing(self, ctx) -> None:
        with ctx.db.write_session() as session:
            before = session.execute(sa.select(sa.func.max(TaxonomyNode.updated_at), sa.func.count())).one()
            report = taxonomy_service.load_taxonomy(session=session)
            after = session.execute(sa.select(sa.func.max(TaxonomyNode.updated_at), sa.func.count())).one()
        assert not report.changed
        assert report.unchanged == before[1]
        assert tuple(before) == tuple(after)

    def test_the_closure_holds_every_ancestor_pair(self, ctx) -> None:
        with ctx.db.session(write=False) as session:
            pairs = set(
                session.execute(sa.select(TaxonomyClosure.ancestor, TaxonomyClosure.descendant)).all()
            )
        taxonomy = loader.load_taxonomy_file(V1)
        for flat in loader.flatten(taxonomy):
            for ancestor in flat.path.split("/"):
                assert (ancestor, flat.code) in pairs
        assert len(pairs) == sum(f.depth + 1 for f in loader.flatten(taxonomy))


class TestVersionTwo:
    def load_v2(self, ctx) -> None:
        with ctx.db.write_session() as session:
            report = taxonomy_service.load_taxonomy(
                session=session, paths=[V1, FIXTURES / "precedents.v2.yaml"]
            )
        assert report.versions == [1, 2]

    def test_existing_cases_keep_their_meaning_after_codes_are_retired_and_split(
        self, client: TestClient, ctx, documenter: Account, researcher: Account
    ) -> None:
        nonrenewal = create_case(client, documenter, categories=["C.DIS.NONRENEWAL"])
        conditions = create_case(client, documenter, categories=["A.LIB.CONDITIONS"])
        self.load_v2(ctx)
        # the record itself is not rewritten
        assert ok(client.get(f"{API}/cases/{nonrenewal['id']}", headers=researcher.headers))[
            "categories"
        ] == ["C.DIS.NONRENEWAL"]

        def found(code: str) -> set[str]:
            return ids(ok(client.get(f"{API}/cases", params={"category": code}, headers=researcher.headers)))

        assert nonrenewal["id"] in found("C.DIS.DISMISSAL")  # its replacement
        assert nonrenewal["id"] in found("C.DIS")
        assert nonrenewal["id"] in found("C.DIS.NONRENEWAL")  # still findable by its own code
        assert conditions["id"] in found("A.LIB.ILLTREATMENT")
        assert conditions["id"] in found("A.LIB.INCOMMUNICADO")
        assert conditions["id"] in found("A")
        detail = ok(client.get(f"{API}/taxonomy/C.DIS.NONRENEWAL", headers=researcher.headers))
        assert detail["retired"] == {
            "retired_in": 2,
            "replaced_by": ["C.DIS.DISMISSAL"],
            "note": detail["retired"]["note"],
        }
        tree_codes = set()
        stack = ok(client.get(f"{API}/taxonomy", headers=researcher.headers))
        while stack:
            node = stack.pop()
            tree_codes.add(node["code"])
            stack += node["children"]
        assert "C.DIS.NONRENEWAL" not in tree_codes and "A.LIB.INCOMMUNICADO" in tree_codes

    def test_a_retired_code_is_accepted_mapped_and_the_response_says_so(
        self, client: TestClient, ctx, documenter: Account
    ) -> None:
        self.load_v2(ctx)
        case = create_case(client, documenter, categories=["A.LIB.CONDITIONS"])
        assert case["categories"] == ["A.LIB.ILLTREATMENT"]
        notice = case["notices"][0]
        assert notice["code"] == "A.LIB.CONDITIONS"
        assert notice["replaced_by"] == ["A.LIB.ILLTREATMENT", "A.LIB.INCOMMUNICADO"]
        assert "A.LIB.INCOMMUNICADO" in notice["message"]

    def test_counts_of_retired_codes_roll_up_to_their_replacement(
        self, client: TestClient, ctx, documenter: Account
    ) -> None:
        create_case(client, documenter, categories=["C.DIS.NONRENEWAL"])
        self.load_v2(ctx)
        counts: dict[str, int] = {}
        stack = ok(client.get(f"{API}/taxonomy", params={"counts": "true"}, headers=documenter.headers))
        while stack:
            node = stack.pop()
            counts[node["code"]] = node["case_count"]
            stack += node["children"]
        assert (counts["C.DIS.DISMISSAL"], counts["C.DIS"], counts["C"]) == (1, 1, 1)


class TestLocalNodes:
    def test_admin_adds_a_local_node_that_never_clashes_and_survives_reloading(
        self, client: TestClient, ctx, admin: Account, documenter: Account, researcher: Account
    ) -> None:
        body = {
            "slug": "border",
            "labels": {
                "en": "Detention at the border",
                "be": "Затрыманне на мяжы",
                "ru": "Задержание на границе",
            },
            "definition": {"en": "Stopped and held when crossing the border."},
        }
        detail = ok(
            client.post(f"{API}/taxonomy/A.LIB.ARREST/children", json=body, headers=admin.headers), 201
        )
        code = detail["node"]["code"]
        assert code == "A.LIB.ARREST.x-border"
        assert detail["node"]["local"] is True
        assert (
            client.post(f"{API}/taxonomy/A.LIB.ARREST/children", json=body, headers=admin.headers).status_code
            == 409
        )
        case = create_case(client, documenter, categories=[code])
        with ctx.db.write_session() as session:
            taxonomy_service.load_taxonomy(session=session)
        assert case["id"] in ids(
            ok(client.get(f"{API}/cases", params={"category": "A.LIB"}, headers=researcher.headers))
        )
        assert (
            ok(client.get(f"{API}/taxonomy/{code}", headers=researcher.headers))["ancestors"][-1]["code"]
            == "A.LIB.ARREST"
        )

    def test_shipped_nodes_are_read_only(self, client: TestClient, admin: Account) -> None:
        for method in ("PATCH", "PUT", "DELETE"):
            assert (
                client.request(
                    method, f"{API}/taxonomy/A.LIB.ARREST", json={}, headers=admin.headers
                ).status_code
                == 405
            )

    def test_a_slug_that_could_imitate_a_shipped_code_is_refused(
        self, client: TestClient, admin: Account
    ) -> None:
        body = {
            "slug": "ok",
            "labels": {"en": "x", "be": "Затрыманне", "ru": "Задержание"},
            "definition": {"en": "x"},
        }
        response = client.post(
            f"{API}/taxonomy/A.LIB/children", json={**body, "slug": "../A"}, headers=admin.headers
        )
        assert response.status_code == 422
