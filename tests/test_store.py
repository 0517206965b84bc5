"""The service database's repositories, each against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import fcntl
import os
import stat
import sys
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.settings import Settings, WebhookSubscription
from domain.case import TimelineEntry
from domain.effects import EffectName
from domain.types import Actor, EvidenceType, Role
from store.blobstore import EvidenceStore, LocalBlobStore
from store.cases import (
    ArchivedCase,
    CaseArchive,
    CaseSnapshot,
    CaseSnapshots,
    DisputeOrder,
    DisputeOrders,
    Timelines,
)
from store.db import create_engine, database
from store.evidence import EvidenceIndex, EvidenceMeta
from store.files import private_file, sqlite_file
from store.idempotency import IdempotencyKeys
from store.migrate import (
    MIGRATION_LOCK,
    SchemaOutdated,
    alembic_config,
    current,
    head,
    migrate,
    require_current,
)
from store.outbox import CARE_REPLY, Effect, Outbox
from store.webhooks import DeadLetter, DeliveryAttempt, WebhookStore
from tests.postgres import PostgresServer, free_port
from tests.support import API_KEYS, eventually, listening

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of the test's own: a SQLite file, or a new database on the session's server."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database("store")


@pytest.fixture
async def db(url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """That database migrated (as the deployment's one-shot step does) and the process's engine on it."""
    await asyncio.to_thread(migrate, url)
    async with database(Settings(data_dir=tmp_path, database_url=url)) as engine:
        yield engine


def note(case_id: str, key: str, user: str = "u-1", category: str = CARE_REPLY) -> Effect:
    return Effect(
        case_id=case_id,
        kind=EffectName.NOTIFICATION,
        party="user",
        party_id=user,
        text=f"reply {key}",
        category=category,
        idempotency_key=key,
    )


# -- migrations -----------------------------------------------------------------------------------


async def test_migrations_build_exactly_the_schema(url: str, tmp_path: Path) -> None:
    unmigrated = create_engine(url)
    try:
        with pytest.raises(SchemaOutdated, match=r"python -m store\.migrate"):
            await require_current(unmigrated)  # api and worker refuse to start on it
    finally:
        await unmigrated.dispose()

    await asyncio.to_thread(migrate, url)
    await asyncio.to_thread(migrate, url)  # again: nothing to do
    # The migrated tables are store/schema.py's, to the column type and index.
    await asyncio.to_thread(command.check, alembic_config(url))
    async with database(Settings(data_dir=tmp_path, database_url=url)) as engine:
        assert await current(engine) == head()

    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    emptied = create_engine(url)
    try:
        assert await current(emptied) is None
        async with emptied.connect() as connection:
            tables = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        assert tables == ["alembic_version"]
    finally:
        await emptied.dispose()
    await asyncio.to_thread(migrate, url)
    await asyncio.to_thread(command.check, alembic_config(url))


@asynccontextmanager
async def migration_lock_held(url: str) -> AsyncIterator[Callable[[], Awaitable[bool]]]:
    """Hold the lock a migration takes (as a migrating host would) and yield a check of whether
    another process now waits for it: PostgreSQL shows waiters in pg_locks, Linux in /proc/locks."""
    path = sqlite_file(url)
    if path is None:
        connection = await psycopg.AsyncConnection.connect(url.replace("postgresql+psycopg", "postgresql"))
        await connection.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))

        async def waiting() -> bool:
            query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            row = await (await connection.execute(query)).fetchone()
            return row is not None and row[0] > 0

        try:
            yield waiting
        finally:
            await connection.close()
        return
    private_file(path)
    lock_file = path.with_name(f"{path.name}-migrate.lock")
    lock = os.open(lock_file, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    inode = f":{os.fstat(lock).st_ino} "

    async def blocked() -> bool:
        locks = await asyncio.to_thread(Path("/proc/locks").read_text)
        return any("->" in line and "FLOCK" in line and inode in line for line in locks.splitlines())

    try:
        yield blocked
    finally:
        os.close(lock)


async def test_the_migration_step_waits_for_one_in_progress(url: str) -> None:
    """Hosts that run the one-shot step at once (or make run's api and worker) take turns: the
    second waits for the first, then finds the schema at head and does nothing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTES_")} | {
        "DISPUTES_DATABASE_URL": url
    }
    async with migration_lock_held(url) as someone_waits:
        step = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "store.migrate", env=env, cwd=ROOT, stdout=PIPE, stderr=STDOUT
        )
        await eventually(someone_waits, seconds=60)
        assert step.returncode is None
    output, _ = await asyncio.wait_for(step.communicate(), timeout=60)
    assert step.returncode == 0, output.decode()
    assert f"at revision {head()}" in output.decode()
    engine = create_engine(url)
    try:
        assert await current(engine) == head()
    finally:
        await engine.dispose()


