"""Strategies the parser fuzz tests share: random bytes, and valid messages mutated the way a broken or
hostile peer would send them (bit flips, truncation, inserted or deleted bytes, length fields changed).

Budgets come from the Hypothesis profile (tests/conftest.py): "ci" by default, HYPOTHESIS_PROFILE=long
for the measured run. The names of the errors a parser may raise are the test's; anything else fails it.
"""

from __future__ import annotations

import struct

from hypothesis import strategies as st

# Values a length field is set to: empty, one, off by one around the real value, and the extremes.
_LENGTHS = (0, 1, 2, 3, 4, 6, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF)
_FIELDS = (
    (">H", 0xFFFF),
    (">I", 0xFFFFFFFF),
    ("<H", 0xFFFF),
    ("<I", 0xFFFFFFFF),
)

# Cheaper to draw than from_regex: integers print without leading zeros, as UID components must (PS3.5 9.1).
UID = st.lists(st.integers(0, 99_999), min_size=2, max_size=8).map(lambda parts: ".".join(map(str, [1, *parts])))
AE_TITLE = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=16)


@st.composite
def _mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """One mutation of `data`."""
    kind = draw(st.sampled_from(("flip", "truncate", "insert", "delete", "length", "duplicate")))
    size = len(data)
    if size == 0 or kind == "insert":
        at = draw(st.integers(0, size))
        return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    at = draw(st.integers(0, size - 1))
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1 :]
    if kind == "truncate":
        return data[:at]
    if kind == "delete":
        return data[:at] + data[at + draw(st.integers(1, 16)) :]
    if kind == "duplicate":
        end = draw(st.integers(at + 1, min(size, at + 64)))
        return data[:end] + data[at:end] + data[end:]
    form, limit = draw(st.sampled_from(_FIELDS))
    width = struct.calcsize(form)
    if size < width:
        return data[:at]
    at = min(at, size - width)
    original = struct.unpack_from(form, data, at)[0]
    value = draw(st.sampled_from(_LENGTHS) | st.sampled_from((original - 1, original + 1, original * 2)))
    return data[:at] + struct.pack(form, value & limit) + data[at + width :]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, max_mutations: int = 4) -> bytes:
    """`seed` with one to `max_mutations` mutations applied in turn."""
    data = seed
    for _ in range(draw(st.integers(1, max_mutations))):
        data = draw(_mutation(data))
    return data


def fuzzed(seeds: st.SearchStrategy[bytes], max_random: int = 512) -> st.SearchStrategy[bytes]:
    """Random bytes, valid seeds as they are, or mutated seeds (the most weight: they get past the headers)."""
    return st.one_of(st.binary(max_size=max_random), seeds, seeds.flatmap(mutated), seeds.flatmap(mutated))
