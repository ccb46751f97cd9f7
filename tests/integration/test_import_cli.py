"""`kizuna import` as an operator runs it, against the session's PostgreSQL."""

from __future__ import annotations

import codecs
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

KIZUNA = str(Path(sys.executable).parent / "kizuna")
HEADER = "external_id,email,phone,family_name,given_name,family_name_kana,given_name_kana,birth_date,gender," \
         "address.postal_code,address.prefecture,city,tags"


def run(database_url: str, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"KIZUNA_DATABASE_URL": database_url, "KIZUNA_LOG_LEVEL": "warning"}
    done = subprocess.run([KIZUNA, "import", *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stderr + done.stdout
    return done


async def query(db, sql: str, **params):
    async with db.connect() as conn:
        return (await conn.execute(text(sql), params)).all()


def write(path: Path, body: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(body.encode(encoding) if encoding != "utf-8-sig" else codecs.BOM_UTF8 + body.encode())
    return path


def read_rejects(path: Path, encoding: str = "utf-8-sig") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding))))


async def test_utf8_bom_and_cp932_files_with_japanese_names(tmp_path, database_url, db, tenant_a):
    rows = {
        "utf-8": "U1,hanako@example.jp,090-1234-5678,山田,花子,ヤマダ,ハナコ,1990/01/02,女性,100-0001,東京都,千代田区,vip|dm",
        "utf-8-sig": "B1,ｔａｒｏ＠example.jp,０９０－２２２２－３３３３,鈴木,太郎,ｽｽﾞｷ,ﾀﾛｳ,１９８５年１２月３１日,男性,"
                     "５３０－０００１,27,大阪市北区,",
        "cp932": "S1,jiro@example.jp,03-1234-5678,髙橋,次郎,たかはし,じろう,1970-05-05,male,〒060-0001,北海道,"
                 "札幌市中央区,①会員;vip",
    }
    for encoding, row in rows.items():
        path = write(tmp_path / f"{encoding}.csv", f"{HEADER}\r\n{row}\r\n", encoding)
        done = run(database_url, "customers", str(path), "--tenant", tenant_a.slug)
        assert "1 accepted, 0 rejected" in done.stdout and f"encoding {encoding}" in done.stdout
    found = {r.external_id: r for r in await query(db, f'SELECT * FROM "t_{tenant_a.slug}".customers')}
    assert (found["U1"].family_name, found["U1"].given_name_kana, found["U1"].tags) == ("山田", "ハナコ", ["dm", "vip"])
    b = found["B1"]
    assert (b.email, b.phone, b.family_name_kana, b.given_name_kana) == (
        "taro@example.jp", "+819022223333", "スズキ", "タロウ")
    assert (str(b.birth_date), b.postal_code, b.prefecture, b.gender) == ("1985-12-31", "530-0001", "27", "male")
    s = found["S1"]
    assert (s.family_name, s.family_name_kana, s.postal_code, s.prefecture, s.tags) == (
        "髙橋", "たかはし", "060-0001", "01", ["1会員", "vip"])
    imports = await query(db, f'SELECT encoding, status, accepted_rows FROM "t_{tenant_a.slug}".imports'
                              " ORDER BY id")
    assert [tuple(r) for r in imports] == [("utf-8", "succeeded", 1), ("utf-8-sig", "succeeded", 1),
                                           ("cp932", "succeeded", 1)]