async def test_embedded_sqlite_is_private_and_tuned(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with database(Settings(data_dir=data)) as engine:
        await Outbox(engine).record(note("care-ticket-1", "k-1"))
        async with engine.connect() as connection:
            pragma = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
            # While it is open, SQLite's side files exist too: they hold the same data.
            files = {
                path.name: stat.S_IMODE(path.stat().st_mode)
                for path in data.iterdir()
                if path.name.startswith("service.sqlite3")
            }
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30_000}
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert set(files) >= {"service.sqlite3", "service.sqlite3-wal", "service.sqlite3-shm"}
    assert set(files.values()) == {0o600}


async def test_two_processes_writing_one_sqlite_file_wait_for_each_other(tmp_path: Path) -> None:
    """make run's API and worker share the embedded file: writers queue instead of failing."""
    settings = Settings(data_dir=tmp_path)
    async with database(settings) as one, database(settings) as other:
        effects = [note(f"care-ticket-{n % 5}", f"k-{n}") for n in range(120)]
        await asyncio.gather(*(Outbox(one if n % 2 else other).record(e) for n, e in enumerate(effects)))
        recorded = [e for n in range(5) for e in await Outbox(one).for_case(f"care-ticket-{n}")]
    assert sorted(e.idempotency_key for e in recorded) == sorted(e.idempotency_key for e in effects)


# -- outbox and inbox -----------------------------------------------------------------------------


async def test_an_effect_is_recorded_once_per_key_whoever_races(db: AsyncEngine) -> None:
    outbox = Outbox(db)
    refund = Effect(
        case_id="dispute-o-1",
        kind=EffectName.REFUND_TO_BUYER,
        party="buyer",
        party_id="b-1",
        amount=150_000,
        text="refund 150000 to buyer b-1",
        idempotency_key="dispute-o-1:refund_to_buyer",
    )
    stored = await asyncio.gather(*(outbox.record(refund) for _ in range(8)))
    assert len({effect.seq for effect in stored}) == 1
    first = stored[0]
    assert first.created_at is not None and first.created_at.tzinfo is not None
    assert first.model_dump(exclude={"seq", "created_at"}) == refund.model_dump(exclude={"seq", "created_at"})
    again = await outbox.record(refund.model_copy(update={"amount": 1}))  # a retry never changes it
    assert again == first
    await outbox.record(note("dispute-o-1", "dispute-o-1:notice"))
    await outbox.record(note("dispute-o-2", "dispute-o-2:notice"))
    assert [e.idempotency_key for e in await outbox.for_case("dispute-o-1")] == [
        "dispute-o-1:refund_to_buyer",
        "dispute-o-1:notice",
    ]
    assert await outbox.for_case("dispute-o-404") == []


async def test_the_inbox_and_its_read_marks(db: AsyncEngine) -> None:
    outbox = Outbox(db)
    first = await outbox.record(note("care-ticket-1", "k-1"))
    second = await outbox.record(note("care-ticket-2", "k-2"))
    await outbox.record(note("care-ticket-1", "k-3", category="update"))  # not a care reply
    theirs = await outbox.record(note("care-ticket-3", "k-4", user="u-2"))

    inbox = await outbox.inbox("u-1")
    assert [item.id for item in inbox] == [f"msg-{second.seq}", f"msg-{first.seq}"]  # newest first
    assert [item.read for item in inbox] == [False, False]
    assert inbox[1].created_at == first.created_at

    assert await outbox.mark_read("u-1", f"msg-{first.seq}")
    assert await outbox.mark_read("u-1", f"msg-{first.seq}")  # repeating it is harmless
    assert not await outbox.mark_read("u-1", f"msg-{theirs.seq}")  # another user's message
    assert not await outbox.mark_read("u-2", f"msg-{first.seq}")
    for unknown in ("msg-999999", "msg-x", "msg-²", "msg-" + "9" * 40, ""):
        assert not await outbox.mark_read("u-1", unknown), unknown
    assert [item.read for item in await outbox.inbox("u-1")] == [False, True]
    assert [item.read for item in await outbox.inbox("u-2")] == [False]


