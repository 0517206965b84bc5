"""Webhook deliveries cannot be pointed into our network: each bypass of the old guard, tried.

No test here connects to a public address: where a name "resolves" to one, an injected resolver
says so and a recording transport stands in for the network behind the address check."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.webhooks import Delivery, WebhookActivities
from core.egress import REFUSED, IPAddress, is_public
from core.settings import Settings, WebhookSubscription
from domain.outbound import CaseEvent, EventType
from store.webhooks import webhook_store
from tests.support import listening, serving

INTERNAL = [
    "127.0.0.1",
    "10.0.0.7",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "198.18.0.1",
    "224.0.0.251",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fec0::1",
    "ff02::1",
    "2001:db8::1",
    "3fff::1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a00:7",  # NAT64 of 10.0.0.7
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "::a9fe:a9fe",
]
PUBLIC = ["93.184.215.14", "2606:4700::1111", "2a00:1450:4001:80e::200e"]
ONE_SHOT = httpx.Limits(max_keepalive_connections=0)  # as the service's own transport


@pytest.mark.parametrize("address", INTERNAL)
def test_special_purpose_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_ordinary_public_addresses_are(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


class Resolver:
    """DNS under the test's control: each lookup of a name takes its next answer."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        queue = self.answers[host]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return [ipaddress.ip_address(a) for a in answer]


class Network:
    """Stands in for everything past the address check: records where each request went."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(204)


def delivery_for(subscription_id: str) -> Delivery:
    event = CaseEvent(
        id="dispute-o-1:1",
        type=EventType.DISPUTE_OPENED,
        case_id="dispute-o-1",
        occurred_at=datetime.now(UTC),
        data={},
    )
    return Delivery(
        delivery_id=f"{subscription_id}:{event.id}",
        subscription_id=subscription_id,
        event=event,
        timeout=timedelta(seconds=5),
        max_retry_interval=timedelta(seconds=5),
    )


def hooks(
    engine: AsyncEngine,
    tmp_path: Path,
    url: str,
    resolver: Resolver,
    network: Network | httpx.AsyncBaseTransport | None,
    **extra: Any,
) -> WebhookActivities:
    subscription = WebhookSubscription(
        id="wh-1", url=url, secret="whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
    )
    settings = Settings(data_dir=tmp_path, webhooks=[subscription], **extra)
    transport = httpx.MockTransport(network) if isinstance(network, Network) else network
    return WebhookActivities(
        webhook_store(settings, engine), settings, resolver=resolver, transport=transport
    )


async def deliver(activities: WebhookActivities) -> Any:
    return await ActivityEnvironment().run(activities.deliver_webhook, delivery_for("wh-1"))


async def refused(activities: WebhookActivities) -> str:
    with pytest.raises(ApplicationError) as failure:
        await deliver(activities)
    assert failure.value.type == "WebhookTargetRefused" and failure.value.non_retryable
    assert failure.value.message == REFUSED
    latest = (await activities.store.attempts(event_id="dispute-o-1:1"))[0]
    assert latest.error == REFUSED and not latest.delivered
    return latest.error


async def test_dns_rebinding_cannot_reach_the_internal_answer(tmp_path: Path, engine: AsyncEngine) -> None:
    """The old guard resolved the name to check it, then httpx resolved it again to connect: a
    name answering public, then 127.0.0.1, passed the check and reached loopback."""
    resolver = Resolver({"rebind.example": [["93.184.215.14"], ["127.0.0.1"]]})
    network = Network()
    activities = hooks(engine, tmp_path, "https://rebind.example:8443/hooks?token=abc", resolver, network)

    await deliver(activities)

    assert resolver.lookups == ["rebind.example"]  # resolved once, for the check and the connection
    [sent] = network.sent
    assert sent.url.host == "93.184.215.14" and sent.url.port == 8443
    assert sent.headers["host"] == "rebind.example:8443"  # virtual hosting still sees the name
    assert sent.extensions["sni_hostname"] == "rebind.example"  # and TLS verifies the name
    assert sent.url.path == "/hooks" and sent.url.query == b"token=abc"

    # the next attempt meets the internal answer: refused before any connection
    await refused(activities)
    assert len(network.sent) == 1


@pytest.mark.parametrize(
    "answer",
    [
        ["93.184.215.14", "127.0.0.1"],  # one internal answer among public ones
        ["64:ff9b::a9fe:a9fe"],  # NAT64 of the metadata service
        ["64:ff9b:1::7f00:1"],
        ["2002:7f00:1::1"],  # 6to4
        ["2001:0:4136:e378:8000:63bf:3fff:fdd2"],  # Teredo
        ["::ffff:10.0.0.7"],  # IPv4-mapped
        ["::a9fe:a9fe"],  # IPv4-compatible
        ["100.64.0.1"],
    ],
)
async def test_names_resolving_to_special_addresses_are_refused(
    tmp_path: Path, engine: AsyncEngine, answer: list[str]
) -> None:
    network = Network()
    await refused(
        hooks(engine, tmp_path, "https://hooks.example/in", Resolver({"hooks.example": [answer]}), network)
    )
    assert network.sent == []


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::7f00:1]/x",
        "http://[64:ff9b:1::a00:7]/x",
        "http://[2002:7f00:1::1]/x",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://[::127.0.0.1]/x",
        "http://100.64.0.1/x",
        "http://localhost./x",
        "http://api.localhost/x",
    ],
)
async def test_literal_bypasses_are_refused_at_delivery(
    tmp_path: Path, engine: AsyncEngine, url: str
) -> None:
    network = Network()
    resolver = Resolver({})
    await refused(hooks(engine, tmp_path, url, resolver, network))
    assert network.sent == [] and resolver.lookups == []


async def test_literal_bypasses_are_refused_at_subscription(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    async with serving(Settings(task_queue=task_queue, data_dir=tmp_path), dev_server_env) as api:
        for url in (
            "http://[64:ff9b::7f00:1]/x",
            "http://[2002:a9fe:a9fe::1]/x",
            "http://[::ffff:10.0.0.7]/x",
        ):
            response = await api.post("/v1/webhooks", json={"url": url})
            assert response.status_code == 422, (url, response.text)
            assert response.json()["errors"][0]["field"] == "url"


async def test_delivery_errors_name_no_address(tmp_path: Path, engine: AsyncEngine) -> None:
    """A key holder reads the delivery log: errors say what failed, never where it connected."""
    resolver = Resolver({"closed.example": [["127.0.0.1"]]})
    activities = hooks(
        engine, tmp_path, "http://closed.example:9/hooks", resolver, None, webhook_allow_private_hosts=True
    )
    with pytest.raises(ApplicationError) as failure:
        await deliver(activities)
    [attempt] = await activities.store.attempts(event_id="dispute-o-1:1")
    assert attempt.error == "ConnectError: could not connect"
    assert "127.0.0.1" not in failure.value.message


# -- the real network: loopback only ---------------------------------------------------------


def certificate_for(name: str, folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate (and key) for ``name``, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class Receiver:
    """Records what reached it."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.app = Starlette(routes=[Route("/{path:path}", self.hook, methods=["POST", "GET"])])

    async def hook(self, request: Request) -> JSONResponse:
        self.seen.append(dict(request.headers))
        return JSONResponse({"ok": True})