async def test_bad_rows_go_to_the_rejects_file_with_their_lines_and_can_be_fixed_and_reimported(
        tmp_path, database_url, db, tenant_a):
    body = (f"{HEADER}\n"
            'G1,g1@example.jp,,岡田,,,,,,,,"港区\n六本木",\n'  # lines 2-3: a city over two lines
            "G2,not-an-email,12,,,,,2099-01-01,?,,,,\n"  # line 4
            "G3,g3@example.jp,,,,,,,,,,\n"  # line 5: one field short
            "\n"
            "G4,g4@example.jp,,,,,,,,,,,\n"  # line 7
            "G5,g4@example.jp,,,,,,,,,,,\n")  # line 8: G4's email
    source = write(tmp_path / "in.csv", body, "cp932")
    rejects = tmp_path / "rejects.csv"
    done = run(database_url, "customers", str(source), "--tenant", tenant_a.slug, "--rejects", str(rejects))
    assert "5 rows, 1 accepted, 4 rejected" in done.stdout
    got = read_rejects(rejects, "cp932")
    assert got[0] == ["reject_line", "reject_reason", *HEADER.split(",")]
    assert [r[0] for r in got[1:]] == ["2", "4", "5", "8"]
    assert got[1][1] == "address.city: must not contain control or unassigned characters"
    assert got[1][2:] == ["G1", "g1@example.jp", "", "岡田", *[""] * 7, "港区\n六本木", ""]
    assert {"email", "phone", "birth_date", "gender"} <= {p.split(":")[0] for p in got[2][1].split("; ")}
    assert got[3][1] == "expected 13 fields, found 12"
    assert got[4][1] == "email 'g4@example.jp' already belongs to the customer created from line 7"

    fixed = (rejects.read_bytes().decode("cp932").replace("港区\n六本木", "港区六本木")
             .replace("not-an-email,12,,,,,2099-01-01,?", "g2@example.jp,,,,,,,")
             .replace("G3,g3@example.jp,,,,,,,,,,", "G3,g3@example.jp,,,,,,,,,,,")
             .replace("G5,g4@example.jp", "G5,g5@example.jp"))
    again = write(tmp_path / "fixed.csv", fixed, "cp932")
    done = run(database_url, "customers", str(again), "--tenant", tenant_a.slug)
    assert "4 rows, 4 accepted, 0 rejected" in done.stdout
    (g1,) = await query(db, f'SELECT city FROM "t_{tenant_a.slug}".customers WHERE external_id = \'G1\'')
    assert g1.city == "港区六本木"


async def test_a_dry_run_validates_and_counts_but_writes_nothing(tmp_path, database_url, db, tenant_a):
    source = write(tmp_path / "in.csv", f"{HEADER}\nD1,d1@example.jp,,,,,,,,,,,\nD2,bad,,,,,,,,,,,\n")
    rejects = tmp_path / "r.csv"
    done = run(database_url, "customers", str(source), "--tenant", tenant_a.slug, "--dry-run", "--rejects",
               str(rejects))
    assert "dry run: nothing written" in done.stdout and "1 accepted, 1 rejected" in done.stdout
    assert [r[0] for r in read_rejects(rejects)[1:]] == ["3"]
    schema = f'"t_{tenant_a.slug}"'
    for table in ("customers", "customer_identities", "imports"):
        assert (await query(db, f"SELECT count(*) AS n FROM {schema}.{table}"))[0].n == 0


async def test_an_interrupted_import_resumes_where_it_stopped(tmp_path, database_url, db, tenant_a):
    lines = [f"R{i:02d},{'broken' if i in (3, 17) else f'r{i}@example.jp'},,,,,,,,,,," for i in range(25)]
    source = write(tmp_path / "in.csv", HEADER + "\n" + "\n".join(lines) + "\n")
    rejects = tmp_path / "r.csv"
    args = ("customers", str(source), "--tenant", tenant_a.slug, "--chunk-rows", "5", "--rejects", str(rejects))
    stopped = run(database_url, *args, "--stop-after-chunks", "2", code=1)
    assert "stopped after 2 chunks (10 rows committed)" in stopped.stderr and "--resume" in stopped.stderr
    schema = f'"t_{tenant_a.slug}"'
    (job,) = await query(db, f"SELECT status, processed_rows, errors FROM {schema}.imports")
    assert (job.status, job.processed_rows) == ("failed", 10) and "interrupted" not in job.errors[-1]["detail"]
    assert (await query(db, f"SELECT count(*) AS n FROM {schema}.customers"))[0].n == 9
    # as if the process died after writing a chunk's rejects but before its commit
    rejects.write_bytes(rejects.read_bytes() + b"19,from a chunk that never committed,R17,broken,,,,,,,,,,,\r\n")

    refused = run(database_url, *args, code=1)
    assert "pass --resume" in refused.stderr
    done = run(database_url, *args, "--resume")
    assert "25 rows, 23 accepted, 2 rejected; 15 rows" in done.stdout and "skipped the 10 rows" in done.stdout
    assert [r[0] for r in read_rejects(rejects)[1:]] == ["5", "19"]
    (job,) = await query(db, f"SELECT status, processed_rows, accepted_rows, total_rows FROM {schema}.imports")
    assert tuple(job) == ("succeeded", 25, 23, 25)
    assert (await query(db, f"SELECT count(*) AS n FROM {schema}.customers"))[0].n == 23