async def test_a_notice_keeps_its_template_parameters_and_locale(db: AsyncEngine) -> None:
    """A notification row carries what its text was rendered from (JSON parameters included), on
    the case's effects and in the inbox; a row recorded before templates reads them as null."""
    outbox = Outbox(db)
    params = {"dispute_id": "dispute-o-1", "text": "Kami cek", "solution": {"kind": "EXCHANGE"}}
    templated = note("dispute-o-1", "k-t").model_copy(
        update={"template": "dispute.care_replied", "params": params, "locale": "id", "text": "Balasan ..."}
    )
    stored = await outbox.record(templated)
    assert (stored.template, stored.params, stored.locale) == ("dispute.care_replied", params, "id")
    await outbox.record(note("dispute-o-1", "k-old"))
    assert [(e.template, e.params, e.locale) for e in await outbox.for_case("dispute-o-1")] == [
        ("dispute.care_replied", params, "id"),
        (None, None, None),
    ]
    inbox = await outbox.inbox("u-1")
    assert [(item.template, item.params, item.locale) for item in inbox] == [
        (None, None, None),
        ("dispute.care_replied", params, "id"),
    ]


# -- webhooks -------------------------------------------------------------------------------------


async def test_subscriptions_belong_to_their_key_and_a_keyed_add_happens_once(db: AsyncEngine) -> None:
    configured = WebhookSubscription(id="wh-config", url="https://hooks.example/a", secret="s" * 20)
    mine = WebhookSubscription(
        id="wh-config-mine", url="https://hooks.example/m", secret="m" * 20, owner="checkout"
    )
    store = WebhookStore(db, [configured, mine])
    plain = await store.add("https://hooks.example/b", ["dispute.resolved"], None, "checkout")
    assert plain.secret.startswith("whsec-") and plain.event_types == ["dispute.resolved"]
    assert plain.owner == "checkout" and plain.source == "api"
    keyed = await asyncio.gather(
        *(store.add(f"https://hooks.example/{n}", ["*"], None, "checkout", "wh-keyed") for n in range(4))
    )
    assert len({(s.url, s.secret) for s in keyed}) == 1  # one of the racers won, all see it
    theirs = await store.add("https://hooks.example/t", ["*"], None, "logistics")

    other_host = WebhookStore(db, [configured, mine])
    every = ["wh-config", "wh-config-mine", plain.id, "wh-keyed", theirs.id]
    assert [s.id for s in await other_host.subscriptions()] == every
    assert [s.id for s in await other_host.subscriptions("checkout")] == [
        "wh-config-mine",
        plain.id,
        "wh-keyed",
    ]
    assert [s.id for s in await other_host.subscriptions("logistics")] == [theirs.id]
    assert await other_host.get("wh-keyed") == keyed[0]
    shown = await other_host.get("wh-config")
    assert shown is not None and shown.source == "settings" and shown.secret == configured.secret
    assert await other_host.get("wh-none") is None
    assert await other_host.get(theirs.id, "checkout") is None  # another key's: as if it did not exist
    assert await other_host.get("wh-config", "checkout") is None
    assert await other_host.get("wh-config-mine", "checkout") is not None
    assert (await store.add("https://x.example", ["*"], None, "checkout", "wh-config")).url == configured.url

    assert not await other_host.remove("wh-config")  # configured ones change with the settings
    assert not await other_host.remove(theirs.id, "checkout")  # nor may one key remove another's
    assert await other_host.remove(theirs.id, "logistics")
    assert await other_host.remove(plain.id)  # an admin (no owner) removes any
    assert not await store.remove(plain.id)
    assert [s.id for s in await store.subscriptions()] == ["wh-config", "wh-config-mine", "wh-keyed"]
    async with db.connect() as connection:
        owner = await connection.execute(sa.text("SELECT created_by FROM webhook_subscriptions"))
        assert owner.scalars().all() == ["checkout"]


