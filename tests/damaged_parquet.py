"""Ways a Parquet file's footer (what its schema is read from) can be beyond reading, for
tests that hand such a file to segtrail: each takes the bytes of a good file."""

from __future__ import annotations

from collections.abc import Callable


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def footer_flipped(data: bytes) -> bytes:
    """The footer's bytes (between the pages and its length) inverted; magic bytes intact."""
    footer = int.from_bytes(data[-8:-4], "little")
    flipped = bytearray(data)
    for i in range(len(data) - 8 - footer, len(data) - 8):
        flipped[i] ^= 0xFF
    return bytes(flipped)


def zero_bytes(data: bytes) -> bytes:
    return b""


def csv_text(data: bytes) -> bytes:
    """A CSV file named .parquet."""
    return b"cust,when,qty\na,2024-01-01,1\n"


FOOTER_DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": truncated,
    "footer-flipped": footer_flipped,
    "zero-bytes": zero_bytes,
    "csv": csv_text,
}
