"""Many small database calls from concurrent job tasks, run together: one transaction a round instead of
one a call. While a round is being written, new calls gather for the next one."""

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from emailplatform.db import Database

_batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class SessionBatcher:
    def __init__(self, db: Database, write: bool):
        self.db = db
        self.write = write
        self.pending: list[tuple[Callable, tuple, dict, asyncio.Future]] = []
        self.draining = False

    async def call(self, function: Callable[..., Any], *args, **kwargs) -> Any:
        """`function(session, *args, **kwargs)` in a shared transaction (under a savepoint of its own when writing)."""
        future = asyncio.get_running_loop().create_future()
        self.pending.append((function, args, kwargs, future))
        if not self.draining:
            self.draining = True
            asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.pending:
                round_, self.pending = self.pending, []
                try:
                    outcomes = await asyncio.to_thread(self._run, round_)
                except Exception as exc:  # the commit itself failed: every call of the round did
                    outcomes = [(False, exc)] * len(round_)
                for (*_, future), (ok, value) in zip(round_, outcomes):
                    if not future.done():
                        future.set_result(value) if ok else future.set_exception(value)
        finally:
            self.draining = False

    def _run(self, round_) -> list[tuple[bool, Any]]:
        outcomes = []
        with self.db.session(write=self.write) as session:
            for function, args, kwargs, _ in round_:
                outcomes.append(self._one(session, function, args, kwargs))
        return outcomes

    def _one(self, session: Session, function: Callable, args: tuple, kwargs: dict) -> tuple[bool, Any]:
        try:
            if not self.write:
                return True, function(session, *args, **kwargs)
            with session.begin_nested():
                return True, function(session, *args, **kwargs)
        except Exception as exc:
            return False, exc


def batcher_for(db: Database, write: bool) -> SessionBatcher:
    """The batcher of this event loop (each worker loop has its own)."""
    loop = asyncio.get_running_loop()
    per_loop = _batchers.setdefault(loop, {})
    key = (id(db), write)
    if key not in per_loop:
        per_loop[key] = SessionBatcher(db, write)
    return per_loop[key]