async def test_a_rotated_secret_signs_beside_the_new_one_until_the_overlap_ends(db: AsyncEngine) -> None:
    store = WebhookStore(db, [])
    added = await store.add("https://hooks.example/r", ["*"], "first-secret-of-16+", "checkout")
    assert added.signing_secrets(T0) == ["first-secret-of-16+"]
    assert await store.rotate(added.id, "second-secret-16+", T0 + timedelta(hours=1), "logistics") is None
    rotated = await store.rotate(added.id, "second-secret-16+", T0 + timedelta(hours=1), "checkout")
    assert rotated is not None and rotated.secret == "second-secret-16+"
    assert rotated.signing_secrets(T0) == ["second-secret-16+", "first-secret-of-16+"]
    assert rotated.signing_secrets(T0 + timedelta(hours=1)) == ["second-secret-16+"]
    again = await store.rotate(added.id, "third-secret-of-16+", T0 + timedelta(hours=2))
    assert again is not None  # a second rotation within the overlap drops the oldest secret
    assert again.signing_secrets(T0) == ["third-secret-of-16+", "second-secret-16+"]


def attempt_at(at: datetime, delivered: bool, subscription_id: str = "wh-a", n: int = 1) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_id=f"{subscription_id}:e-{n}",
        event_id=f"e-{n}",
        event_type="dispute.opened",
        subscription_id=subscription_id,
        attempt=1,
        status_code=200 if delivered else 500,
        error=None,
        delivered=delivered,
        at=at,
    )


async def test_a_subscription_failing_for_the_whole_bound_is_disabled_once(db: AsyncEngine) -> None:
    store = WebhookStore(db, [])
    added = await store.add("https://hooks.example/h", ["*"], None, "checkout", "wh-a")
    bound = timedelta(days=3)
    assert not await store.record(attempt_at(T0, delivered=False), bound)
    assert (await store.get("wh-a")) == added.model_copy(update={"failing_since": T0})
    assert not await store.record(attempt_at(T0 + timedelta(days=1), delivered=True), bound)
    healthy = await store.get("wh-a")
    assert healthy is not None and healthy.failing_since is None  # a success clears the record

    start = T0 + timedelta(days=2)
    assert not await store.record(attempt_at(start, delivered=False), bound)
    assert not await store.record(attempt_at(start + timedelta(days=2), delivered=False, n=2), bound)
    # Two hosts record failures past the bound at once: one of them disables it.
    late = start + bound + timedelta(minutes=1)
    disabled = await asyncio.gather(*(store.record(attempt_at(late, False, n=n), bound) for n in range(3, 7)))
    assert sorted(disabled) == [False, False, False, True]
    shown = await store.get("wh-a")
    assert shown is not None and shown.disabled and shown.disabled_at == late
    assert shown.disabled_reason == "every delivery failed for 3 days or more"
    assert not await store.disable_if_failing("wh-a", late, bound)  # already disabled
    assert [s.id for s in await store.subscriptions() if s.disabled] == ["wh-a"]

    await store.enable("wh-a")
    enabled = await store.get("wh-a")
    assert enabled is not None and not enabled.disabled and enabled.failing_since is None
    assert not await store.disable_if_failing("wh-a", late + bound, bound)  # nothing failing now


