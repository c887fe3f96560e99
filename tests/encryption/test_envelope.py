"""Envelope encryption of files: every size across segment boundaries reads back whole, from any offset; an
altered, cut or reordered file, or one whose master key is gone, does not read at all."""

import io
import os

import pytest

from emailplatform.crypto import envelope
from emailplatform.crypto.envelope import SEGMENT, Unreadable, decrypt, decrypting_reader, encrypt
from emailplatform.crypto.master_keys import MasterKeys, decode_key, new_key_text

KEYS = MasterKeys.from_text([new_key_text()])


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT, 3 * SEGMENT + 17])
def test_every_size_reads_back_whole_and_from_any_offset(size):
    data = os.urandom(size)
    sealed = encrypt(data, KEYS)
    assert size < 32 or data[:32] not in sealed
    assert decrypt(sealed, KEYS) == data
    reader = decrypting_reader(io.BytesIO(sealed), KEYS)
    assert reader.seek(0, io.SEEK_END) == size
    for offset in {0, size // 2, max(size - 5, 0), SEGMENT - 3}:
        if offset <= size:
            reader.seek(offset)
            assert reader.read(70_000) == data[offset : offset + 70_000]
    header = envelope.header_size(sealed[: envelope.HEADER_PREFIX])
    assert envelope.plaintext_size(len(sealed), header) == size


def test_chunks_of_any_size_make_the_same_plaintext():
    data = os.urandom(3 * SEGMENT + 5)
    pieces = (data[i : i + 1000] for i in range(0, len(data), 1000))
    assert decrypt(b"".join(envelope.encrypt_chunks(pieces, KEYS)), KEYS) == data


def test_an_altered_file_does_not_read():
    sealed = bytearray(encrypt(b"ada@example.com,Ada\n" * 10_000, KEYS))
    sealed[-100] ^= 1
    with pytest.raises(Unreadable, match="does not decrypt"):
        decrypt(bytes(sealed), KEYS)


def test_a_file_cut_at_a_segment_boundary_does_not_read_short():
    sealed = encrypt(os.urandom(2 * SEGMENT + 10), KEYS)
    cut = sealed[: len(sealed) - (10 + envelope.TAG)]  # the last segment gone: what is left is whole segments
    with pytest.raises(Unreadable):
        decrypt(cut, KEYS)


def test_reordered_segments_do_not_read():
    data = os.urandom(2 * SEGMENT) + b"end"
    sealed = encrypt(data, KEYS)
    header = envelope.header_size(sealed[: envelope.HEADER_PREFIX])
    one = SEGMENT + envelope.TAG
    first, second = sealed[header : header + one], sealed[header + one : header + 2 * one]
    swapped = sealed[:header] + second + first + sealed[header + 2 * one :]
    with pytest.raises(Unreadable):
        decrypt(swapped, KEYS)


def test_without_its_master_key_a_file_does_not_read_and_says_why():
    sealed = encrypt(b"secret", KEYS)
    with pytest.raises(Unreadable, match="is not configured"):
        decrypt(sealed, MasterKeys.from_text([new_key_text()]))


def test_an_old_key_listed_after_the_new_one_still_reads_and_rewrapping_moves_a_file_to_the_new_key():
    old, new = new_key_text(), new_key_text()
    sealed = encrypt(b"data", MasterKeys.from_text([old]))
    both = MasterKeys.from_text([new, old])
    assert decrypt(sealed, both) == b"data"
    header = envelope.Header.read(io.BytesIO(sealed), both)
    rewrapped = header.rewrapped(both) + sealed[len(header.raw) :]
    assert decrypt(rewrapped, MasterKeys.from_text([new])) == b"data"


@pytest.mark.parametrize("text, reason", [("not base64!", "not base64"), ("c2hvcnQ=", "is 5 bytes")])
def test_a_bad_master_key_setting_is_refused_with_the_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        decode_key(text, "master key 1")
