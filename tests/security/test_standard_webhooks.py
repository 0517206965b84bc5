"""Deliveries are signed as the Standard Webhooks specification says, checked with its library the
way a receiver would (``Webhook(secret).verify(body, headers)``); real deliveries are verified
the same way in tests/test_webhooks_e2e.py, during a secret rotation's overlap by receivers
holding the old and the new secret, and after it."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from activities.webhooks import signed_headers
from store.webhooks import new_secret

BODY = json.dumps(
    {"id": "dispute-o-1:1", "type": "dispute.opened", "data": {}}, separators=(",", ":")
).encode()


def test_generated_secrets_are_whsec_base64_of_32_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert new_secret() != secret


def test_a_delivery_verifies_with_the_library() -> None:
    secret = new_secret()
    headers = signed_headers([secret], "dispute-o-1:1", int(time.time()), BODY)
    assert set(headers) == {"content-type", "webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"opened", b"closed"), headers)
    with pytest.raises(WebhookVerificationError):  # the id is signed too
        Webhook(secret).verify(BODY, headers | {"webhook-id": "dispute-o-1:2"})
    with pytest.raises(WebhookVerificationError):  # and so is the timestamp; old ones are refused
        stale = signed_headers([secret], "dispute-o-1:1", int(time.time()) - 3600, BODY)
        Webhook(secret).verify(BODY, stale)


def test_every_active_secret_signs_while_a_rotation_overlaps() -> None:
    old, new, unrelated = new_secret(), new_secret(), new_secret()
    headers = signed_headers([old, new], "dispute-o-1:1", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(unrelated).verify(BODY, headers)


def test_a_secret_from_before_whsec_is_used_as_its_bytes() -> None:
    legacy = "whsec-a-secret-configured-before-the-standard"  # the old generated form, or any string
    headers = signed_headers([legacy], "dispute-o-1:1", int(time.time()), BODY)
    Webhook(legacy.encode()).verify(BODY, headers)


def test_the_old_stripe_like_header_is_what_standard_receivers_refused() -> None:
    """Before: ``t=<ts>,v1=<hex>`` under the Standard Webhooks header names, which the library
    rejects whatever the secret; now the library accepts what is sent."""
    secret = new_secret()
    now = int(time.time())
    old_style = {"webhook-id": "x", "webhook-timestamp": str(now), "webhook-signature": f"t={now},v1=00ff"}
    with pytest.raises((WebhookVerificationError, ValueError)):
        Webhook(secret).verify(BODY, old_style)


@pytest.mark.parametrize(
    ("secret", "accepted"),
    [
        (None, True),
        ("whsec_" + base64.b64encode(b"k" * 32).decode(), True),
        ("a-plain-secret-of-enough-length", True),
        ("whsec_not base64 at all!!", False),
        ("whsec_" + base64.b64encode(b"k" * 8).decode(), False),  # 8 bytes: too short a key
    ],
)
async def test_subscription_secrets_are_checked(
    api: httpx.AsyncClient, secret: str | None, accepted: bool
) -> None:
    body: dict[str, object] = {"url": "http://127.0.0.1:9/hooks", "event_types": ["dispute.opened"]}
    if secret is not None:
        body["secret"] = secret
    response = await api.post("/v1/webhooks", json=body)
    if not accepted:
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "secret"
        return
    assert response.status_code == 201, response.text
    given = response.json()["secret"]
    assert given == secret if secret else given.startswith("whsec_")
