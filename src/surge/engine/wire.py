"""Frames between the coordinator and a worker process: a kind byte, a length, the payload.

Both ends run the stream through their event loop (``asyncio.open_connection(sock=...)``):
writes are buffered by the loop and never block or fail for lack of room, whatever a
snapshot's size (a non-blocking pipe written with ``send_bytes`` once raised
``BlockingIOError`` for large snapshots and killed the worker), and reads assemble frames that
arrive in pieces. The transport is a local socket pair today; the framing does not care.
"""
from __future__ import annotations

import asyncio
import struct

# worker -> coordinator
READY, SNAPSHOT, ERROR, DONE = b"R", b"S", b"E", b"D"
# coordinator -> worker
BEGIN, STOP, KILL = b"B", b"T", b"K"

_HEADER = struct.Struct("!cI")
MAX_FRAME_BYTES = 256 * 1024 * 1024  # far above any snapshot; a larger length means a corrupt stream


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {len(payload):,} bytes exceeds {MAX_FRAME_BYTES:,}")
    return _HEADER.pack(kind, len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """The next (kind, payload). EOFError when the peer closed between frames; ValueError when
    the stream is corrupt or ends inside a frame."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ValueError("the stream ended inside a frame header") from None
        raise EOFError from None
    kind, length = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ValueError(f"frame length {length:,} exceeds {MAX_FRAME_BYTES:,}: corrupt stream")
    try:
        return kind, await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise ValueError(f"the stream ended inside a {length:,}-byte frame") from None


async def close_writer(writer: asyncio.StreamWriter, timeout_s: float = 10.0) -> None:
    """Flush what is buffered (bounded by ``timeout_s``), then close."""
    try:
        await asyncio.wait_for(writer.drain(), timeout_s)
    except (asyncio.TimeoutError, ConnectionError, OSError):
        pass
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), timeout_s)
    except (asyncio.TimeoutError, ConnectionError, OSError):
        pass