async def test_delivery_attempts_newest_first(db: AsyncEngine) -> None:
    store = WebhookStore(db, [])
    for n, (event_id, subscription_id) in enumerate([("e-1", "wh-a"), ("e-1", "wh-b"), ("e-2", "wh-a")]):
        await store.record(
            DeliveryAttempt(
                delivery_id=f"{subscription_id}:{event_id}",
                event_id=event_id,
                event_type="dispute.opened",
                subscription_id=subscription_id,
                attempt=1,
                status_code=None if n == 0 else 200,
                error="ConnectError: refused" if n == 0 else None,
                delivered=n != 0,
                at=T0 + timedelta(seconds=n),
            )
        )
    every = await store.attempts()
    assert [(a.event_id, a.subscription_id) for a in every] == [
        ("e-2", "wh-a"),
        ("e-1", "wh-b"),
        ("e-1", "wh-a"),
    ]
    assert every[-1].error == "ConnectError: refused" and not every[-1].delivered
    assert every[0].at == T0 + timedelta(seconds=2)
    assert [a.subscription_id for a in await store.attempts(event_id="e-1")] == ["wh-b", "wh-a"]
    assert [a.event_id for a in await store.attempts(subscription_id="wh-a")] == ["e-2", "e-1"]
    assert len(await store.attempts(event_id="e-1", subscription_id="wh-a")) == 1
    await store.add("https://hooks.example/a", ["*"], None, "checkout", "wh-a")
    await store.add("https://hooks.example/b", ["*"], None, "logistics", "wh-b")
    assert [a.subscription_id for a in await store.attempts(owner="checkout")] == ["wh-a", "wh-a"]
    assert [a.subscription_id for a in await store.attempts(event_id="e-1", owner="logistics")] == ["wh-b"]
    assert await store.attempts(owner="nobody") == []
    count, last = await store.last_attempt("wh-a:e-1")
    assert count == 1 and last is not None and last.error == "ConnectError: refused"
    assert await store.last_attempt("wh-none:e-1") == (0, None)


async def test_dead_letters_are_listed_and_redelivered_once(db: AsyncEngine) -> None:
    store = WebhookStore(db, [])
    event = {"id": "dispute-o-1:4", "type": "dispute.resolved", "data": {"amount": 30000, "note": "ÿ ✓"}}
    letter = DeadLetter(
        delivery_id="wh-a:dispute-o-1:4",
        subscription_id="wh-a",
        event=event,
        last_error="receiver answered 503",
        attempts=41,
        dead_at=T0,
    )
    await store.add_dead_letter(letter)
    await store.add_dead_letter(letter)  # a retried activity parks it again: still one
    await store.add_dead_letter(
        letter.model_copy(update={"delivery_id": "wh-b:e-9", "subscription_id": "wh-b"})
    )
    assert [d.delivery_id for d in await store.dead_letters()] == ["wh-a:dispute-o-1:4", "wh-b:e-9"]
    assert await store.dead_letters("wh-a") == [letter]
    await store.add("https://hooks.example/a", ["*"], None, "checkout", "wh-a")
    assert await store.dead_letters(owner="checkout") == [letter]  # wh-b is not checkout's
    assert await store.dead_letter("wh-b:e-9", owner="checkout") is None
    assert await store.dead_letter(letter.delivery_id, owner="checkout") == letter

    # Two API hosts asked to redeliver at once: exactly one of them does.
    marks = await asyncio.gather(
        *(store.mark_redelivered(letter.delivery_id, T0 + timedelta(hours=1)) for _ in range(4))
    )
    assert sorted(marks) == [False, False, False, True]
    assert not await store.mark_redelivered("wh-none", T0)
    await store.unmark_redelivered(letter.delivery_id, T0)  # not the mark that was made: kept
    assert await store.dead_letters("wh-a") == []
    [shown] = await store.dead_letters("wh-a", include_redelivered=True)
    assert shown.redelivered_at == T0 + timedelta(hours=1)

    died_again = letter.model_copy(update={"attempts": 80, "dead_at": T0 + timedelta(days=3)})
    await store.add_dead_letter(died_again)
    assert await store.dead_letter(letter.delivery_id) == died_again  # the mark is cleared
    assert await store.dead_letter("wh-none") is None


# -- evidence metadata ----------------------------------------------------------------------------


