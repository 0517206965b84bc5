"""The outbox of outside effects: the repository lives in the service database (store.outbox)."""

from __future__ import annotations

from store.outbox import CARE_REPLY as CARE_REPLY
from store.outbox import Outbox as Outbox
