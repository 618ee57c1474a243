"""Bitstring Status List v1.0: the specification's example decodes; our encoding puts bits where it says."""

from __future__ import annotations

import pytest

from governance.credentials import statuslists

# The encodedList of the specification's BitstringStatusListCredential example (section 2.2).
SPEC_EXAMPLE = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def test_the_specification_example_decodes_to_a_16kb_list_of_zeros() -> None:
    bits = statuslists.decode(SPEC_EXAMPLE)
    assert len(bits) * 8 == statuslists.LIST_SIZE == 131_072
    assert not any(bits)
    # Its entries name index 94567: a verifier reads 0 (not revoked).
    assert statuslists.bit(bits, 94567) == 0


def test_index_zero_is_the_left_most_bit() -> None:
    bits = statuslists.decode(statuslists.encode([0, 9, statuslists.LIST_SIZE - 1]))
    assert bits[0] == 0x80 and bits[1] == 0x40 and bits[-1] == 0x01
    assert [statuslists.bit(bits, i) for i in (0, 1, 8, 9, statuslists.LIST_SIZE - 1)] == [1, 0, 0, 1, 1]


def test_the_encoding_is_multibase_base64url_gzip_without_padding() -> None:
    encoded = statuslists.encode([])
    assert encoded.startswith("uH4sI") and "=" not in encoded and "+" not in encoded and "/" not in encoded
    assert statuslists.encode([]) == encoded, "the same bits give the same bytes"


@pytest.mark.parametrize("bad", ["H4sI", "u!!!", "uAAAA"])
def test_a_malformed_list_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="encodedList"):
        statuslists.decode(bad)


def test_an_index_outside_the_list_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        statuslists.bit(bytes(16), 128)
