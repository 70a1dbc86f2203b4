"""Open the lake the way analysts do (Polars, DuckDB, pyarrow) and check the types.

    python tests/notebook_check.py LAKE_DIR

Checks every Parquet table under bronze/, rejects/, silver/ and gold/ (when
present): dates are dates, money and counts are integers, codes are strings
that keep their leading zeros; gold tables read one province by its Hive
partition. Run by .ci/run on the sample lake.
"""

import json
import pathlib
import sys

import duckdb
import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq

lake = pathlib.Path(sys.argv[1])
DATE_COLUMNS = {"month", "birth_date", "paid_on", "registered_on", "status_since", "pension_since",
                "from_month", "to_month", "paid_from", "paid_through", "held_on", "reviewed_on",
                "resume_month", "_extract_date", "as_of", "last_month", "report_date",
                "week_start", "week_end", "data_as_of", "compulsory_month"}
MONEY_COLUMNS = {"taxable_income", "insured_wage", "amount", "monthly_revenue", "income_basis",
                 "collection_target", "debt", "interest", "due", "paid", "brought_forward",
                 "carried_forward", "wage_fund", "amount_due", "wage_fund_3m", "collected_week",
                 "collected_ytd", "collection_expected", "target", "actual", "expected"}
CODE_COLUMNS = {"province_code", "ward_code", "tax_code", "employer_tax_code", "si_number",
                "citizen_id", "unit_code", "person_tax_code", "industry_code", "province_code_2025",
                "provinces_2020"}



def check_types(where, df):
    for name, dtype in df.schema.items():
        if name in DATE_COLUMNS:
            assert dtype == pl.Date, f"{where}: {name} is {dtype}, not Date"
        if name in MONEY_COLUMNS:
            assert dtype.is_integer(), f"{where}: {name} is {dtype}, not an integer"
        if name in CODE_COLUMNS:
            assert dtype == pl.String, f"{where}: {name} is {dtype}, not String"


checked = 0
for layer in ["bronze", "rejects", "silver"]:
    for path in sorted((lake / layer).rglob("*.parquet")):
        df = pl.read_parquet(path)
        check_types(path, df)
        if "province_code" in df.columns and df.height:
            codes = df["province_code"].drop_nulls()
            assert codes.str.len_chars().eq(2).all(), f"{path}: province codes lost their leading zero"
        # The same file through DuckDB and pyarrow.
        n = duckdb.sql(f"select count(*) from read_parquet('{path}')").fetchall()[0][0]
        assert n == df.height, f"{path}: DuckDB reads {n} rows, Polars {df.height}"
        assert pq.read_table(path).num_rows == df.height
        checked += 1

gold = lake / "gold"
published = lake / "_published.json"
assert published.exists(), f"{published}: a whole run writes it"
versions = json.loads(published.read_text())["schema_versions"]
if gold.exists():
    for table in sorted(p for p in gold.iterdir() if p.is_dir() and not p.name.startswith(".")):
        # Every file names its table and schema version in its footer, the
        # version _published.json lists (docs/gold-schema-versions.csv).
        files = sorted(table.rglob("*.parquet"))
        for path in files:
            meta = pq.read_metadata(path).metadata or {}
            assert pl.read_parquet_metadata(path).get("bhxh:table") == table.name, f"{path}: Polars"
            assert meta.get(b"bhxh:table") == table.name.encode(), f"{path}: bhxh:table is {meta.get(b'bhxh:table')}"
            version = int(meta[b"bhxh:schema_version"])
            assert version >= 1, f"{path}: schema version {version}"
            assert versions[table.name] == version, f"{path}: version {version}, _published.json {versions[table.name]}"
        kv = duckdb.sql(f"select value from parquet_kv_metadata({[str(f) for f in files]}) "
                        f"where key = 'bhxh:schema_version'").fetchall()
        assert len(kv) == len(files) and {bytes(v[0]) for v in kv} == {str(version).encode()}, f"{table}: DuckDB sees {kv}"
        # Partition values are text: say so, or readers guess integers and drop the leading zero.
        import pyarrow as pa
        dataset = ds.dataset(table, format="parquet",
                             partitioning=ds.partitioning(pa.schema([("province_code", pa.string())]), flavor="hive"))
        folders = sorted({p.name.split("=", 1)[1] for p in table.glob("province_code=*")})
        # Hive's null: rows without a province, or the one empty file of a table without rows.
        provinces = [p for p in folders if p != "__HIVE_DEFAULT_PARTITION__"]
        if not folders:
            # national_weekly: one file, no partitions.
            for path in sorted(table.glob("*.parquet")):
                df = pl.read_parquet(path)
                check_types(path, df)
                assert duckdb.sql(f"select count(*) from read_parquet('{path}')").fetchall()[0][0] == df.height
                checked += 1
            continue
        lf = pl.scan_parquet(table / "**/*.parquet", hive_partitioning=True,
                             hive_schema={"province_code": pl.String})
        if not provinces:
            # No rows: the table still opens, with its columns, in all three.
            empty = lf.collect()
            assert empty.height == 0 and "province_code" in empty.columns and len(empty.columns) > 1, f"{table}: {empty.columns}"
            check_types(table, empty)
            n = duckdb.sql(f"select count(*) from read_parquet('{table}/**/*.parquet', hive_partitioning=true, "
                           f"hive_types={{'province_code': VARCHAR}})").fetchall()[0][0]
            assert n == 0 and dataset.count_rows() == 0, f"{table}: DuckDB {n}, pyarrow {dataset.count_rows()}"
            checked += 1
            continue
        one = provinces[0]
        part = lf.filter(pl.col("province_code") == one).collect()
        assert part.height > 0 and (part["province_code"] == one).all(), f"{table}: province {one}"
        check_types(table, part)
        n = duckdb.sql(f"select count(*) from read_parquet('{table}/**/*.parquet', hive_partitioning=true, "
                       f"hive_types={{'province_code': VARCHAR}}) "
                       f"where province_code = '{one}'").fetchall()[0][0]
        assert n == part.height, f"{table}: DuckDB {n} vs Polars {part.height}"
        assert dataset.count_rows() >= part.height
        if table.name == "province_weekly":
            # One row per week for the province, every week of the report window.
            assert part["week"].n_unique() == part.height == part["week_end"].n_unique()
            assert part["report_date"].dt.weekday().eq(1).all(), "report days are Mondays"
        checked += 1

assert checked > 0, f"no Parquet found under {lake}"
print(f"notebook check: {checked} tables open in Polars, DuckDB and pyarrow with the expected types")
