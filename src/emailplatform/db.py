"""Engines and sessions. A request, job or command opens one session for its work and commits once, at the
edge (a request reads its API key or user in a short session of its own before).

On SQLite a writing session starts with BEGIN IMMEDIATE, so two writers queue on the lock instead
of failing halfway; reading sessions stay deferred and never wait for a writer (WAL). So a writing session
is not held open across slow outside work (DNS): that work runs before the session's first statement, or
after its reads are committed.
"""

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event, select, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from emailplatform.config import Settings
from emailplatform.errors import NotFound

# What a lost or refused connection, or a pool with no connection to give, raises: the database is unavailable
# for now, not the request or job wrong. (SQLite's "database is locked" is an OperationalError too, as transient.)
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5
# What a status or count write runs on: a session, or a bare connection (the recorder's, whose many small writes
# a second would spend as much again in the session's own work).
Writes = Session | Connection


def dialect_of(writes: Writes) -> str:
    return (writes.get_bind() if isinstance(writes, Session) else writes).dialect.name


@dataclass
class Database:
    url: str
    writer: sessionmaker[Session]
    reader: sessionmaker[Session]
    engines: tuple[Engine, ...]
    # Sessions on the read-only replica, which may lag the primary: for reads that need not see the latest
    # writes (analytics, lists). The reader's when there is no replica.
    replica: sessionmaker[Session] | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def dialect(self) -> str:
        return self.engines[0].dialect.name

    @contextmanager
    def session(self, write: bool = True, replica: bool = False) -> Iterator[Session]:
        """replica: a reading session on the replica (when there is one), which may not see the latest writes."""
        session = self.sessions(write, replica)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def quick_read(self) -> Iterator[Session]:
        """A reading session for a read of a statement or two, each consistent by itself (a campaign's status): on
        PostgreSQL on a connection in autocommit, which spares the round trips of BEGIN and COMMIT (each
        statement sees its own snapshot either way, under READ COMMITTED); elsewhere `session(write=False)`."""
        if self.dialect != "postgresql":
            with self.session(write=False) as session:
                yield session
            return
        engine = cast(Engine, self.reader.kw["bind"])
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            with Session(bind=connection) as session:
                yield session

    @property
    def writer_engine(self) -> Engine:
        return cast(Engine, self.writer.kw["bind"])

    def sessions(self, write: bool, replica: bool = False) -> sessionmaker[Session]:
        if write:
            return self.writer
        return self.replica if replica and self.replica is not None else self.reader

    def ping(self) -> None:
        """Raises one of UNAVAILABLE unless the database answers."""
        with self.session(write=False) as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        for engine in self.engines:
            engine.dispose()


SQLITE_BUSY_SECONDS = 60


def _pool_options(settings: Settings) -> dict:
    """A full pool makes a request wait at most `db_pool_timeout_seconds` for a connection, then raise the
    pool's TimeoutError, which the API answers 503 with Retry-After."""
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_seconds,
    }


def _sqlite_engine(url: str, begin: str, pool: dict, writer: bool = False) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}, **pool)
    # Writers take turns on a lock, taken before BEGIN IMMEDIATE and given back as the transaction ends: a waiting
    # writer wakes as soon as the one before it is done. Left to SQLite's busy handler, which polls with sleeps
    # growing to 100 ms, a writer could wait for seconds while others, committing every few milliseconds, keep
    # taking the database lock first. The turn is a thread lock within the process and, for the processes that
    # share the file (the API and its worker processes), an flock on a file beside it.
    turn = threading.Lock()
    path = url.split("///", 1)[1]
    shared_turn = SharedTurn(Path(f"{path}.writer-turn")) if writer and path and path != ":memory:" else None

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        busy = f"busy_timeout={SQLITE_BUSY_SECONDS * 1000}"
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", busy):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        if writer and turn.acquire(timeout=SQLITE_BUSY_SECONDS):
            connection.info["has_turn"] = True
            if shared_turn is not None:
                shared_turn.take()
        try:
            connection.exec_driver_sql(begin)
        except BaseException:
            _end(connection)
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end(connection):
        if connection.info.pop("has_turn", False):
            if shared_turn is not None:
                shared_turn.give_back()
            turn.release()

    if shared_turn is not None:
        event.listen(engine, "engine_disposed", lambda _engine: shared_turn.close())
    return engine


class SharedTurn:
    """An exclusive flock on a file, which the kernel gives the next process in line as soon as it is let go
    (and lets go of by itself when its holder dies)."""

    def __init__(self, path: Path):
        self.path = path
        self.file: BinaryIO | None = None

    def take(self) -> None:
        if self.file is None:
            self.file = self.path.open("a+b")
        fcntl.flock(self.file, fcntl.LOCK_EX)

    def give_back(self) -> None:
        assert self.file is not None, "give_back() without take()"
        fcntl.flock(self.file, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def create_database(settings: Settings) -> Database:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        pool = _pool_options(settings) if path and path != ":memory:" else {}
        writer_engine = _sqlite_engine(url, "BEGIN IMMEDIATE", pool, writer=True)
        reader_engine = _sqlite_engine(url, "BEGIN", pool)
        engines: tuple[Engine, ...] = (writer_engine, reader_engine)
    else:
        writer_engine = reader_engine = _postgres_engine(url, settings)
        engines = (writer_engine,)
    replica_url = settings.resolved_read_database_url
    replica_engine = _postgres_engine(replica_url, settings) if replica_url else None
    return Database(
        url=url,
        writer=sessionmaker(writer_engine, expire_on_commit=False),
        reader=sessionmaker(reader_engine, expire_on_commit=False),
        engines=engines + ((replica_engine,) if replica_engine is not None else ()),
        replica=sessionmaker(replica_engine, expire_on_commit=False) if replica_engine is not None else None,
    )


def _postgres_engine(url: str, settings: Settings) -> Engine:
    return create_engine(
        url,
        **_pool_options(settings),
        pool_pre_ping=True,
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS},
    )


def get_for_tenant(session: Session, model, object_id, tenant_id, *, field: str, what: str):
    """The tenant's object of `model` with this id; NotFound naming `field` for an unknown one or another
    tenant's (which must look the same)."""
    found = session.scalar(select(model).where(model.id == object_id, model.tenant_id == tenant_id))
    if found is None:
        raise NotFound(f"no such {what}", field=field)
    return found


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched (the session answers one with a CursorResult, typed as a plain Result)."""
    return cast(CursorResult[Any], result).rowcount
