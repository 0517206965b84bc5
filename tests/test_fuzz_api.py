"""Property-based fuzz of the OpenAPI schema over real HTTP (schemathesis + hypothesis), with every
check schemathesis has (``schemathesis run --checks all``) and ours (every error is problem+json).

Every operation gets generated valid and invalid inputs, as each kind of API key, against the API
served by uvicorn with a worker on a real Temporal dev server: 38 examples per operation (16 as a
platform key, 16 as care, 6 as admin), about 1,800 requests. Path parameters and actors of valid
parts are often swapped for real cases and their parties, so generated actions reach the
workflows' validators and handlers; control characters are mostly scrubbed from valid bodies for
the same reason. One case in six gets a hostile value the schema never makes (a NUL or another
control character, unicode digits, a number beyond 64 bits, nesting past the depth limit)
somewhere in its body, and one parameter in six a hostile id: those need not be accepted. A
schema-valid request must be accepted unless refused for a reason no JSON Schema can state
(``STATEFUL_REFUSALS``: the server's state, or two fields compared); a schema-violating one must be
refused. A method a path does not take answers 405 with ``Allow``."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, CheckContext, CheckFunction, GenerationMode, Response
from schemathesis.checks import CHECKS, is_check_class, load_all_checks
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Err
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.limits import CONTROL_CHARACTERS
from api.main import create_app
from core.settings import Settings
from store.db import database
from tests.support import ADMIN_KEY, API_KEYS, CARE_KEY, PLATFORM_KEY, eventually, listening
from wiring.temporal import build_worker, case_activities

DOCUMENT = create_app(Settings(api_keys=API_KEYS)).openapi()
SCHEMA = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT))


def _reader_roles(case: Case[Any]) -> list[str]:
    """The roles the case's route may be read as (its ``reader`` parameter's)."""
    operation = DOCUMENT["paths"][case.operation.path][case.method.lower()]
    reader = next(p for p in operation["parameters"] if p["name"] == "reader")
    roles: list[str] = reader["schema"]["properties"]["actor_role"]["enum"]
    return roles


def _operations() -> dict[str, APIOperation[Any, Any, Any, Any]]:
    operations = {}
    for result in SCHEMA.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations[result.ok().label] = result.ok()
    return operations


OPERATIONS = _operations()
KEYS = {"platform": PLATFORM_KEY, "care": CARE_KEY, "admin": ADMIN_KEY}
#: Examples per operation and key: the platform and care keys act, so they get more; admin only reads.
MAX_EXAMPLES = {"platform": 16, "care": 16, "admin": 6}

BUYER = {"role": "buyer", "id": "b-1"}
SELLER = {"role": "seller", "id": "s-1"}
CARE = {"role": "care", "id": "agent-7"}
USER = {"role": "user", "id": "b-1"}
#: Real parties to swap into generated actions, mostly ones the key may act as.
ACTORS = {
    "platform": [BUYER, SELLER, USER, BUYER, SELLER, CARE],
    "care": [CARE, CARE, BUYER],
    "admin": [BUYER, SELLER, USER, CARE],
}


@dataclass(frozen=True)
class Served:
    """The API's base URL, and real values for path and query parameters so fuzzing gets past 404."""

    base_url: str
    known: dict[str, list[str]]


