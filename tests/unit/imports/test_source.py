"""Reading CSV: encoding detection over the whole file, line numbers, rejects files."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io

import pytest

from domain.imports.model import Rejection
from infra.imports.source import CsvSource, RejectsFile, SourceError, inspect, trim_rejects

TEXT = "external_id,family_name,family_name_kana\nC1,山田,ヤマダ\nC2,髙橋,ﾀｶﾊｼ\n"


@pytest.mark.parametrize(("data", "encoding"), [
    (TEXT.encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
    (TEXT.encode("cp932"), "cp932"),
])
def test_auto_detects_utf8_bom_and_cp932(data, encoding):
    info = inspect(io.BytesIO(data))
    assert (info.encoding, info.size, info.sha256) == (encoding, len(data), hashlib.sha256(data).hexdigest())
    source = CsvSource(io.BytesIO(data), info.encoding)
    assert source.header == ["external_id", "family_name", "family_name_kana"]
    assert [r.fields for r in source.records()] == [["C1", "山田", "ヤマダ"], ["C2", "髙橋", "ﾀｶﾊｼ"]]


def test_detection_reads_the_whole_file_not_a_prefix():
    data = ("a,b\n" + "x,y\n" * 300_000).encode() + "z,東京\n".encode("cp932")
    assert len(data) > 1 << 20
    assert inspect(io.BytesIO(data)).encoding == "cp932"


def test_explicit_encodings_are_checked_and_garbage_is_refused():
    with pytest.raises(SourceError, match="not utf-8 text"):
        inspect(io.BytesIO(TEXT.encode("cp932")), "utf-8")
    assert inspect(io.BytesIO(TEXT.encode("cp932")), "shift_jis").encoding == "cp932"
    with pytest.raises(SourceError, match="neither UTF-8 nor cp932"):
        inspect(io.BytesIO(b"a,b\n\x81\x00\xff\xfe\n"))
    with pytest.raises(SourceError, match="empty"):
        inspect(io.BytesIO(b""))
    with pytest.raises(SourceError, match="unknown encoding"):
        inspect(io.BytesIO(b"a"), "latin-9")


def test_records_carry_the_line_they_start_on():
    data = b'a,b\r\n1,"two\nlines"\r\n\r\n3,x\r\n'
    source = CsvSource(io.BytesIO(data), "utf-8")
    assert [(r.line, r.fields) for r in source.records()] == [(2, ["1", "two\nlines"]), (5, ["3", "x"])]


def test_tab_separated_files_and_skipping_committed_rows():
    source = CsvSource(io.BytesIO(b"a\tb\n1\t2\n3\t4\n5\t6\n"), "utf-8")
    assert source.delimiter == "\t"
    assert source.skip(2).fields == ["3", "4"] and source.next_line == 4
    assert [r.fields for r in source.records()] == [["5", "6"]]
    with pytest.raises(SourceError, match="fewer rows"):
        CsvSource(io.BytesIO(b"a\n1\n"), "utf-8").skip(2)


def test_a_runaway_quote_is_an_error_with_its_line():
    with pytest.raises(SourceError, match="line 2"):
        list(CsvSource(io.BytesIO(b'a,b\n1,"' + b"x" * (2 << 20) + b"\n"), "utf-8").records())


def test_rejects_files_are_written_as_the_input_was_and_trimmed_for_a_resume(tmp_path):
    path = tmp_path / "rejects.csv"
    sink = RejectsFile(path, ["email", "name"], "cp932", append=False)
    sink.write([Rejection(line=3, reason="email: 不正", fields=("x", "山田")),
                Rejection(line=9, reason="later", fields=("y", "髙橋"))])
    sink.close()
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("cp932"))))
    assert rows == [["reject_line", "reject_reason", "email", "name"], ["3", "email: 不正", "x", "山田"],
                    ["9", "later", "y", "髙橋"]]
    trim_rejects(path, "cp932", before_line=5)
    again = RejectsFile(path, ["email", "name"], "cp932", append=True)
    again.write([Rejection(line=7, reason="r", fields=("z", "田中"))])
    again.close()
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("cp932"))))
    assert [r[0] for r in rows] == ["reject_line", "3", "7"]


def test_utf8_rejects_have_one_byte_order_mark(tmp_path):
    path = tmp_path / "r.csv"
    RejectsFile(path, ["a"], "utf-8", append=False).close()
    more = RejectsFile(path, ["a"], "utf-8", append=True)
    more.write([Rejection(line=2, reason="x", fields=("1",))])
    more.close()
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8) and data.count(codecs.BOM_UTF8) == 1
