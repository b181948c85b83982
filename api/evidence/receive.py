"""Receiving an evidence file from an HTTP request body: streamed once into a blob writer, never spooled.

The body is read with ``request.stream()`` and gathered into blocks of 1 MiB; each block is hashed and
written (and, for multipart, parsed) by a thread of the upload's own while the event loop receives the next
ones, so receiving, hashing and writing overlap. hashlib and file writes release the GIL on large buffers, so two
cores are used. Nothing is written anywhere but the writer's temporary file inside the store: no
framework upload helper (Starlette's ``UploadFile`` spools every part over 1 MiB to a second file, see
perf-baselines.md §2), no whole file in memory.

Multipart bodies (RFC 7578) are parsed with python-multipart's low-level ``MultipartParser``: the part named
``file`` goes to the writer, every other part is a small text field. A body that ends early (the client
went away, a connection cut) raises, so the caller aborts the writer and nothing is stored.

Errors: ``BadRequest`` (malformed or truncated body), ``PayloadTooLarge`` (over the limit, counted, not
trusted from Content-Length), ``ValidationProblem`` (form fields); the writer's own errors pass through.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from api.problems import BadRequest, PayloadTooLarge, ValidationProblem
from evidence_store.blobstore import BlobWriter, Chunk
from evidence_store.errors import BlobTooLarge
from evidence_store.sniff import SNIFF_BYTES

#: Body bytes gathered before a block goes to the worker thread.
BLOCK_BYTES = 1024 * 1024
#: Blocks received but not yet hashed and written, at most: the memory an upload may hold.
MAX_IN_FLIGHT = 4
#: Bodies up to this size are hashed and written without leaving the event loop.
INLINE_BYTES = 64 * 1024
#: A multipart body may exceed the file limit by this much: part headers and the text fields.
FORM_ALLOWANCE = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 16
FILE_FIELD = "file"


@dataclass
class ReceivedFile:
    """What arrived besides the bytes themselves (those went to the writer)."""

    head: bytes = b""
    size: int = 0
    filename: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


class _Head:
    """Keep the first SNIFF_BYTES bytes of the file, for the media type sniffer."""

    def __init__(self) -> None:
        self.data = bytearray()

    def feed(self, chunk: Chunk) -> None:
        missing = SNIFF_BYTES - len(self.data)
        if missing > 0:
            self.data += chunk[:missing]


async def _pump(stream: AsyncIterator[bytes], sink: Callable[[bytearray], None], *, limit: int) -> int:
    """Feed the body to ``sink`` in 1 MiB blocks on a thread of its own, overlapping with receiving; return its size.

    Up to MAX_IN_FLIGHT blocks wait for the thread, so a slow write (the disk throttling dirty pages) does not
    stop the socket from being read; one thread keeps the blocks in order. A body of at most INLINE_BYTES is
    handled on the event loop's thread (tens of microseconds), sparing small files a thread.
    """
    executor: ThreadPoolExecutor | None = None
    in_flight: deque[asyncio.Future[None]] = deque()
    block = bytearray()
    total = 0
    try:
        async for chunk in stream:
            total += len(chunk)
            if total > limit:
                raise PayloadTooLarge(
                    f"The body is larger than the limit of {limit} bytes; nothing was stored."
                )
            block += chunk
            if len(block) >= BLOCK_BYTES:
                if executor is None:
                    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence-upload")
                if len(in_flight) >= MAX_IN_FLIGHT:
                    await in_flight.popleft()
                in_flight.append(asyncio.wrap_future(executor.submit(sink, block)))
                block = bytearray()
        if block and executor is None and len(block) <= INLINE_BYTES:
            sink(block)  # a small file: hashing and writing it here is cheaper than a trip to a thread
        elif block:
            executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence-upload")
            in_flight.append(asyncio.wrap_future(executor.submit(sink, block)))
        while in_flight:
            await in_flight.popleft()
    except ClientDisconnect:
        raise BadRequest("The body ended before it was complete; nothing was stored.") from None
    finally:
        # On failure, let the blocks handed over finish before the caller aborts the writer.
        if in_flight:
            await asyncio.wait(in_flight)
            for future in in_flight:
                if not future.cancelled():
                    future.exception()  # retrieved: an earlier error is the one raised
        if executor is not None:
            executor.shutdown(wait=False)
    return total


def _too_large(exc: BlobTooLarge) -> PayloadTooLarge:
    return PayloadTooLarge(f"The file is larger than the limit of {exc.max_bytes} bytes; nothing was stored.")


async def receive_raw(stream: AsyncIterator[bytes], writer: BlobWriter, *, limit: int) -> ReceivedFile:
    """Stream a raw body (application/octet-stream) into ``writer``."""
    head = _Head()

    def sink(block: bytearray) -> None:
        head.feed(block)
        writer.write(block)

    try:
        size = await _pump(stream, sink, limit=limit)
    except BlobTooLarge as exc:
        raise _too_large(exc) from None
    return ReceivedFile(head=bytes(head.data), size=size)


def boundary_of(content_type: str) -> bytes | None:
    """Return the multipart/form-data boundary of a Content-Type, or None if it is not one."""
    media_type, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        return None
    return boundary


async def receive_multipart(
    stream: AsyncIterator[bytes], writer: BlobWriter, *, boundary: bytes, limit: int
) -> ReceivedFile:
    """Stream the ``file`` part of a multipart/form-data body into ``writer``; collect the other fields."""
    form = _Form(boundary, writer)
    try:
        await _pump(stream, form.write, limit=limit + FORM_ALLOWANCE)
    except BlobTooLarge as exc:
        raise _too_large(exc) from None
    except MultipartParseError:
        raise BadRequest("The multipart body is malformed; nothing was stored.") from None
    if not form.finished:
        raise BadRequest("The multipart body ended before its closing boundary; nothing was stored.")
    if not form.file_seen:
        raise ValidationProblem.single(
            f"body.{FILE_FIELD}", "send the evidence file in a part named file", "missing"
        )
    return ReceivedFile(
        head=bytes(form.head.data), size=writer.size, filename=form.filename, fields=form.fields
    )


class _Form:
    """Callbacks of one MultipartParser: the file part to the writer, small fields to a dict."""

    def __init__(self, boundary: bytes, writer: BlobWriter) -> None:
        self.writer = writer
        self.head = _Head()
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_seen = False
        self.finished = False
        self._headers: dict[bytes, bytes] = {}
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._name = ""
        self._value: bytearray | None = None
        self._to_file = False
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field_data,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    def write(self, block: bytearray) -> None:
        self._parser.write(block)  # type: ignore[arg-type]  # bytearray is as good as bytes here

    def _part_begin(self) -> None:
        self._headers = {}
        self._to_file = False
        self._value = None

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field = bytearray()
        self._header_value = bytearray()

    def _headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition"))
        name = params.get(b"name")
        if disposition != b"form-data" or name is None:
            raise BadRequest("Every form part needs Content-Disposition: form-data with a name.")
        self._name = name.decode("utf-8", "replace")
        if self._name == FILE_FIELD:
            if self.file_seen:
                raise ValidationProblem.single(f"body.{FILE_FIELD}", "send one file per request", "duplicate")
            self.file_seen = True
            self._to_file = True
            self.filename = clean_filename(params.get(b"filename"))
            return
        if self._name in self.fields or len(self.fields) >= MAX_FIELDS:
            raise ValidationProblem.single(
                f"body.{self._name}", "sent twice, or too many fields", "duplicate"
            )
        self._value = bytearray()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._to_file:
            view = memoryview(data)[start:end]
            self.head.feed(view)
            self.writer.write(view)
        elif self._value is not None:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD_BYTES:
                raise ValidationProblem.single(
                    f"body.{self._name}", f"longer than {MAX_FIELD_BYTES} bytes", "too_long"
                )

    def _part_end(self) -> None:
        if self._value is None:
            return
        try:
            self.fields[self._name] = self._value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationProblem.single(f"body.{self._name}", "is not UTF-8 text", "encoding") from None
        self._value = None

    def _end(self) -> None:
        self.finished = True


def clean_filename(raw: bytes | str | None) -> str | None:
    """Return a file name fit to show as a label: last path segment, no control characters, NFC, ≤ 255."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    else:
        text = raw
    # Browsers and old clients send paths ("C:\\Users\\...\\photo.jpg"); only the last segment is a name.
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    text = unicodedata.normalize("NFC", text).strip()
    return text[:255] or None
