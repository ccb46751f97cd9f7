"""CSV import of customers with `kizuna import customers`: rows/s and peak memory, at two sizes.

A customer CSV (Japanese names, kana, phones, addresses, tags, an attribute) is generated
straight to disk, then imported by the real command into a fresh tenant of a throw-away database.
Peak RSS of the command comes from the kernel (its `wait4` rusage, what `/usr/bin/time -v` prints).

Baselines in the same run: PostgreSQL's own `COPY ... FROM STDIN` of the same file into an
unindexed table of text columns (the floor of moving the bytes: no validation, identities or
indexes), and reading plus validating the file in this process with the import's own code and no
database (the CPU floor of the rules). Memory is constant when the 1,000,000-row peak is within 25%
of the 100,000-row one.

    python -m bench.csv_import [--rows 1000000] [--small 100000] [--keep FILE]
    (python -m bench csv_import, once registered in bench/__main__.py)
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.common import KIZUNA, Figure, kizuna, kizuna_env, postgres_server, save, throwaway_database
from infra.db.urls import libpq_url

HEADER = ["external_id", "email", "phone", "family_name", "given_name", "family_name_kana", "given_name_kana",
          "birth_date", "gender", "postal_code", "prefecture", "city", "line1", "tags", "attributes.rank"]
FAMILY = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"),
          ("伊藤", "イトウ"), ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"),
          ("小林", "コバヤシ"), ("加藤", "カトウ")]
GIVEN = [("花子", "ハナコ", "female"), ("太郎", "タロウ", "male"), ("美咲", "ミサキ", "female"),
         ("翔太", "ショウタ", "male"), ("陽菜", "ヒナ", "female"), ("蓮", "レン", "male"),
         ("さくら", "サクラ", "female"), ("大翔", "ヒロト", "male")]
CITIES = [("13", "千代田区"), ("13", "渋谷区"), ("27", "大阪市北区"), ("14", "横浜市中区"),
          ("23", "名古屋市中区"), ("01", "札幌市中央区"), ("40", "福岡市博多区"), ("26", "京都市下京区")]
TAGS = ["vip", "newsletter", "line_friend", "store_member", "app_user"]
RANKS = ["bronze", "silver", "gold", "platinum"]
MEMORY_TOLERANCE = 1.25


def generate(path: Path, rows: int, seed: int = 7) -> int:
    """Write `rows` customers to `path` a row at a time; returns the file's size in bytes."""
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(rows):
            family, family_kana = FAMILY[i % len(FAMILY)]
            given, given_kana, gender = GIVEN[(i // 7) % len(GIVEN)]
            prefecture, city = CITIES[i % len(CITIES)]
            tags = "|".join(sorted(rnd.sample(TAGS, rnd.randint(0, 2))))
            writer.writerow([
                f"C{i:09d}", f"user{i}@example.jp", f"090-{1000 + (i // 10000) % 9000:04d}-{i % 10000:04d}",
                family, given, family_kana, given_kana,
                f"{rnd.randint(1950, 2005)}/{rnd.randint(1, 12):02d}/{rnd.randint(1, 28):02d}", gender,
                f"{rnd.randint(100, 999)}-{rnd.randint(0, 9999):04d}", prefecture, city,
                f"{rnd.randint(1, 9)}-{rnd.randint(1, 30)}-{rnd.randint(1, 20)}", tags, RANKS[i % len(RANKS)],
            ])
    return path.stat().st_size


def timed_import(url: str, path: Path, tenant: str, folder: Path) -> dict[str, Any]:
    """Run `kizuna import customers`; wall time, and the command's own peak RSS from wait4()."""
    out_path, err_path = folder / "import.out", folder / "import.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([KIZUNA, "import", "customers", str(path), "--tenant", tenant],
                                env=kizuna_env(url), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    summary = out_path.read_text().strip()
    if proc.returncode != 0:
        raise RuntimeError(f"kizuna import failed ({proc.returncode}):\n{summary}\n"
                           f"{err_path.read_text()[-2000:]}")
    return {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024, "summary": summary}


def baseline_copy(url: str, path: Path) -> float:
    """Seconds for PostgreSQL to COPY the same CSV into an unindexed text table."""
    columns = ", ".join(f'"{name}" text' for name in HEADER)
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(f"CREATE UNLOGGED TABLE IF NOT EXISTS public.bench_copy ({columns})")
        conn.execute("TRUNCATE public.bench_copy")
        started = time.perf_counter()
        with conn.cursor().copy("COPY public.bench_copy FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                open(path, "rb") as f:
            while block := f.read(1 << 20):
                copy.write(block)
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE public.bench_copy")
        conn.commit()
    return seconds


def validation_only(path: Path) -> float:
    """Seconds to read and validate the file with the import's code, no database."""
    from datetime import UTC, datetime

    from domain.imports.columns import resolve_header
    from domain.imports.model import DEFAULT_CHUNK_ROWS, ImportContext, ImportKind
    from domain.imports.services import chunked, prepare_chunk
    from infra.imports.source import CsvSource, inspect

    started = time.perf_counter()
    with open(path, "rb") as f:
        source = CsvSource(f, inspect(f).encoding)
        columns = resolve_header(ImportKind.CUSTOMERS, source.header)
        now = datetime.now(UTC)
        ctx = ImportContext(today=now.date(), now=now, timezone="Asia/Tokyo", currency="JPY")
        for chunk, _ in chunked(source.records(), DEFAULT_CHUNK_ROWS):
            prepare_chunk(columns, chunk, ctx)
    return time.perf_counter() - started


def _one_size(server: str, rows: int, folder: Path) -> dict[str, Any]:
    path = folder / f"customers-{rows}.csv"
    t0 = time.perf_counter()
    size = generate(path, rows)
    generated = time.perf_counter() - t0
    with throwaway_database(server) as url:
        kizuna(url, "migrate")
        kizuna(url, "tenants", "create", "bench", "--name", "ベンチ")
        copy_seconds = baseline_copy(url, path)
        validate_seconds = validation_only(path)
        measured = timed_import(url, path, "bench", folder)
        with psycopg.connect(libpq_url(url)) as conn:
            stored = conn.execute("SELECT count(*) FROM t_bench.customers").fetchone()[0]
            identities = conn.execute("SELECT count(*) FROM t_bench.customer_identities").fetchone()[0]
    path.unlink()
    return {"rows": rows, "file_mib": size / 2**20, "generate_seconds": generated,
            "copy_seconds": copy_seconds, "validate_seconds": validate_seconds, "stored_customers": stored,
            "stored_identities": identities,
            **measured}


def run(server: str, *, quick: bool, rows: int | None = None, small: int | None = None
        ) -> tuple[list[Figure], dict[str, Any]]:
    big = rows or (200_000 if quick else 1_000_000)
    little = small or (20_000 if quick else 100_000)
    with tempfile.TemporaryDirectory(prefix="kizuna-bench-") as tmp:
        results = [_one_size(server, n, Path(tmp)) for n in (little, big)]
    figures = []
    for r in results:
        rate = r["rows"] / r["seconds"]
        figures.append(Figure(f"CSV import {r['rows']:,} customers", rate, "rows/s",
                              r["rows"] / r["copy_seconds"], "PostgreSQL COPY of the file rows/s"))
        figures.append(Figure(f"CSV import {r['rows']:,} customers", rate, "rows/s",
                              r["rows"] / r["validate_seconds"],
                              "reading + validating only, no database, rows/s"))
        figures.append(Figure(f"CSV import {r['rows']:,} customers peak RSS", r["peak_rss_mib"], "MiB"))
    small_peak, big_peak = results[0]["peak_rss_mib"], results[1]["peak_rss_mib"]
    figures.append(Figure(f"peak RSS {big:,} rows vs {little:,} rows", big_peak, "MiB", small_peak,
                          f"peak RSS at {little:,} rows MiB", f"<= {MEMORY_TOLERANCE:.2f}x (constant memory)",
                          big_peak <= small_peak * MEMORY_TOLERANCE))
    return figures, {"sizes": results}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.csv_import", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--generate-only", type=Path, metavar="FILE",
                        help="only write a CSV of --rows customers to FILE")
    args = parser.parse_args()
    if args.generate_only:
        size = generate(args.generate_only, args.rows)
        print(f"wrote {args.rows:,} rows, {size / 2**20:.1f} MiB to {args.generate_only}")
        return
    before = os.getloadavg()
    with postgres_server() as server:
        figures, raw = run(server, quick=False, rows=args.rows, small=args.small)
    after = os.getloadavg()
    print(f"  load average before {before[0]:.2f}, after {after[0]:.2f} ({os.cpu_count()} CPUs)")
    path = save("csv_import", {"benchmark": "csv_import", "figures": figures, "raw": raw,
                               "load_average_before_after": [before, after]})
    print(f"  raw results: {path}")
    for figure in figures:
        print("  " + figure.line())
    for r in raw["sizes"]:
        print(f"  {r['rows']:,} rows: {r['file_mib']:.1f} MiB file, import {r['seconds']:.1f} s,"
              f" COPY {r['copy_seconds']:.1f} s, validation only {r['validate_seconds']:.1f} s,"
              f" stored {r['stored_customers']:,} customers /"
              f" {r['stored_identities']:,} identities")


if __name__ == "__main__":
    main()
