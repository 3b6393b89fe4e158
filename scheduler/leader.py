"""One leader among scheduler replicas: a PostgreSQL advisory lock held on its own connection.

The rule scan runs only in the leader. When the leader dies its connection closes, the lock is
released, and a standby's next try (every few seconds) takes it. Correctness does not rest on
this alone: the rules lock their cursor rows and dedupe their notices, so even two leaders for a
moment could not send anything twice. On SQLite (one process) the only scheduler leads.
"""

from __future__ import annotations

from sqlalchemy import Engine

from plumbing import leader

# Any constant shared by all replicas; "tongdai" on a phone keypad.
LEADER_LOCK = 8664324


class Leadership(leader.Leadership):
    """The scheduler's leader: the holder of LEADER_LOCK."""

    def __init__(self, engine: Engine, lock_id: int = LEADER_LOCK) -> None:
        super().__init__(engine, lock_id, "scheduler")
