"""Property-based fuzzing of every operation in the application's own OpenAPI document, as every role.

Per generated request (valid and deliberately invalid ones): no 5xx, and the response matches its documented
schema, status codes and media type; a researcher's response never carries an identity. The CI budget is
small; `make fuzz` raises it with PRECEDENT_FUZZ_EXAMPLES. Who may do what is the authorization matrix's job
(tests/api/test_authorization_matrix.py); here each role is a way to reach deeper code paths.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from api.config import Settings
from api.main import create_app
from tests.conftest import Account
from tests.factories import API, create_case, create_person, involve

EXAMPLES = int(os.environ.get("PRECEDENT_FUZZ_EXAMPLES", "6"))
# `make fuzz` (PRECEDENT_FUZZ_DEEP=1) adds the coverage phase: boundary values of every schema, thousands of cases.
PHASES = (
    ["examples", "coverage", "fuzzing"] if os.environ.get("PRECEDENT_FUZZ_DEEP") else ["examples", "fuzzing"]
)
CANARY = "Фаззер Канарэйкавіч"
ROLES = ("admin", "coordinator", "documenter", "researcher")
# The document only: building it touches no database.
schema = schemathesis.openapi.from_dict(create_app(Settings(database_url="sqlite://")).openapi())
schema.config.phases.update(phases=PHASES)


@pytest.fixture
def fuzz_client(client: TestClient, accounts: dict[str, Account]) -> TestClient:
    """The app with a case whose victim's identity is a canary, so researcher responses can be scanned."""
    documenter = accounts["documenter"]
    person = create_person(client, documenter, identity={"full_name": CANARY})
    case = create_case(client, documenter, categories=["A.LIB.ARREST"])
    involve(client, documenter, case["id"], person_id=person["id"], role="victim", victim_status="detained")
    return client


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("PRECEDENT_FUZZ_RANDOM") is None,
)
def test_no_server_errors_and_responses_match_the_schema(
    case: Any, fuzz_client: TestClient, accounts: dict[str, Account]
) -> None:
    if case.operation.path == f"{API}/auth/logout":
        pytest.skip("would revoke the shared tokens; covered by tests/api/test_auth.py")
    for role in ROLES:
        kwargs = case.as_transport_kwargs(
            base_url="http://testserver", headers={"Authorization": f"Bearer {accounts[role].token}"}
        )
        kwargs.pop("cookies", None)  # the API reads no cookies; httpx2 deprecates per-request cookies
        if isinstance(kwargs.get("data"), (bytes, str)):
            kwargs["content"] = kwargs.pop(
                "data"
            )  # raw bodies (requests-style `data`) are `content` in httpx
        response = fuzz_client.request(**kwargs)
        # Multipart bodies are sent as streams; schemathesis reads the request back when it reports.
        response.request.read()
        assert response.status_code < 500, (role, kwargs, response.text)
        # Schema-valid input may still break a domain rule (a date in the future, a record that does not
        # exist, a stale If-Match): those 4xx answers are correct, so only positive acceptance is waived.
        case.validate_response(response, excluded_checks=[positive_data_acceptance])
        if role == "researcher":
            assert CANARY not in response.text
