"""AES-256-GCM encryption of every payload the service hands Temporal (inputs, results, memos,
summaries, signals, updates, queries, failure messages), with the key id in each payload's metadata
so keys can rotate: new payloads use the first key, old ones decrypt with whichever key made them."""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from core.settings import PAYLOAD_KEYS_FILE, get_settings

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


def new_key_file(data_dir: Path) -> Path:
    """``<data_dir>/payload-keys.json`` with one new AES-256 key, unless the file is there: readable
    by this user only. ``make run`` and compose's one-shot ``payload-keys`` step create it; every
    process then reads it through the settings (``Settings.payload_keys``)."""
    path = data_dir / PAYLOAD_KEYS_FILE
    if path.exists():
        return path
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys = {f"local-{secrets.token_hex(4)}": base64.b64encode(secrets.token_bytes(32)).decode()}
    # Created 0600 and exclusively: two processes racing here leave one file, never a mix.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(descriptor, "w") as file:
        file.write(json.dumps(keys, indent=2) + "\n")
    return path


def main() -> None:
    """Compose's one-shot ``payload-keys`` step: create the data folder's key unless keys are set."""
    settings = get_settings()
    if settings.payload_keys and not (settings.data_dir / PAYLOAD_KEYS_FILE).exists():
        print("payload keys: DISPUTES_PAYLOAD_KEYS is set; nothing to create")
        return
    print(f"payload keys: {new_key_file(settings.data_dir)}")


if __name__ == "__main__":
    main()
