"""Reading CSV files as a stream: encoding detection, records with line numbers, rejects files.

Encoding (`auto`): the whole file is checked as strict UTF-8 first (a byte-order mark is allowed
and dropped); if any byte sequence is not UTF-8 the file is read as cp932, Microsoft's Shift_JIS
(a superset of JIS X 0208 Shift_JIS with the NEC and IBM extensions Excel writes: ①, ㈱, 髙).
The check runs in the same pass that computes the file's SHA-256 (the key a resumed import is
found by), in 1 MiB blocks: nothing is ever held whole in memory.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from domain.imports.columns import REJECT_COLUMNS
from domain.imports.model import Rejection, SourceRecord

BLOCK = 1 << 20
UTF8 = "utf-8"
UTF8_BOM = "utf-8-sig"
CP932 = "cp932"
ALIASES = {"auto": "auto", "utf-8": UTF8, "utf8": UTF8, "utf-8-sig": UTF8, "cp932": CP932,
           "shift_jis": CP932, "shift-jis": CP932, "sjis": CP932, "ms932": CP932, "windows-31j": CP932}
# a single field may hold long free text, never megabytes: a runaway quote fails clearly instead
FIELD_LIMIT = 1 << 20


class SourceError(Exception):
    """The file cannot be read as CSV in the given encoding (fatal: nothing is imported)."""


@dataclass(frozen=True)
class SourceInfo:
    encoding: str  # utf-8, utf-8-sig (with a byte-order mark) or cp932
    sha256: str
    size: int


def _error_at(decoder: codecs.IncrementalDecoder, block: bytes, offset: int) -> int:
    """Byte offset of the first undecodable byte, for the message."""
    try:
        decoder.decode(block, final=False)
    except UnicodeDecodeError as exc:
        return offset + exc.start
    return offset


def inspect(stream: BinaryIO, wanted: str = "auto") -> SourceInfo:
    """One pass over the bytes: digest, size, and which encoding decodes all of them."""
    if wanted not in ALIASES:
        raise SourceError(f"unknown encoding {wanted!r}: use auto, utf-8 or cp932")
    wanted = ALIASES[wanted]
    digest = hashlib.sha256()
    candidates = {UTF8: codecs.getincrementaldecoder(UTF8)("strict"),
                  CP932: codecs.getincrementaldecoder(CP932)("strict")}
    if wanted != "auto":
        candidates = {wanted: candidates[wanted]}
    failures: dict[str, int] = {}
    size = 0
    first = b""
    while block := stream.read(BLOCK):
        if not first:
            first = block[:3]
        digest.update(block)
        for name, decoder in list(candidates.items()):
            try:
                decoder.decode(block, final=False)
            except UnicodeDecodeError as exc:
                failures[name] = size + exc.start
                del candidates[name]
        size += len(block)
        if not candidates:
            break
    for name, decoder in list(candidates.items()):
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            failures[name] = size
            del candidates[name]
    if size == 0:
        raise SourceError("the file is empty")
    if not candidates:
        detail = ", ".join(f"not {name} at byte {at}" for name, at in sorted(failures.items()))
        raise SourceError(f"the file is neither UTF-8 nor cp932 (Shift_JIS) text ({detail})"
                          if wanted == "auto" else f"the file is not {wanted} text ({detail})")
    encoding = UTF8 if UTF8 in candidates else CP932
    if encoding == UTF8 and first.startswith(codecs.BOM_UTF8):
        encoding = UTF8_BOM
    if first.startswith(codecs.BOM_UTF8) and encoding == CP932:
        raise SourceError("the file starts with a UTF-8 byte-order mark but is not UTF-8")
    stream.seek(0)
    return SourceInfo(encoding=encoding, sha256=digest.hexdigest(), size=size)


class _Counting(io.RawIOBase):
    """Counts the bytes the text layer has read, for a progress bar in bytes."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