async def test_identities_stay_unique_and_consistent(tmp_path, database_url, db, api, tenant_a):
    made = await api.post("/v1/customers", json={"external_id": "API1", "email": "taken@example.jp"},
                          headers=tenant_a.auth)
    assert made.status_code == 201
    owner = made.json()["id"]
    await api.put("/v1/customers/by-external-id/API2", json={"email": "old@example.jp", "phone": "09011112222"},
                  headers=tenant_a.auth)
    body = (f"{HEADER}\n"
            "X1,taken@example.jp,,,,,,,,,,,\n"  # someone else's email
            "API2,new@example.jp,,,,,,,,,,,\n"  # moves API2's email; its phone stays
            "X2,old@example.jp,090-1111-2222,,,,,,,,,,\n"  # the email API2 just gave up is free; the phone is not
            "X3,old@example.jp,,,,,,,,,,,\n")  # the email is free: X3 takes it
    source = write(tmp_path / "in.csv", body)
    done = run(database_url, "customers", str(source), "--tenant", tenant_a.slug)
    assert "4 rows, 2 accepted, 2 rejected" in done.stdout
    assert f"line 2: email 'taken@example.jp' already belongs to customer {owner}" in done.stdout
    assert "line 4: phone '+819011112222' already belongs to customer" in done.stdout
    schema = f'"t_{tenant_a.slug}"'
    profile = await query(db, f"SELECT id, external_id, email, phone FROM {schema}.customers")
    implied = {(kind, getattr(r, kind), r.id) for r in profile for kind in ("external_id", "email", "phone")
               if getattr(r, kind)}
    held = {(r.type, r.value, r.customer_id) for r in await query(db, f"SELECT * FROM {schema}.customer_identities")}
    assert implied == held
    by_ext = {r.external_id: r for r in profile}
    assert by_ext["API2"].email == "new@example.jp" and by_ext["X3"].email == "old@example.jp"


async def test_the_same_file_into_two_tenants(tmp_path, database_url, db, tenant_a, tenant_b):
    source = write(tmp_path / "in.csv", f"{HEADER}\nT1,t1@example.jp,,,,,,,,,,,\n")
    for tenant in (tenant_a, tenant_b):
        assert "1 accepted" in run(database_url, "customers", str(source), "--tenant", tenant.slug).stdout
    for tenant in (tenant_a, tenant_b):
        schema = f'"t_{tenant.slug}"'
        assert [r.email for r in await query(db, f"SELECT email FROM {schema}.customers")] == ["t1@example.jp"]
        assert len(await query(db, f"SELECT id FROM {schema}.imports")) == 1


