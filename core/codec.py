"""AES-256-GCM encryption of every payload the service hands Temporal (inputs, results, memos,
summaries, signals, updates, queries, failure messages), with the key id in each payload's metadata
so keys can rotate: new payloads use the first key, old ones decrypt with whichever key made them."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class PayloadDecryptError(ValueError):
    """A payload could not be decrypted: an unknown key id, or it was not made with that key."""


class EncryptionCodec(PayloadCodec):
    """Encrypt each payload whole (data and metadata) with the first key; decrypt with any key.

    The key id is also the GCM associated data, so a payload relabelled with another key id does
    not decrypt. Payloads that are not ``binary/encrypted`` (written before encryption was turned
    on) pass through decoding unchanged."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise ValueError("the encryption codec needs at least one key")
        self.key_id = next(iter(keys))
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt every payload with the current (first) key."""
        cipher, key_id = self._ciphers[self.key_id], self.key_id.encode()
        encrypted = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), key_id)
            encrypted.append(Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=data))
        return encrypted

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt every encrypted payload with the key its metadata names."""
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID, b"")
            name = key_id.decode(errors="replace")
            cipher = self._ciphers.get(name)
            if cipher is None:
                raise PayloadDecryptError(f"payload encrypted with unknown key id {name!r}")
            try:
                plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id)
            except InvalidTag:
                raise PayloadDecryptError(f"payload does not decrypt with key {name!r} (altered?)") from None
            decoded.append(Payload.FromString(plain))
        return decoded