class CsvSource:
    """Records of a CSV file in order, each with the line it starts on (the header is line 1).
    Comma-separated; a header with tabs and no commas makes it tab-separated."""

    def __init__(self, stream: BinaryIO, encoding: str) -> None:
        self._counting = _Counting(stream)
        # utf-8-sig also reads files without a BOM, and drops one if present
        text_encoding = UTF8_BOM if encoding in (UTF8, UTF8_BOM) else encoding
        self._text = io.TextIOWrapper(io.BufferedReader(self._counting, BLOCK), encoding=text_encoding,
                                      errors="strict", newline="")
        self.encoding = encoding
        first = self._text.readline()
        delimiter = "\t" if "\t" in first and "," not in first else ","
        csv.field_size_limit(FIELD_LIMIT)
        self._reader = csv.reader(itertools.chain([first], self._text), delimiter=delimiter)
        self._lines = 0
        header = self._next()
        if header is None or not any(cell.strip() for cell in header.fields):
            raise SourceError("the file has no header row")
        self.header: list[str] = header.fields
        self.delimiter = delimiter

    @property
    def position(self) -> int:
        """Bytes read so far (read ahead by at most one block)."""
        return self._counting.count

    def _next(self) -> SourceRecord | None:
        while True:
            try:
                fields = next(self._reader)
            except StopIteration:
                return None
            except csv.Error as exc:
                raise SourceError(f"line {self._lines + 1}: {exc}") from exc
            except UnicodeDecodeError as exc:  # pragma: no cover - inspect() checked every byte
                raise SourceError(f"undecodable bytes near line {self._lines + 1}") from exc
            start, self._lines = self._lines + 1, self._reader.line_num
            if fields and any(f.strip() for f in fields):  # blank lines are skipped, not rows
                return SourceRecord(line=start, fields=fields)

    def records(self) -> Iterator[SourceRecord]:
        while (record := self._next()) is not None:
            yield record

    def skip(self, n: int) -> SourceRecord | None:
        """Pass over the first `n` records (committed by an earlier run); returns the last one."""
        last = None
        for _ in range(n):
            last = self._next()
            if last is None:
                raise SourceError(f"the file has fewer rows than the {n} this import committed")
        return last

    @property
    def next_line(self) -> int:
        return self._lines + 1

    def close(self) -> None:
        self._text.detach()


# -- rejects files ------------------------------------------------------------------------------

def rejects_encoding(source_encoding: str) -> str:
    """Rejects are written as the input was, so the spreadsheet that made the file opens them:
    cp932 for cp932, UTF-8 with a byte-order mark (Excel needs it) for UTF-8."""
    return CP932 if source_encoding == CP932 else UTF8_BOM


class RejectsFile:
    """`reject_line, reject_reason, <the original columns...>`: the importer ignores the first two
    columns, so the corrected file can be imported again as it is."""

    def __init__(self, path: Path, header: list[str], source_encoding: str, *, append: bool) -> None:
        self.path = path
        encoding = rejects_encoding(source_encoding)
        exists = append and path.exists() and path.stat().st_size > 0
        if exists and encoding == UTF8_BOM:
            encoding = UTF8  # the BOM is at the start of the file already
        self._file: IO[str] = open(path, "a" if exists else "w", encoding=encoding,
                                   errors="replace", newline="")
        self._writer = csv.writer(self._file)
        self.count = 0
        if not exists:
            self._writer.writerow([*REJECT_COLUMNS, *header])
            self._file.flush()

    def write(self, rejections: Sequence[Rejection]) -> None:
        for r in rejections:
            self._writer.writerow([r.line if r.line is not None else "", r.reason, *r.fields])
        self.count += len(rejections)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def trim_rejects(path: Path, source_encoding: str, before_line: int) -> None:
    """Keep only rejects of lines before `before_line`: a resumed run redoes the rest."""
    if not path.exists() or path.stat().st_size == 0:
        return
    encoding = rejects_encoding(source_encoding)
    kept = path.with_name(path.name + ".tmp")
    with open(path, encoding=encoding, errors="replace", newline="") as src, \
            open(kept, "w", encoding=encoding, errors="replace", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        for i, row in enumerate(reader):
            if i == 0 or (row and row[0].isdigit() and int(row[0]) < before_line):
                writer.writerow(row)
    os.replace(kept, path)
