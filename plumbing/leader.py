"""One process among replicas: a PostgreSQL advisory lock held on its own connection.

Used where exactly one replica must do a job (the scheduler's rules, the AGI servers' call log).
When the holder dies its connection closes, the lock is released, and another replica's next
try takes it. On SQLite (one process) the only process holds it.
"""

from __future__ import annotations

import logging
import os
import socket

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)


class Leadership:
    def __init__(self, engine: Engine, lock_id: int, name: str) -> None:
        self.engine = engine
        self.name = name  # in log lines
        self.lock_id = lock_id
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self._connection: Connection | None = None

    @property
    def exclusive(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def is_leader(self) -> bool:
        """True while this process holds the lock (trying to take it when it does not)."""
        if not self.exclusive:
            return True
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                return True
            except Exception:  # the database restarted: the lock went with the connection
                log.warning("%s: lost the leader connection", self.name)
                self._drop()
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:id)"), {"id": self.lock_id}
            ).scalar()
        except Exception:
            connection.close()
            raise
        if got:
            self._connection = connection
            log.info("%s: %s is now the leader", self.name, self.holder)
            return True
        connection.close()
        return False

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
            finally:
                self._connection = None

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": self.lock_id}
                )
                self._connection.close()
            finally:
                self._connection = None


class Slots:
    """One of `count` places among replicas (advisory locks `first_id` .. `first_id + count - 1`),
    for a job several replicas may do at once but not all: the SMPP binds an account allows.
    `hold` keeps the place this process has, or takes the first free one; None when all are
    taken. On SQLite (one process) the only process holds place 0."""

    def __init__(self, engine: Engine, first_id: int, count: int, name: str) -> None:
        self.places = [Leadership(engine, first_id + n, name) for n in range(count)]
        self.held: int | None = None

    def hold(self) -> int | None:
        if self.held is not None:
            if self.places[self.held].is_leader():
                return self.held
            self.held = None
        for number, place in enumerate(self.places):
            if place.is_leader():
                self.held = number
                return number
        return None

    def release(self) -> None:
        if self.held is not None:
            self.places[self.held].release()
            self.held = None
