"""FastAPI dependencies every domain's routes share: the runtime and the one session of a request."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from emailplatform import audit_trail as audit
from emailplatform.runtime import Runtime

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
T = TypeVar("T")


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request, committed once after the route returns, rolled back on any error."""
    async with _session(request, write=request.method not in READ_METHODS) as session:
        yield session


@asynccontextmanager
async def _session(request: Request, write: bool, replica: bool = False) -> AsyncIterator[Session]:
    """A request's session, opened on the event loop (that does no I/O) once the request has a place among the
    process's requests that use the database, and ended in the thread pool.

    The places keep those requests to no more than the pool's steady connections and the threads of the pool of
    threads, and to `db_requests_at_once` (3): a process runs Python on one core, so past a few, requests at the
    database only take turns on it, each holding its connection the longer. The overflow's connections, closed as
    they come back, stay for what reads outside a place (an API key not in the cache, the audit log, background
    work), not for every request under load to open and close one. Without them, under load, every thread would wait
    for a connection while every connection is held by a request that waits for a thread to serialize its answer
    (FastAPI does that in the pool, before the session ends): nothing moves until the pool's wait times out."""
    db = get_runtime(request).db
    async with _places(get_runtime(request)):
        session = db.sessions(write, replica)()
        audit.track(session)
        try:
            yield session
        except BaseException:
            await to_thread.run_sync(_end, session, False)
            raise
        await to_thread.run_sync(_end, session, True, request if write else None)


async def read(request: Request, reading: Callable[..., T], *args) -> T:
    """`reading(session, *args)` in a quick reading session (`Database.quick_read`) opened, used and ended in one
    trip to the thread pool, once the request has a place among those using the database: for the hottest reads
    (a campaign's status), which a SessionDep would send to the pool twice (the route, then the session's end)."""
    runtime = get_runtime(request)
    async with _places(runtime):
        return await to_thread.run_sync(_read, runtime, reading, args)


def _read(runtime: Runtime, reading: Callable[..., T], args: tuple) -> T:
    with runtime.db.quick_read() as session:
        return reading(session, *args)


PLACES = RunVar[CapacityLimiter]("database_places")


def _places(runtime: Runtime) -> CapacityLimiter:
    try:
        return PLACES.get()
    except LookupError:
        threads = to_thread.current_default_thread_limiter().total_tokens
        settings = runtime.settings
        PLACES.set(places := CapacityLimiter(min(threads, settings.db_pool_size, settings.db_requests_at_once)))
        return places


def _end(session: Session, commit: bool, audited: Request | None = None) -> None:
    try:
        if audited is not None:
            audit.record_request(session, audited)
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """A reading session, for a POST that changes nothing (a preview): on SQLite it takes no write lock."""
    async with _session(request, write=False) as session:
        yield session


async def get_replica_session(request: Request) -> AsyncIterator[Session]:
    """A reading session on the read replica when there is one (else the primary): for reads that may lag the
    latest writes by the replica's replay delay (analytics). Never for a read that must see its own writes."""
    async with _session(request, write=False, replica=True) as session:
        yield session


async def _runtime(request: Request) -> Runtime:
    return get_runtime(request)  # async: a dependency this cheap is not worth a trip to the thread pool


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
# "function" scope: the commit happens before the response is sent, so a 2xx means the change is stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
ReplicaSessionDep = Annotated[Session, Depends(get_replica_session, scope="function")]
