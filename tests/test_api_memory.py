"""Worker memory stays bounded: caches hold exact-size bytes and are bounded in bytes."""

import tracemalloc

import orjson
import pytest

from greenwave.api import encode
from greenwave.api.advisories import STATUS_NAMES
from greenwave.api.encode import Encoder


def messages(start, n):
    return [
        {
            "zh": f"距离前方路口{i}米,绿波速度区间35—48公里;41—48公里可连续绿灯通过2个路口",
            "en": f"{i} m to the next intersection, green-wave speed 35–48 km/h; 41–48 km/h "
            "for green through the next 2 intersections",
        }
        for i in range(start, start + n)
    ]


@pytest.mark.parametrize("limit", [256 * 1024, encode.MESSAGES_MAX_BYTES])
def test_message_cache_is_bounded_in_bytes(arterial, monkeypatch, limit):
    monkeypatch.setattr(encode, "MESSAGES_MAX_BYTES", limit)
    enc = Encoder(arterial.network, STATUS_NAMES)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for k in range(30):  # 60,000 distinct messages: far more than the cache may hold
            batch = messages(k * 2000, 2000)
            out = enc._encode_messages(batch)
            assert out == [orjson.dumps(m) for m in batch]
            del out, batch
            assert enc.messages_bytes <= limit
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    n = len(enc._messages)
    assert n > 0
    # The bound counts what the entries hold; the dict itself adds its table (< 100 B/entry).
    assert held <= limit + 100 * n + 64 * 1024, (held, n)


def test_cached_messages_are_exact_size(arterial):
    """An entry holds about its text (~500 B here), not orjson's 4 KiB write buffer."""
    enc = Encoder(arterial.network, STATUS_NAMES)
    batch = messages(0, 4000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        enc._encode_messages(batch)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(enc._messages) == 4000
    assert held / 4000 < 1024, held / 4000


def test_repeated_messages_are_cached(arterial):
    enc = Encoder(arterial.network, STATUS_NAMES)
    m = messages(0, 3)
    first = enc._encode_messages(m)
    again = enc._encode_messages(list(reversed(m)))
    assert [id(x) for x in again] == [id(x) for x in reversed(first)]