async def test_evidence_metadata_lives_in_the_database(db: AsyncEngine, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "evidence")
    pdf = b"%PDF-1.4\n%%EOF\n"
    buyer, seller = Actor(role=Role.BUYER, id="b-1"), Actor(role=Role.SELLER, id="s-1")
    first = await EvidenceStore(blobs, db).save(pdf, "application/pdf", buyer, "checkout", T0)
    other_host = EvidenceStore(blobs, db)
    again = await other_host.save(pdf, "application/pdf", seller, "other-key", T0 + timedelta(days=1))
    assert again.reference != first.reference and again.sha256 == first.sha256  # one file per upload
    assert (again.uploaded_by, again.caller) == (seller, "other-key")
    assert await other_host.meta(first.reference) == first
    assert await other_host.content(first.reference) == await other_host.content(again.reference) == pdf
    stored = sorted(path.name for path in blobs.root.iterdir())
    assert stored == sorted([first.reference, again.reference])  # no sidecar
    assert await other_host.meta("ev-" + "0" * 32) is None

    index = EvidenceIndex(db)
    racing = [first.model_copy(update={"reference": "ev-" + "1" * 32, "caller": f"c-{n}"}) for n in range(4)]
    winners = await asyncio.gather(*(index.add(meta) for meta in racing))
    assert len({w.caller for w in winners}) == 1
    assert isinstance(winners[0], EvidenceMeta) and winners[0].uploaded_by == buyer
    assert first.type is EvidenceType.OTHER  # untyped uploads, and those from before types
    video = await other_host.save(pdf, "application/pdf", buyer, "checkout", T0, EvidenceType.VIDEO_UNBOXING)
    assert (await EvidenceIndex(db).get(video.reference)) == video
    assert video.type is EvidenceType.VIDEO_UNBOXING


# -- timelines, snapshots, the archive, the order registry ----------------------------------------


def entry(seq: int, event: str = "message", **detail: object) -> TimelineEntry:
    return TimelineEntry(
        seq=seq,
        at=T0 + timedelta(minutes=seq),
        event=event,
        actor=Actor(role=Role.BUYER, id="b-1"),
        status="AWAITING_SELLER",
        detail=dict(detail),
    )


async def test_timeline_appends_are_idempotent_and_ordered(db: AsyncEngine) -> None:
    timelines = Timelines(db)
    opened = TimelineEntry(seq=1, at=T0, event="opened", status="AWAITING_SELLER")
    await timelines.append("dispute-o-1", [opened, entry(2, text="Paket belum sampai ✓", evidence=["ev-1"])])
    # A retried activity writes rows 2 and 3; row 2 keeps what was first written.
    await timelines.append("dispute-o-1", [entry(3), entry(2, text="changed")])
    await timelines.append("dispute-o-1", [])
    await timelines.append("dispute-o-2", [entry(1)])

    stored = await timelines.for_case("dispute-o-1")
    assert [e.seq for e in stored] == [1, 2, 3]
    assert stored[0] == opened and stored[0].actor is None
    assert stored[1].detail == {"text": "Paket belum sampai ✓", "evidence": ["ev-1"]}
    assert stored[2].at == T0 + timedelta(minutes=3)
    assert [e.seq for e in await timelines.for_case("dispute-o-1", after_seq=1)] == [2, 3]
    assert await timelines.for_case("dispute-o-1", after_seq=3) == []
    assert await timelines.for_case("dispute-o-404") == []


async def test_a_snapshot_only_moves_forward_and_goes_when_the_case_is_archived(db: AsyncEngine) -> None:
    snapshots, archive = CaseSnapshots(db), CaseArchive(db)
    v3 = CaseSnapshot(
        case_id="dispute-o-1", kind="dispute", state={"status": "IN_MEDIATION"}, version=3, as_of=T0
    )
    assert await snapshots.save(v3)
    assert not await snapshots.save(v3.model_copy(update={"version": 2, "state": {"status": "OLD"}}))
    assert not await snapshots.save(v3.model_copy(update={"state": {"status": "SAME VERSION"}}))
    assert await snapshots.get("dispute-o-1") == v3
    v5 = v3.model_copy(
        update={"version": 5, "state": {"status": "RESOLVED"}, "as_of": T0 + timedelta(hours=1)}
    )
    assert await snapshots.save(v5)
    assert await snapshots.get("dispute-o-1") == v5
    assert await snapshots.get("dispute-o-404") is None

    await archive.archive(
        ArchivedCase(case_id="dispute-o-1", kind="dispute", status="RESOLVED", closed_at=T0, state={})
    )
    assert await snapshots.get("dispute-o-1") is None
    assert not await snapshots.save(v5.model_copy(update={"version": 6}))  # a late save after close
    assert await snapshots.get("dispute-o-1") is None