async def test_products_and_orders(tmp_path, database_url, db, api, tenant_a):
    products = write(tmp_path / "p.csv", "sku,name,category_path,price,cost,stock_quantity,status,attributes.color\n"
                                         "SKU-1,緑茶 500ml,飲料 > お茶,\"￥1,200\",400,10,active,緑\n"
                                         "SKU-2,ほうじ茶,飲料,800円,300,5,,\n"
                                         "SKU-1,,,,,12,,\n"
                                         "SKU-3,,,,,,,\n", "cp932")
    done = run(database_url, "products", str(products), "--tenant", tenant_a.slug)
    assert "4 rows, 3 accepted, 1 rejected" in done.stdout and "line 5: name: is required for a new sku" in done.stdout
    schema = f'"t_{tenant_a.slug}"'
    found = {r.sku: r for r in await query(db, f"SELECT * FROM {schema}.products")}
    assert (found["SKU-1"].price, found["SKU-1"].stock_quantity, found["SKU-1"].category_path) == (
        1200, 12, ["飲料", "お茶"])
    assert found["SKU-1"].attributes == {"color": "緑"}

    await api.post("/v1/customers", json={"external_id": "OC1"}, headers=tenant_a.auth)
    orders = write(tmp_path / "o.csv", (
        "order_number,customer_external_id,customer_email,ordered_at,channel,sku,quantity,unit_price,unit_cost,"
        "shipping_total,total\n"
        "O-1,OC1,,2026/10/01 10:00,ec,SKU-1,2,1200,,500,2900\n"
        "O-1,,,,,SKU-2,1,0,,,\n"
        "O-2,,new.buyer@example.jp,2026-10-02T09:00:00+09:00,store,SKU-2,1,800,,,\n"
        "O-3,OC1,,2026/10/03,ec,SKU-1,1,1200,,,9999\n"
        "O-4,OC1,,2026/10/04,ec,SKU-1,1,1200,,,\n"
        "O-5,OC1,,2026/10/05,ec,SKU-1,1,1200,,,\n"
        "O-4,OC1,,2026/10/04,ec,SKU-2,1,800,,,\n"))
    rejects = tmp_path / "or.csv"
    done = run(database_url, "orders", str(orders), "--tenant", tenant_a.slug, "--rejects", str(rejects))
    assert "7 rows, 5 accepted, 2 rejected" in done.stdout
    got = {r[0]: r[1] for r in read_rejects(rejects)[1:]}
    assert "total 9999 does not equal" in got["5"] and "appears again (first at line 6)" in got["8"]
    stored = {r.order_number: r for r in await query(db, f"SELECT * FROM {schema}.orders")}
    assert sorted(stored) == ["O-1", "O-2", "O-4", "O-5"]
    # lines without unit_cost take the catalogue cost: 2 x 400 + 1 x 300
    assert (stored["O-1"].subtotal, stored["O-1"].total, stored["O-1"].cost_total) == (2400, 2900, 1100)
    lines = await query(db, f"SELECT line_no, sku, quantity FROM {schema}.order_lines WHERE order_id = :id"
                            " ORDER BY line_no", id=stored["O-1"].id)
    assert [tuple(r) for r in lines] == [(1, "SKU-1", 2), (2, "SKU-2", 1)]
    (buyer,) = await query(db, f"SELECT id FROM {schema}.customers WHERE email = 'new.buyer@example.jp'")
    assert stored["O-2"].customer_id == buyer.id  # an unknown identity creates the customer
    again = run(database_url, "orders", str(orders), "--tenant", tenant_a.slug)
    assert "0 accepted, 7 rejected" in again.stdout and "'O-1' is already recorded" in again.stdout


async def test_errors_that_stop_an_import_before_it_starts(tmp_path, database_url, db, tenant_a):
    bad_header = write(tmp_path / "h.csv", "external_id,emial\nC1,x\n")
    done = run(database_url, "customers", str(bad_header), "--tenant", tenant_a.slug, code=2)
    assert "unknown column 'emial'" in done.stderr
    garbage = tmp_path / "g.csv"
    garbage.write_bytes(b"external_id\n\x81\x00\xff\n")
    assert "neither UTF-8 nor cp932" in run(database_url, "customers", str(garbage), "--tenant", tenant_a.slug,
                                            code=1).stderr
    cp932 = write(tmp_path / "s.csv", "external_id,family_name\nC1,山田\n", "cp932")
    assert "not utf-8 text" in run(database_url, "customers", str(cp932), "--tenant", tenant_a.slug,
                                   "--encoding", "utf-8", code=1).stderr
    assert "no tenant 'nobody'" in run(database_url, "customers", str(cp932), "--tenant", "nobody", code=1).stderr
    assert (await query(db, f'SELECT count(*) AS n FROM "t_{tenant_a.slug}".imports'))[0].n == 0