def problem_details(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every error is application/problem+json with type, title, status (the response's) and detail."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip() == "application/problem+json", (
        f"error {response.status_code} has Content-Type {content_type!r}, not application/problem+json"
    )
    body = json.loads(response.content)
    assert isinstance(body, dict), f"the problem is not a JSON object: {body!r}"
    missing = {"type", "title", "status", "detail"} - body.keys()
    assert not missing, f"the problem lacks {sorted(missing)}: {body!r}"
    assert body["status"] == response.status_code, (
        f"problem status {body['status']} != {response.status_code}"
    )
    assert all(isinstance(body[member], str) for member in ("type", "title", "detail")), body
    return True


load_all_checks()
#: Every check schemathesis has (``schemathesis run --checks all``), and ours.
ALL_CHECKS: list[CheckFunction] = [check for check in CHECKS.get_all() if not is_check_class(check)] + [
    problem_details
]
#: A schema-valid request the API refuses (422) for a reason no JSON Schema can state: it depends
#: on the server's state or compares two fields. Each is documented (docs/rules.md, README.md), and
#: each is answered with errors naming the field and the reason matched here.
STATEFUL_REFUSALS = [
    ("Idempotency-Key", r"already used for a different request"),  # a key reused with another body
    (r"(evidence|attachments)\.\d+", r"is no evidence uploaded by"),  # only your own uploads
    # (the claim's refund is compared with its total by the claim's validator: its field is "body")
    (r"(requested_solution|solution)\.amount|body", r"above (the )?order.?total|already (refunded|released)"),
    ("body", r"buyer_id and seller_id must differ"),
    ("delivered_at", r"is in the future"),  # the server's clock
    ("solution.kind", r"returned item was already"),  # a return inspected: care decides money
    ("key", r"no parked effect"),  # an operator repairs only what is parked
    ("party", r"already has an open request"),  # a party is asked for information once at a time
    ("due_in", r"at most .* \(DISPUTES_INFO_REQUEST_MAX_WINDOW\)"),  # a setting, as overlap below
    ("file", r"detected type .* is not accepted"),  # 415: the type is read from the bytes
    ("articles", r"no published Help Center article"),  # care cites only published articles
    ("group", r"no care group"),  # the groups of the case's own policy (domain/care.py)
    ("viewed_articles", r"no such article"),  # a report names articles that exist
    ("q|text", r"holds no word to search for"),  # only stop words: the analysis, not the schema
    # A cursor is opaque and made by the server (next_cursor, or the feed's event ids it keeps).
    ("cursor|after", r"not a cursor of this list|made for this list with|neither a cursor of this feed"),
    ("opened_after|opened_before|updated_after", r"between the years 1 and 9999"),  # in UTC
    # A saved reply's placeholders and action are checked against the kinds' placeholders and
    # registries, and its action's body against that action (two fields); applied, against the case.
    (r"text|action\.body\..+", r"unknown placeholder|has no value on this|is no placeholder of"),
    (r"action\.name", r"has an action|has no action|not an action care takes|the reply is the macro's text"),
    (r"action\.body(\..+)?", r"."),
    ("macro_id", r"is for \w+ cases|no saved reply"),
    (
        "overlap",
        r"at most .* \(DISPUTES_WEBHOOK_SECRET_MAX_OVERLAP\)",
    ),  # a setting, and a duration has no maximum
]


def _stateful_refusal(response: Response) -> bool:
    """Whether ``response`` refuses only for reasons in ``STATEFUL_REFUSALS``."""
    if response.status_code not in (415, 422):
        return False
    errors = json.loads(response.content).get("errors") or []
    return bool(errors) and all(
        any(
            re.fullmatch(field, error["field"]) and re.search(reason, error["reason"])
            for field, reason in STATEFUL_REFUSALS
        )
        for error in errors
    )


def validate(drawn: Drawn, response: Response, headers: dict[str, str]) -> None:
    """Run every check on ``response``; a case we spoiled need not be accepted, and a refusal the
    schema cannot state is no failure of positive_data_acceptance."""
    excluded: list[CheckFunction] = [positive_data_acceptance] if drawn.spoiled else []
    if drawn.case.media_type == "multipart/form-data":
        # A form field is text on the wire: a value negated by its type (0 for "0") arrives valid.
        excluded.append(negative_data_rejection)
    try:
        drawn.case.validate_response(response, checks=ALL_CHECKS, excluded_checks=excluded, headers=headers)
    except FailureGroup as group:
        rejected = all(isinstance(failure, RejectedPositiveData) for failure in group.exceptions)
        # Invalid data too large for the body limit is refused before it is read: 413 is a refusal
        # (schemathesis expects only 4xx codes about content).
        too_large = response.status_code == 413 and all(
            isinstance(failure, AcceptedNegativeData) for failure in group.exceptions
        )
        if not (too_large or (rejected and _stateful_refusal(response))):
            raise


@pytest.fixture(scope="module")
async def served(
    dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    settings = Settings(
        task_queue=f"tq-{uuid.uuid4()}",
        data_dir=tmp_path_factory.mktemp("fuzz"),
        api_keys=API_KEYS,
        webhook_allow_private_hosts=True,  # subscriptions point at a closed loopback port
        # The fuzz sends many requests without a key from one address (schemathesis' ignored-auth
        # check): each must meet the 401, not the per-address limit (tests/security/test_limits.py).
        anonymous_rate_limit_per_second=10_000,
        anonymous_rate_limit_burst=10_000,
    )
    async with (
        database(settings) as engine,
        listening(create_app(settings, client=dev_server_env.client, engine=engine)) as base_url,
        build_worker(
            dev_server_env.client, settings, case_activities(settings, dev_server_env.client, engine), engine
        ),
        httpx.AsyncClient(
            base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {PLATFORM_KEY}"}
        ) as http,
    ):
        yield Served(base_url, await _seed(http, dev_server_env.client))


async def _seed(http: httpx.AsyncClient, client: Client) -> dict[str, list[str]]:
    """Real cases in several states, an inbox message, cited evidence and a webhook subscription."""

    async def post(url: str, body: dict[str, Any], key: str = PLATFORM_KEY, **kwargs: Any) -> dict[str, Any]:
        response = await http.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, **kwargs)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    async def upload(role: str) -> str:
        uploaded = await http.post(
            "/v1/evidence",
            data={"actor_role": role, "actor_id": "b-1"},
            files={"file": ("receipt.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
        )
        assert uploaded.status_code == 201, uploaded.text
        reference: str = uploaded.json()["reference"]
        return reference

    reference, attachment = await upload("buyer"), await upload("user")  # each party cites its own

    def claim(solution: dict[str, Any]) -> dict[str, Any]:
        return {
            "order_id": f"o-fuzz-{uuid.uuid4().hex[:10]}",
            "buyer_id": "b-1",
            "seller_id": "s-1",
            "order_total": 150000,
            "reason": "DAMAGED",
            "requested_solution": solution,
            "description": "Broken screen",
            "evidence": [reference],
        }

    refund = {"kind": "REFUND_TO_BUYER", "amount": 150000}
    waiting = (await post("/v1/disputes", claim(refund)))["id"]  # AWAITING_SELLER
    mediated = (await post("/v1/disputes", claim(refund)))["id"]
    await post(f"/v1/disputes/{mediated}/appeal", {"actor": SELLER, "reason": "Delivered"})
    await post(f"/v1/disputes/{mediated}/help", {"actor": BUYER, "note": "It was not"})  # IN_MEDIATION
    exchanged = (await post("/v1/disputes", claim({"kind": "EXCHANGE"})))["id"]
    await post(f"/v1/disputes/{exchanged}/accept", {"actor": SELLER})  # AWAITING_FULFILMENT

    report = {"user_id": "b-1", "role": "buyer", "details": "Charged twice", "attachments": [attachment]}
    replied = (await post("/v1/tickets", report | {"topic": "PAYMENT"}))["id"]
    urgent = (await post("/v1/tickets", report | {"topic": "ACCOUNT_SECURITY"}))["id"]
    await post(f"/v1/tickets/{replied}/care/replies", {"actor": CARE, "text": "Refunded"}, key=CARE_KEY)

    async def inbox() -> list[str]:
        return [message["id"] for message in (await http.get("/v1/users/b-1/inbox")).json()["items"]]

    messages = await eventually(inbox)
    hook = await post("/v1/webhooks", {"url": "http://127.0.0.1:9/hooks", "event_types": ["ticket.solved"]})
    macro = {"name": "fuzz", "locale": "id", "text": "Kasus {case_id}: {status}"}
    macro_id = (await post("/v1/care/macros", macro, key=ADMIN_KEY))["id"]
    disputes, tickets = [waiting, mediated, exchanged], [replied, urgent]
    return {
        "dispute_id": disputes,
        "ticket_id": tickets,
        "case_id": disputes + tickets,
        "user_id": ["b-1", "s-1"],
        "message_id": messages,
        "reference": [reference, attachment],
        "subscription_id": [hook["id"]],
        "macro_id": [macro_id],
    }


#: Any JSON value, for attributes and data that should not matter to the server's health.
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
#: CloudEvents types (after ``com.marketplace.``, ``{role}`` filled in from the actor) and the REST
#: operation whose request body is the event's data.
EVENT_TYPES = {
    "dispute.opened": "POST /v1/disputes",
    "ticket.opened": "POST /v1/tickets",
    **{
        f"dispute.{{role}}.{action}": f"POST /v1/disputes/{{dispute_id}}/{route}"
        for action, route in [
            ("message", "messages"),
            ("offer", "offers"),
            ("accept", "accept"),
            ("reject", "reject"),
            ("appeal", "appeal"),
            ("help", "help"),
            ("cancel", "cancel"),
            ("reply", "care/replies"),
            ("decide", "care/decision"),
            ("ship", "shipments"),
            ("confirm_receipt", "confirm-receipt"),
        ]
    },
    **{
        f"ticket.{{role}}.{action}": f"POST /v1/tickets/{{ticket_id}}/{route}"
        for action, route in [("message", "messages"), ("reply", "care/replies"), ("solve", "solve")]
    },
}


def _often(draw: st.DrawFn) -> bool:
    """Three times in four."""
    return draw(st.integers(0, 3)) > 0


def _seldom(draw: st.DrawFn) -> bool:
    """One time in six."""
    return draw(st.integers(0, 5)) == 0


#: What the schema does not make: control characters, unicode digits, numbers beyond 64 bits or
#: near a double's end, nesting past the body limit's depth. (Lone surrogates, NaN and infinities
#: cannot be sent through the client's JSON encoder: tests/test_hostile_input.py sends them.)
HOSTILE_VALUES: list[Any] = [
    "a\x00b",
    "\x1b[2J",
    "\x85",
    "b-\u00b2",
    "\u0663",
    2**64,
    -(2**63) - 1,
    10**30,
    1e308,
    json.loads("[" * 40 + "]" * 40),
]
#: Ids the schema does not make, for path and query parameters.
HOSTILE_IDS = ["\x00", "a\x1bb", "msg-\u00b2", "dispute-\u0663", "9" * 2000, "99999999999999999999999"]


def _scrubbed(value: Any) -> Any:
    """``value`` without the control characters the API refuses, so valid input reaches the cases."""
    if isinstance(value, str):
        return CONTROL_CHARACTERS.sub("", value)
    if isinstance(value, dict):
        return {_scrubbed(key): _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    return value


@st.composite
def _hostile(draw: st.DrawFn, body: Any) -> Any:
    """``body`` with one value somewhere in it, or a new member, replaced by a hostile one."""
    bad = draw(st.sampled_from(HOSTILE_VALUES))
    if isinstance(body, dict) and body:
        key = draw(st.sampled_from(sorted(body)))
        return body | {key: draw(_hostile(body[key])) if draw(st.booleans()) else bad}
    if isinstance(body, list) and body:
        index = draw(st.integers(0, len(body) - 1))
        return [*body[:index], draw(_hostile(body[index])), *body[index + 1 :]]
    if isinstance(body, dict):
        return {"actor": bad}
    return bad


@st.composite
def _cloud_events(
    draw: st.DrawFn, known: dict[str, list[str]], actors: list[dict[str, str]]
) -> dict[str, Any]:
    """A CloudEvent of a known type whose data is a generated request body of the matching route,
    often from a real party about a real case; any attribute may be missing or any JSON at all."""
    event_type, label = draw(st.sampled_from(sorted(EVENT_TYPES.items())))
    data: Any = draw(OPERATIONS[label].as_strategy(GenerationMode.POSITIVE)).body
    actor = data.get("actor") if isinstance(data, dict) else None
    if isinstance(actor, dict) and _often(draw):
        actor = data["actor"] = dict(draw(st.sampled_from(actors)))
    role = actor.get("role") if isinstance(actor, dict) else None
    kind = event_type.split(".")[0]
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": f"ev-{draw(st.integers(0, 9))}",  # repeats: the cases dedupe by id
        "source": "fuzz",
        "type": "com.marketplace." + event_type.format(role=role),
        "subject": draw(st.sampled_from(known[f"{kind}_id"]) | st.text(max_size=12)),
        "data": data,
    }
    for name in list(event):
        choice = draw(st.integers(0, 7))
        if choice == 0:
            del event[name]
        elif choice == 1:
            event[name] = draw(JSON)
    return event


@dataclass(frozen=True)
class Drawn:
    """A generated case, and whether what was done to it may have made it break the schema (a
    hostile value or id put in, generated CloudEvents sent as the batch): only a case that still
    keeps to the schema must be accepted (positive_data_acceptance)."""

    case: Case[Any]
    spoiled: bool


def _positive(case: Case[Any], location: ParameterLocation) -> bool:
    """Whether schemathesis generated ``location`` of ``case`` as valid: only valid parts are
    swapped for real values (a swap must not turn an invalid request into a valid one)."""
    info = case.meta.components.get(location) if case.meta else None
    return info is None or info.mode.is_positive


@st.composite
def _cases(
    draw: st.DrawFn,
    strategy: st.SearchStrategy[Case[Any]],
    known: dict[str, list[str]],
    actors: list[dict[str, str]],
    fresh_key: Callable[[], str],
) -> Drawn:
    """A generated case, with parameters, actors and Idempotency-Key often swapped for real ones."""
    case = draw(strategy)
    spoiled = False
    for location, container in (
        (ParameterLocation.PATH, case.path_parameters),
        (ParameterLocation.QUERY, case.query),
    ):
        for name in list(container or {}):
            if name in known and _positive(case, location) and _often(draw):
                container[name] = draw(st.sampled_from(known[name]))
            elif _seldom(draw):
                container[name] = draw(st.sampled_from(HOSTILE_IDS))
                spoiled = True
    actor = draw(st.sampled_from(actors))
    body_positive = _positive(case, ParameterLocation.BODY)
    if isinstance(case.body, dict) and body_positive and _often(draw):
        if "actor" in case.body:
            case.body["actor"] = dict(actor)
        if "actor_role" in case.body:  # the multipart evidence upload
            case.body["actor_role"], case.body["actor_id"] = actor["role"], actor["id"]
    reader = (case.query or {}).get("reader")
    if isinstance(reader, dict) and "actor_role" in reader and _positive(case, ParameterLocation.QUERY):
        if _often(draw):
            reader["actor_role"], reader["actor_id"] = actor["role"], actor["id"]
            spoiled = spoiled or actor["role"] not in _reader_roles(case)  # 422, as the schema says
    if case.operation.label == "POST /v1/events" and body_positive and _often(draw):
        # The schema says only "objects": real CloudEvents get past the envelope to the cases.
        events: list[Any] = draw(st.lists(_cloud_events(known, actors), min_size=1, max_size=3))
        case.body = events
        spoiled = True
    if case.operation.label == "POST /v1/webhooks" and isinstance(case.body, dict):
        case.body["url"] = _nowhere(case.body.get("url"))
    json_body = case.media_type is not None and "json" in case.media_type
    if json_body and body_positive and _often(draw):
        case.body = _scrubbed(case.body)
    headers_positive = _positive(case, ParameterLocation.HEADER)
    if case.headers and "Idempotency-Key" in case.headers and headers_positive and _often(draw):
        # Generated keys repeat ("0", "00"...): mostly use a new one so a body reaches the case,
        # sometimes keep it so retries and reuse with another body are exercised too.
        case.headers["Idempotency-Key"] = fresh_key()
    if json_body and _seldom(draw):
        case.body = draw(_hostile(case.body))
        spoiled = True
    return Drawn(case, spoiled)


def _nowhere(url: Any) -> Any:
    """A generated webhook URL with its host swapped for a closed loopback port: the worker delivers
    to every subscription, and a fuzz must not post to whatever hosts it made up."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:
        return url
    return parts._replace(netloc="127.0.0.1:9").geturl() if parts and parts.netloc else url


def _fuzz(served: Served, label: str, key: str) -> None:
    """Run hypothesis over one operation as one key (synchronously: requests is blocking)."""
    operation = OPERATIONS[label]
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    counter = itertools.count()
    run = uuid.uuid4().hex[:8]
    # Two in three cases are valid input: those reach the workflows, where a fault would hide.
    strategy = _cases(
        st.one_of(positive, positive, operation.as_strategy(GenerationMode.NEGATIVE)),
        served.known,
        ACTORS[key],
        lambda: f"fuzz-{run}-{next(counter)}",
    )
    headers = {"Authorization": f"Bearer {KEYS[key]}"}

    with requests.Session() as session:

        @hypothesis.settings(
            max_examples=MAX_EXAMPLES[key],
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(drawn=strategy)
        def check(drawn: Drawn) -> None:
            # A case whose headers break the schema (no Authorization, say) is sent as generated.
            sent = headers if _positive(drawn.case, ParameterLocation.HEADER) else {}
            response = drawn.case.call(base_url=served.base_url, session=session, headers=sent, timeout=30)
            validate(drawn, response, sent)

        check()


@pytest.mark.parametrize("key", list(KEYS))
@pytest.mark.parametrize("label", list(OPERATIONS))
async def test_no_server_errors_and_every_error_is_a_problem(served: Served, label: str, key: str) -> None:
    # Send from a thread while this event loop serves the API and runs the worker.
    await asyncio.to_thread(_fuzz, served, label, key)


async def test_an_event_whose_type_is_not_a_string_is_reported_invalid(served: Served) -> None:
    async with httpx.AsyncClient(
        base_url=served.base_url, headers={"Authorization": f"Bearer {PLATFORM_KEY}"}
    ) as http:
        response = await http.post(
            "/v1/events", json=[{"specversion": "1.0", "id": "e-1", "source": "x", "type": 5}]
        )
    assert response.status_code == 202, response.text
    [result] = response.json()["items"]
    assert (result["id"], result["status"]) == ("e-1", "invalid")


def _response(status: int, content_type: str, body: dict[str, Any]) -> Response:
    request = requests.Request("GET", "http://api.test/v1/disputes/dispute-o-1").prepare()
    content = json.dumps(body).encode()
    return Response(status, {"content-type": [content_type]}, content, request, elapsed=0.01, verify=True)


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (404, "application/json", {"detail": "Not Found"}),  # FastAPI's own error shape
        (409, "application/problem+json", {"type": "/x", "title": "X", "status": 409}),
        (422, "application/problem+json", {"type": "/x", "title": "X", "status": 400, "detail": "d"}),
        (500, "application/problem+json", {"type": "/x", "title": "X", "status": 500, "detail": "d"}),
    ],
)
def test_the_checks_catch_what_they_are_for(status: int, content_type: str, body: dict[str, Any]) -> None:
    case = OPERATIONS["GET /v1/disputes/{dispute_id}"].Case(path_parameters={"dispute_id": "dispute-o-1"})
    with pytest.raises(FailureGroup):
        case.validate_response(_response(status, content_type, body), checks=ALL_CHECKS)
    problem = {"type": "/x", "title": "X", "status": 404, "detail": "no dispute dispute-o-1"}
    case.validate_response(_response(404, "application/problem+json", problem), checks=ALL_CHECKS)


def test_every_check_schemathesis_has_runs() -> None:
    load_all_checks()
    assert {check.__name__ for check in ALL_CHECKS} >= set(CHECKS.get_all_names())


#: Methods a path may be sent that no route declares: each must answer 405 with the path's own.
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"]


async def test_a_method_a_path_does_not_take_is_405_with_allow(served: Served) -> None:
    """RFC 9110 15.5.6: a 405 names the methods the path does take in ``Allow``, for every path of
    the document (schemathesis' unsupported_method check, on each path, each undeclared method)."""
    document = create_app(Settings(api_keys=API_KEYS)).openapi()
    known = {name: values[0] for name, values in served.known.items()}
    async with httpx.AsyncClient(
        base_url=served.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as http:
        templates = {
            re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$"): {
                m.upper() for m in item
            }
            for path, item in document["paths"].items()
        }
        for path in document["paths"]:
            url = re.sub(r"\{(\w+)\}", lambda m: known.get(m.group(1), "x-1"), path)
            # /v1/webhooks/deliveries is also /v1/webhooks/{subscription_id}: both paths' methods.
            declared = set().union(*(methods for pattern, methods in templates.items() if pattern.match(url)))
            for method in sorted(set(METHODS) - declared):
                response = await http.request(method, url)
                assert response.status_code == 405, (method, url, response.status_code, response.text)
                allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
                # HEAD and OPTIONS are the framework's (OPTIONS: CORS on /codec), as schemathesis allows.
                assert allow - {"HEAD", "OPTIONS"} == declared, (method, path, allow, declared)
                assert response.headers["content-type"].startswith("application/problem+json")
