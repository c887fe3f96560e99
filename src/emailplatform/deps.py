"""FastAPI dependencies every domain's routes share: the runtime and the one session of a request."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from emailplatform.runtime import Runtime

READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed once after the route returns, rolled back on any error."""
    with get_runtime(request).db.session(write=request.method not in READ_METHODS) as session:
        yield session


def get_read_session(request: Request) -> Iterator[Session]:
    """A reading session, for a POST that changes nothing (a preview): on SQLite it takes no write lock."""
    with get_runtime(request).db.session(write=False) as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# "function" scope: the commit happens before the response is sent, so a 2xx means the change is stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
