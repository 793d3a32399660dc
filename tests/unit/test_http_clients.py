"""The providers' SDK client cache (``runwire_server.service.llm.http_clients``).

The clients here are a stand-in for an SDK client at the cache's seam (``build``):
they only record whether they were closed.
"""

from __future__ import annotations

import pytest

from runwire_server.service.llm.http_clients import ClientCache, Endpoint


class Client:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.closed = 0

    async def close(self) -> None:
        self.closed += 1


def endpoint(url: str, key: str = "k") -> Endpoint:
    return Endpoint(base_url=url, api_key=key)


A, B, C = endpoint("http://a/v1"), endpoint("http://b/v1"), endpoint("http://c/v1")


async def test_one_client_per_endpoint_built_on_first_lease() -> None:
    built: list[Endpoint] = []

    def build(where: Endpoint) -> Client:
        built.append(where)
        return Client(where)

    cache = ClientCache(build)
    assert built == []
    async with cache.lease(A) as first, cache.lease(endpoint("http://a/v1")) as again:
        assert again is first
    async with cache.lease(endpoint("http://a/v1", key="other")) as other_key:
        assert other_key is not first
    assert built == [A, endpoint("http://a/v1", key="other")]
    assert len(cache) == 2
    assert first.closed == 0


async def test_the_least_recently_used_client_is_closed_past_the_bound() -> None:
    cache = ClientCache(Client, max_clients=2)
    async with cache.lease(A) as a:
        pass
    async with cache.lease(B) as b:
        pass
    async with cache.lease(A):  # A is now the most recently used
        pass
    async with cache.lease(C) as c:
        pass
    assert (a.closed, b.closed, c.closed) == (0, 1, 0)
    assert len(cache) == 2
    async with cache.lease(B) as new_b:
        assert new_b is not b
    assert a.closed == 1  # A was the oldest now


async def test_a_client_dropped_while_a_call_holds_it_closes_when_the_call_ends() -> None:
    cache = ClientCache(Client, max_clients=1)
    async with cache.lease(A) as a:
        async with cache.lease(B) as b:
            assert a.closed == 0  # dropped from the cache, still in use
            assert len(cache) == 1
        assert b.closed == 0
        assert a.closed == 0
    assert a.closed == 1
    assert b.closed == 0


async def test_retire_replaces_a_client_and_closes_it_after_its_last_lease() -> None:
    cache = ClientCache(Client)
    async with cache.lease(A) as old:
        await cache.retire(old)
        async with cache.lease(A) as new:
            assert new is not old
        assert old.closed == 0
    assert old.closed == 1
    assert new.closed == 0
    await cache.retire(new)  # no call holds it: closed at once
    assert new.closed == 1
    await cache.retire(new)  # no longer cached: nothing happens
    assert new.closed == 1


async def test_aclose_closes_every_client_once_and_the_cache_can_be_used_again() -> None:
    cache = ClientCache(Client)
    async with cache.lease(A) as a, cache.lease(B) as b:
        await cache.retire(b)
        await cache.aclose()
        assert (a.closed, b.closed) == (1, 1)
        assert len(cache) == 0
    assert (a.closed, b.closed) == (1, 1)  # not closed twice when the leases end
    async with cache.lease(A) as fresh:
        assert fresh is not a
    await cache.aclose()
    assert fresh.closed == 1


async def test_a_failing_call_still_ends_its_lease() -> None:
    cache = ClientCache(Client, max_clients=1)
    with pytest.raises(RuntimeError):
        async with cache.lease(A) as a:
            await cache.retire(a)
            raise RuntimeError("the call failed")
    assert a.closed == 1


def test_max_clients_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_clients"):
        ClientCache(Client, max_clients=0)


def test_an_endpoint_repr_leaves_the_key_out() -> None:
    assert "secret" not in repr(Endpoint(base_url="http://a/v1", api_key="secret"))