async def test_a_closed_case_is_archived_once(db: AsyncEngine) -> None:
    archive = CaseArchive(db)
    closed = ArchivedCase(
        case_id="dispute-o-1",
        kind="dispute",
        order_id="o-1",
        status="RESOLVED",
        closed_at=T0,
        state={"status": "RESOLVED", "outcome": {"refunded_to_buyer": 100_000}, "timeline": [{"seq": 1}]},
        idempotency={"idem-abc": {"status": "RESOLVED"}},
    )
    assert await archive.archive(closed) == closed
    retried = closed.model_copy(update={"status": "CHANGED", "closed_at": T0 + timedelta(days=1)})
    assert await archive.archive(retried) == closed
    assert await CaseArchive(db).get("dispute-o-1") == closed
    assert await archive.get("dispute-o-404") is None
    ticket = ArchivedCase(case_id="care-ticket-1", kind="ticket", status="CLOSED", closed_at=T0, state={})
    assert (await archive.archive(ticket)).order_id is None


async def test_one_dispute_per_order(db: AsyncEngine) -> None:
    orders = DisputeOrders(db)
    order = DisputeOrder(
        order_id="o-1", dispute_id="dispute-o-1", buyer_id="b-1", seller_id="s-1", status="OPEN", opened_at=T0
    )
    racing = [order.model_copy(update={"dispute_id": f"dispute-{n}"}) for n in range(4)]
    registered = await asyncio.gather(*(orders.register(o) for o in racing))
    assert len({r.dispute_id for r in registered}) == 1
    assert (await orders.register(order)).dispute_id == registered[0].dispute_id

    closed = await orders.close("o-1", "RESOLVED", T0 + timedelta(days=2))
    assert closed is not None and (closed.status, closed.closed_at) == ("RESOLVED", T0 + timedelta(days=2))
    assert await orders.close("o-1", "CANCELLED", T0 + timedelta(days=9)) == closed  # the first close stays
    assert await orders.get("o-1") == closed
    assert await orders.close("o-404", "RESOLVED", T0) is None
    assert await orders.get("o-404") is None


# -- Idempotency-Key records ----------------------------------------------------------------------


async def test_an_idempotency_key_is_claimed_by_exactly_one_request(db: AsyncEngine) -> None:
    keys = IdempotencyKeys(db)
    claims = await asyncio.gather(
        *(keys.claim("d-1", "checkout", "POST /v1/webhooks", f"fp-{n}", T0) for n in range(6))
    )
    assert sorted(claim.created for claim in claims) == [False] * 5 + [True]
    winner = next(claim.record for claim in claims if claim.created)
    assert {claim.record.fingerprint for claim in claims} == {winner.fingerprint}  # all see the winner
    assert winner.status_code is None and winner.response is None and winner.created_at == T0

    response = {"id": "wh-1", "secret": "whsec-x", "event_types": ["*"], "nested": {"n": [1, 2.5, None]}}
    assert await keys.complete("d-1", 201, response)
    assert not await keys.complete("d-1", 500, {"other": True})  # the first answer stays
    assert not await keys.complete("d-404", 201, {})
    retry = await keys.claim("d-1", "checkout", "POST /v1/webhooks", "fp-other")
    assert not retry.created
    assert (retry.record.status_code, retry.record.response) == (201, response)
    assert await keys.get("d-1") == retry.record
    assert await keys.get("d-404") is None


async def test_health_tells_when_the_database_is_unreachable(dev_server_env: WorkflowEnvironment) -> None:
    unreachable = create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none", timeout=timedelta(seconds=2)
    )
    app = create_app(Settings(api_keys=API_KEYS), client=dev_server_env.client, engine=unreachable)
    try:
        async with listening(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
            health = await http.get("/health")
    finally:
        await unreachable.dispose()
    assert health.status_code == 503
    assert health.json() == {"status": "degraded", "temporal": "ok", "database": "unreachable"}