@pytest.fixture
async def tls_receiver(tmp_path: Path) -> AsyncIterator[tuple[Receiver, int, Path]]:
    receiver = Receiver()
    cert, key = certificate_for("hooks.test", tmp_path)
    config = uvicorn.Config(
        receiver.app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ssl_certfile=cert,
        ssl_keyfile=key,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield receiver, server.servers[0].sockets[0].getsockname()[1], cert
    finally:
        server.should_exit = True
        await task


async def test_the_pinned_connection_verifies_tls_for_the_name(
    tls_receiver: tuple[Receiver, int, Path], tmp_path: Path, engine: AsyncEngine
) -> None:
    receiver, port, cert = tls_receiver
    trusted = ssl.create_default_context(cafile=str(cert))
    resolver = Resolver({"hooks.test": [["127.0.0.1"]]})
    inner = httpx.AsyncHTTPTransport(verify=trusted, trust_env=False, limits=ONE_SHOT)
    activities = hooks(
        engine,
        tmp_path / "ok",
        f"https://hooks.test:{port}/in",
        resolver,
        inner,
        webhook_allow_private_hosts=True,
    )
    result = await deliver(activities)
    assert result.status_code == 200
    assert receiver.seen[0]["host"] == f"hooks.test:{port}"

    # the certificate is for hooks.test: the same address under another name fails verification
    resolver.answers["other.test"] = [["127.0.0.1"]]
    mismatched = hooks(
        engine,
        tmp_path / "bad",
        f"https://other.test:{port}/in",
        resolver,
        httpx.AsyncHTTPTransport(verify=trusted, trust_env=False, limits=ONE_SHOT),
        webhook_allow_private_hosts=True,
    )
    with pytest.raises(ApplicationError):
        await deliver(mismatched)
    await activities.http.aclose()
    await mismatched.http.aclose()
    [attempt] = [a for a in await mismatched.store.attempts(event_id="dispute-o-1:1") if not a.delivered]
    assert attempt.error is not None and attempt.error.startswith("ConnectError")
    assert len(receiver.seen) == 1


async def test_no_proxy_from_the_environment(
    tmp_path: Path, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old client honoured HTTP(S)_PROXY / ALL_PROXY: a delivery could leave through a proxy
    the operator set for something else, which then connects wherever the URL says. (httpx 0.28
    reads no .netrc by itself; ``trust_env=False`` also keeps SSL_CERT_FILE from changing the CAs.)"""
    receiver, proxy = Receiver(), Receiver()
    async with listening(receiver.app) as receiver_url, listening(proxy.app) as proxy_url:
        port = httpx.URL(receiver_url).port
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        resolver = Resolver({"hooks.test": [["127.0.0.1"]]})
        activities = hooks(
            engine, tmp_path, f"http://hooks.test:{port}/in", resolver, None, webhook_allow_private_hosts=True
        )
        result = await deliver(activities)
    assert result.status_code == 200
    assert proxy.seen == [] and len(receiver.seen) == 1


async def test_each_checked_address_is_tried_in_turn(tmp_path: Path, engine: AsyncEngine) -> None:
    """localhost answers ::1 and 127.0.0.1; a receiver on 127.0.0.1 alone is still reached, with
    one lookup (the fallback never resolves again)."""
    receiver = Receiver()
    async with listening(receiver.app) as url:
        port = httpx.URL(url).port
        resolver = Resolver({"hooks.test": [["::1", "127.0.0.1"]]})
        activities = hooks(
            engine, tmp_path, f"http://hooks.test:{port}/in", resolver, None, webhook_allow_private_hosts=True
        )
        result = await deliver(activities)
    assert result.status_code == 200 and len(receiver.seen) == 1
    assert resolver.lookups == ["hooks.test"]
