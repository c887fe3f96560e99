"""Many small database calls from concurrent job tasks, run together: one transaction a round instead of
one a call, and one call of each function a round for all the items given to it since the last one.
While a round is being written, new calls gather for the next one: the busier, the larger the rounds."""

import asyncio
import weakref
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from sqlalchemy.orm import Session

from emailplatform.db import Database

BulkFunction = Callable[[Session, list], list | None]  # the results in the items' order, or None for none

_batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class SessionBatcher:
    def __init__(self, db: Database, write: bool):
        self.db = db
        self.write = write
        self.pending: dict[BulkFunction, list[tuple[Any, asyncio.Future]]] = {}
        self.draining = False

    async def call(self, function: BulkFunction, item: Any) -> Any:
        """The result for `item` of `function(session, items)`, called once a round with every item given to it,
        in a transaction shared with the round's other functions. If it raises, so does every call it took."""
        future = asyncio.get_running_loop().create_future()
        self.pending.setdefault(function, []).append((item, future))
        if not self.draining:
            self.draining = True
            asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.pending:
                round_, self.pending = self.pending, {}
                try:
                    outcomes = await asyncio.to_thread(self._run, round_)
                except Exception as exc:  # the commit itself failed: every call of the round did
                    outcomes = [exc] * len(round_)
                for calls, outcome in zip(round_.values(), outcomes):
                    self._settle(calls, outcome)
        finally:
            self.draining = False

    def _run(self, round_: dict[BulkFunction, list]) -> list[list | Exception]:
        with self.db.session(write=self.write) as session:
            if len(round_) == 1:  # alone in its round: its failure is the round's, rolled back with it
                ((function, calls),) = round_.items()
                return [_results(function, session, [item for item, _ in calls])]
            return [self._apart(session, function, [item for item, _ in calls]) for function, calls in round_.items()]

    def _apart(self, session: Session, function: BulkFunction, items: list) -> list | Exception:
        """The function's results, or its exception (its writes rolled back to a savepoint of their own)."""
        try:
            with session.begin_nested() if self.write else nullcontext():
                return _results(function, session, items)
        except Exception as exc:
            return exc

    @staticmethod
    def _settle(calls: list[tuple[Any, asyncio.Future]], outcome: list | Exception) -> None:
        for index, (_, future) in enumerate(calls):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome[index])


def _results(function: BulkFunction, session: Session, items: list) -> list:
    return function(session, items) or [None] * len(items)


def batcher_for(db: Database, write: bool) -> SessionBatcher:
    """The batcher of this event loop (each worker loop has its own)."""
    loop = asyncio.get_running_loop()
    per_loop = _batchers.setdefault(loop, {})
    key = (id(db), write)
    if key not in per_loop:
        per_loop[key] = SessionBatcher(db, write)
    return per_loop[key]
