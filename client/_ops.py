"""Each operation is written once, as a function building a `Call`; these descriptors run it
on whichever client reads them, synchronously on `JetDeck`, awaitably on `AsyncJetDeck`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Generic, ParamSpec, TypeVar, overload

from client._http import Call
from wire.common import Page

P = ParamSpec("P")
T = TypeVar("T")


class SyncRunner(ABC):
    @abstractmethod
    def run(self, call: Call[T]) -> T: ...

    def pages(self, call: Call[Page[T]]) -> Iterator[T]:
        while True:
            page = self.run(call)
            yield from page.items
            if page.next_cursor is None:
                return
            call = call.at(page.next_cursor)


class AsyncRunner(ABC):
    @abstractmethod
    async def run(self, call: Call[T]) -> T: ...

    async def pages(self, call: Call[Page[T]]) -> AsyncIterator[T]:
        while True:
            page = await self.run(call)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            call = call.at(page.next_cursor)


class Op(Generic[P, T]):
    """One call, answered once."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self.build = build

    @overload
    def __get__(self, client: SyncRunner, owner: type[Any]) -> Callable[P, T]: ...

    @overload
    def __get__(
        self, client: AsyncRunner, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    def __get__(self, client: SyncRunner | AsyncRunner, owner: type[Any]) -> Callable[P, Any]:
        def bound(*args: P.args, **kwargs: P.kwargs) -> Any:
            return client.run(self.build(*args, **kwargs))

        return bound


class Pages(Generic[P, T]):
    """A list, iterated item by item across every page."""

    def __init__(self, build: Callable[P, Call[Page[T]]]) -> None:
        self.build = build

    @overload
    def __get__(self, client: SyncRunner, owner: type[Any]) -> Callable[P, Iterator[T]]: ...

    @overload
    def __get__(self, client: AsyncRunner, owner: type[Any]) -> Callable[P, AsyncIterator[T]]: ...

    def __get__(self, client: SyncRunner | AsyncRunner, owner: type[Any]) -> Callable[P, Any]:
        def bound(*args: P.args, **kwargs: P.kwargs) -> Any:
            return client.pages(self.build(*args, **kwargs))

        return bound
