"""Evidence files (photos, video, PDF) in a blob store: a local folder or an S3-compatible bucket.

Cases cite evidence by reference only; the bytes live here, their metadata in the service database."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import aioboto3  # type: ignore[import-untyped]
import puremagic
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from domain.types import Actor, EvidenceType
from store.evidence import REFERENCE_PATTERN, EvidenceIndex, EvidenceMeta

#: The media types accepted as evidence, as sniffed from the bytes, and the file extension of each.
ACCEPTED_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "application/pdf": ".pdf",
}
UNKNOWN_TYPE = "application/octet-stream"
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class BlobStore(Protocol):
    """Bytes under flat keys; writing a key again replaces it whole."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None: ...


def _checked(key: str) -> str:
    if not _KEY.fullmatch(key) or ".." in key:
        raise ValueError(f"not a blob key: {key!r}")
    return key


class LocalBlobStore:
    """Blobs as files in one folder, each written atomically (temporary file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)  # a checked key has no separator: it stays in root

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (the content type is kept in the evidence metadata)."""
        await asyncio.to_thread(self._write, self._path(key), data)

    async def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or None when there are none."""
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    def _write(self, path: Path, data: bytes) -> None:
        # Evidence is personal data: only the service's own user may list or read it.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root.chmod(0o700)  # also a folder made by an older version (or before a umask change)
        fd, temporary = tempfile.mkstemp(dir=self.root, prefix=".upload-")  # created 0600
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class S3BlobStore:
    """Blobs as objects in an S3-compatible bucket; credentials come from the standard AWS settings."""

    def __init__(
        self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None, prefix: str = ""
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.prefix = prefix
        self._session = aioboto3.Session()

    def _client(self) -> Any:
        return self._session.client("s3", endpoint_url=self.endpoint_url, region_name=self.region)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` with its content type."""
        async with self._client() as s3:
            await s3.put_object(
                Bucket=self.bucket, Key=self.prefix + _checked(key), Body=data, ContentType=content_type
            )

    async def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or None when there are none."""
        async with self._client() as s3:
            try:
                found = await s3.get_object(Bucket=self.bucket, Key=self.prefix + _checked(key))
            except s3.exceptions.NoSuchKey:
                return None
            async with found["Body"] as body:
                data: bytes = await body.read()
                return data


def blob_store(settings: Settings) -> BlobStore:
    """The blob store the settings name: ``local`` (under the data folder) or ``s3``."""
    if settings.blob_store == "s3":
        if not settings.s3_bucket:
            raise ValueError("DISPUTES_BLOB_STORE=s3 needs DISPUTES_S3_BUCKET")
        return S3BlobStore(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            prefix="evidence/",
        )
    return LocalBlobStore(settings.evidence_path)


def sniff(data: bytes) -> str:
    """The media type the bytes really are, whatever the client declared (``UNKNOWN_TYPE`` if unknown).

    Among puremagic's most confident matches an accepted type wins, so a PDF is not taken for
    its equally likely form-data cousin."""
    try:
        matches = puremagic.magic_string(data)
    except (puremagic.PureError, ValueError):
        return UNKNOWN_TYPE
    top = max((match.confidence for match in matches), default=0.0)
    best = [str(match.mime_type) for match in matches if match.confidence == top]
    accepted = [mime for mime in best if mime in ACCEPTED_TYPES]
    named = [mime for mime in best if mime]
    return (accepted or named or [UNKNOWN_TYPE])[0]


class EvidenceStore:
    """Evidence files, one per upload under a random reference: the same bytes uploaded twice are two
    files, so an upload tells nothing about anyone else's. The bytes go to the blob store, the
    metadata (with the SHA-256 of the bytes) to the service database."""

    def __init__(self, blobs: BlobStore, engine: AsyncEngine) -> None:
        self.blobs = blobs
        self.index = EvidenceIndex(engine)

    @staticmethod
    def new_reference() -> str:
        """A fresh reference: 128 random bits, so nobody can guess another upload's."""
        return f"ev-{secrets.token_hex(16)}"

    async def save(
        self,
        data: bytes,
        content_type: str,
        uploaded_by: Actor,
        caller: str,
        now: datetime,
        evidence_type: EvidenceType = EvidenceType.OTHER,
    ) -> EvidenceMeta:
        """Store the file under a new reference and record who uploaded it, and what it shows."""
        meta = EvidenceMeta(
            type=evidence_type,
            reference=self.new_reference(),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            content_type=content_type,
            uploaded_by=uploaded_by,
            caller=caller,
            created_at=now,
        )
        await self.blobs.put(meta.reference, data, content_type)
        # The metadata goes last: a file counts as stored once its row exists.
        return await self.index.add(meta)

    async def meta(self, reference: str) -> EvidenceMeta | None:
        """The metadata of a stored file, or None for an unknown reference."""
        if not re.fullmatch(REFERENCE_PATTERN, reference):
            return None
        return await self.index.get(reference)

    async def content(self, reference: str) -> bytes | None:
        """The bytes of a stored file, or None for an unknown reference."""
        if not re.fullmatch(REFERENCE_PATTERN, reference):
            return None
        return await self.blobs.get(reference)
