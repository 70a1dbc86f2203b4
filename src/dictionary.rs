//! The data dictionary (`docs/data-dictionary.md`), generated from the code's
//! own declarations so it cannot drift: a test compares the file with
//! [`render`], and `bhxh dictionary --write` regenerates it.

use crate::contract::{Kind, Reason, DATASETS};
use crate::conform::SILVER;
use std::fmt::Write;

fn kind_text(kind: Kind) -> (&'static str, String) {
    match kind {
        Kind::Text => ("string", "text, NFC".into()),
        Kind::Name => ("string", "name: NFC, trimmed, single spaces (raw value in `<column>_raw`)".into()),
        Kind::TaxCode => ("string", "10 digits with check digit, optional `-NNN` branch".into()),
        Kind::PersonTaxCode => ("string", "10 digits".into()),
        Kind::CitizenId => ("string", "9-digit CMND or 12-digit CCCD".into()),
        Kind::SiNumber => ("string", "10 digits".into()),
        Kind::UnitCode => ("string", "`[A-Z0-9]{1,16}`".into()),
        Kind::Province => ("string", "2-digit province code of 2020".into()),
        Kind::Digits(n) => ("string", format!("{n} digits")),
        Kind::Date => ("date", "calendar date".into()),
        Kind::Month => ("date", "month, as its first day".into()),
        Kind::Money { min } => ("int64", format!("VND, ≥ {min}")),
        Kind::Int { min, max } => ("int64", format!("{min}–{max}")),
        Kind::IntOneOf(v) => ("int64", format!("one of {}", v.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))),
        Kind::Enum(v) => ("string", format!("one of `{}`", v.join("` `"))),
        Kind::Bool => ("bool", "true / false".into()),
    }
}

/// Columns conform adds to a silver table, beyond its dataset's.
pub fn silver_extra_columns(table: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    match table {
        "employers" => &[
            ("head_tax_code", "string", "The 10-digit head-office tax code (a branch's parent)"),
            ("is_branch", "bool", "The tax code has a `-NNN` branch suffix"),
        ],
        "units" => &[("head_tax_code", "string", "The 10-digit head-office part of the unit's tax code")],
        "wages" => &[
            ("employer_head_tax_code", "string", "The employer's 10-digit head-office tax code"),
            (
                "person_ref",
                "string",
                "The best identifier the row carries: `pit:<person tax code>`, else `cid:<citizen id>`, else `name:<lower-case name>|<birth date>`",
            ),
        ],
        _ => &[],
    }
}

/// Every published gold table, stage by stage.
pub fn gold_tables() -> Vec<&'static crate::lake::gold::GoldTable> {
    crate::assess::tables::GOLD_TABLES
        .iter()
        .chain(crate::coverage::tables::GOLD_TABLES)
        .chain(crate::voluntary::tables::GOLD_TABLES)
        .chain(crate::publish::tables::GOLD_TABLES)
        .copied()
        .collect()
}

/// The silver table conformed from `dataset`.
fn silver_of(dataset: &str) -> &'static str {
    SILVER.iter().find(|t| t.dataset == dataset).map_or("", |t| t.name)
}

/// The whole dictionary as Markdown.
pub fn render() -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "# Data dictionary\n");
    let _ = writeln!(w, "Generated from the code (`bhxh dictionary --write`); a test fails when this file and the code disagree.\n");
    let _ = writeln!(w, "Types are Parquet logical types: `string` (UTF-8), `int64`, `date`, `bool`. Money is whole VND in `int64`. Months are `date` values on the first day of the month.\n");
    let _ = writeln!(w, "## Bronze: `bronze/<dataset>/<dataset>_<YYYYMMDD>.parquet`\n");
    let _ = writeln!(w, "One file per input extract, the accepted rows typed. Columns the contract does not know are kept as `string`. Every table also has the lineage columns:\n");
    let _ = writeln!(w, "| column | type | meaning |\n|---|---|---|");
    for (c, t, m) in crate::ingest::LINEAGE {
        let _ = writeln!(w, "| `{c}` | {t} | {m} |");
    }
    for d in DATASETS {
        let key = d.key.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        let derived = d.key.iter().filter(|k| crate::contract::DERIVED_KEYS.contains(k)).map(|k| format!(" (`{k}` is derived by conform: see silver `{}`)", silver_of(d.name))).collect::<String>();
        let _ = writeln!(w, "\n### `{}`\n\n{} Natural key: {key}{derived}.\n", d.name, d.doc);
        let _ = writeln!(w, "| column | type | required | rule | meaning |\n|---|---|---|---|---|");
        for c in d.columns {
            let (t, rule) = kind_text(c.kind);
            let _ = writeln!(w, "| `{}` | {t} | {} | {rule} | {} |", c.name, if c.required { "yes" } else { "" }, c.doc);
            if c.kind == Kind::Name {
                let _ = writeln!(w, "| `{}_raw` | string |  | as received | {} as the source wrote it |", c.name, c.doc);
            }
        }
    }
    let _ = writeln!(w, "\n## Rejects: `rejects/<dataset>_<YYYYMMDD>.parquet`\n");
    let _ = writeln!(w, "Every row of an extract that was not accepted. For every file, input rows = accepted + rejected.\n");
    let _ = writeln!(w, "| column | type | meaning |\n|---|---|---|");
    for (c, t, m) in [
        ("dataset", "string", "Input dataset"),
        ("file", "string", "Input file"),
        ("line", "int64", "Physical line of the record's start (header = 1); for Parquet the 1-based row number"),
        ("column", "string", "The first failing column in contract order; null for `malformed_row`"),
        ("reason", "string", "Reason code, below"),
        ("message", "string", "What was wrong, in words"),
        ("raw", "string", "The record as received, CSV-quoted"),
    ] {
        let _ = writeln!(w, "| `{c}` | {t} | {m} |");
    }
    let _ = writeln!(w, "\n| reason | meaning |\n|---|---|");
    for r in Reason::ALL {
        let _ = writeln!(w, "| `{}` | {} |", r.code(), reason_doc(r));
    }
    let _ = writeln!(w, "\n## Silver: `silver/<table>.parquet`\n");
    let _ = writeln!(w, "One row per natural key of the dataset, over all extracts dated on or before the run's as-of date; rows in extract and line order. Columns: the bronze columns of the dataset (with lineage), plus those listed.\n");
    let _ = writeln!(w, "| table | from dataset | keeps | added columns |\n|---|---|---|---|");
    for t in SILVER {
        let extra = silver_extra_columns(t.name).iter().map(|(c, ty, m)| format!("`{c}` ({ty}): {m}")).collect::<Vec<_>>().join("; ");
        let keep = match t.keep {
            crate::conform::Keep::Latest => "newest extract, last line",
            crate::conform::Keep::First => "first copy (a resend is the same money)",
        };
        let _ = writeln!(w, "| `{}` | `{}` | {keep} | {} |", t.name, t.dataset, if extra.is_empty() { "—".into() } else { extra });
    }
    let _ = writeln!(w, "\n### Silver tables of the later stages\n");
    let mut derived: Vec<(&str, &str, &[(&str, &str, &str)])> = vec![
        (
            "person_links",
            "Link stage: one row per tax-side person (`person_ref` of tax_wages, `pit:<tax_code>` of tax_households) with the decision and its evidence (levels of the best candidate). Weights and thresholds: `pipelines/linkage.toml`.",
            crate::link::PERSON_LINKS_COLUMNS,
        ),
        (
            "clerical_review",
            "Link stage: the candidates of every `ambiguous` person, best first, with how each side shows the person, for a clerk to decide.",
            crate::link::CLERICAL_REVIEW_COLUMNS,
        ),
    ];
    derived.extend(crate::assess::silver_tables());
    derived.extend(crate::coverage::silver_tables());
    derived.extend(crate::voluntary::silver_tables());
    for (name, doc, cols) in derived {
        table(w, &format!("silver/{name}.parquet"), doc, cols);
    }
    let _ = writeln!(w, "\n## Gold: `gold/<table>/province_code=NN/part-0.parquet`\n");
    let _ = writeln!(w, "Answers, Hive-partitioned by province: `province_code` is in the folder name, not in the file. Each table is replaced whole by a run, except the weekly tables (`province_weekly`, `province_weekly_2025`, `national_weekly`), an archive a run adds its report week to. `national_weekly` is one file, not partitioned. Rows without a province (an employer neither registry places) are in `province_code=__HIVE_DEFAULT_PARTITION__/`, Hive's null, and in no province's exports; a table without rows is one empty file there, so that it still opens with its columns. Read `province_code` as text, or Polars and pyarrow guess integers and drop the leading zero: Polars `hive_schema={{\"province_code\": pl.String}}`, pyarrow `partitioning=ds.partitioning(pa.schema([(\"province_code\", pa.string())]), flavor=\"hive\")`, DuckDB `hive_types={{'province_code': VARCHAR}}` (DuckDB reads it as text by default). How the figures are computed: [rules.md](rules.md). No citizen IDs or names: people are `person_key`, a keyed hash (`BHXH_PERSON_KEY`, see the README).");
    let _ = writeln!(w, "\nEvery table has a schema version, which rises whenever a column is added, removed, renamed, retyped or moved; [gold-schema-versions.csv](gold-schema-versions.csv) says what changed in each. Every file carries it in its footer's key-value metadata, `bhxh:table` and `bhxh:schema_version` (pyarrow `pq.read_metadata(f).metadata`, Polars `pl.read_parquet_metadata(f)`, DuckDB `parquet_kv_metadata(f)`), and `_published.json` lists them (`schema_versions`): a notebook can check the version it was written for before it reads.");
    for t in gold_tables() {
        let _ = writeln!(w, "\n### `{}` (schema version {})\n\n{}\n", t.name, t.version(), t.doc);
        let _ = writeln!(w, "| column | type | meaning |\n|---|---|---|");
        for c in t.columns {
            let _ = writeln!(w, "| `{}` | {} | {} |", c.name, c.dtype, c.doc);
        }
    }
    let _ = writeln!(w, "\n## Exports: lists for the people who act on them\n");
    let _ = writeln!(w, "CSV, UTF-8 with a byte-order mark, one folder per province holding that province's rows only; they carry identities. Types: `vnd` is whole VND, `month` is `YYYY-MM`, `date` is `YYYY-MM-DD`, `share` a fraction (0.25).\n");
    let _ = writeln!(
        w,
        "Beside them, the export stage writes `bhxh_<province_code>_<as_of>.xlsx`: one workbook with a sheet per list ({}), the same rows and Vietnamese headers, money as VND (`#,##0 ₫`), dates as dates, codes as text, the header row frozen, and a last sheet, `Giải thích mã`, saying in Vietnamese what each code in the lists means (reasons, match methods, schemes, statuses, sources); and `{}`, a one-page summary of the report week with charts of the last {} weeks (collected vs the straight-line plan; participants by scheme).",
        crate::export::lists().map(|l| l.iter().map(|l| format!("`{}`", l.sheet)).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
        crate::export::HTML_FILE,
        crate::export::REPORT_WEEKS,
    );
    let weekly: Vec<(&str, &str, String)> =
        crate::export::WEEKLY_REPORT_COLUMNS.iter().map(|(c, h, t)| (*h, *t, format!("`{c}` of province_weekly"))).collect();
    let weekly_doc = format!(
        "The province's last {} weeks of `province_weekly` up to the report week, oldest first.",
        crate::export::REPORT_WEEKS
    );
    table(w, "exports/<as_of>/<province_code>/weekly_report.csv (in the lake)", &weekly_doc, &weekly);
    for (name, doc, spec) in [
        (
            "exports/<as_of>/<province_code>/c12_notices.csv (in the lake)",
            "C12-TS notices of the last ended month (final) and of the as-of month (provisional: payments up to the as-of date), one row per unit and month.",
            crate::assess::export::C12_EXPORT,
        ),
        (
            "exports/<as_of>/<province_code>/inspection_list.csv (in the lake)",
            "Units to inspect, longest debt first: debt of 3 months or more (not suspended), uninsured workers, wages declared below the regional minimum or the configured share of taxable income (under_declared_wages), employers never registered. One row per unit (or unregistered employer); `reasons` lists its codes, `evidence` one Vietnamese sentence per reason.",
            crate::assess::export::INSPECTION_EXPORT,
        ),
    ] {
        let cols: Vec<(&str, &str, String)> = spec.iter().map(|c| (c.header, c.format.type_name(), format!("`{}`", c.column))).collect();
        table(w, name, doc, &cols);
    }
    for (name, doc, cols) in crate::coverage::exports().into_iter().chain(crate::voluntary::exports()) {
        table(w, name, doc, cols);
    }
    s
}

/// A table's heading, meaning and columns (name, type, meaning).
fn table<M: std::fmt::Display>(w: &mut String, name: &str, doc: &str, cols: &[(&str, &str, M)]) {
    let _ = writeln!(w, "\n### `{name}`\n\n{doc}\n");
    let _ = writeln!(w, "| column | type | meaning |\n|---|---|---|");
    for (c, t, m) in cols {
        let _ = writeln!(w, "| `{c}` | {t} | {m} |");
    }
}

fn reason_doc(r: Reason) -> &'static str {
    match r {
        Reason::MalformedRow => "Not a record of the file's shape: a different number of fields than the header",
        Reason::MissingRequired => "A required value is empty",
        Reason::BadCheckDigit => "A tax code whose 10th digit is not its check digit",
        Reason::BadFormat => "An identifier or code of the wrong shape (digits, length, letters)",
        Reason::BadDate => "Not a real date `YYYY-MM-DD` or month `YYYY-MM`",
        Reason::BadNumber => "Not a whole number",
        Reason::NegativeMoney => "A money amount below zero",
        Reason::OutOfRange => "A number outside its allowed range or list (a zero payment, wage region 5, ...)",
        Reason::UnknownEnum => "A value not in the column's list",
        Reason::UnknownProvince => "A 2-digit code that is not one of the 63 provinces of 2020",
        Reason::Inconsistent => "Columns that contradict each other (a suspension over 12 months, paid_through before paid_from, ...)",
    }
}

#[cfg(test)]
mod tests {
    use crate::lake::gold::{schema_versions, SchemaVersion};

    /// "Versioned when they change" (DATA_CONTRACT): each gold table's
    /// columns are recorded under its latest version in
    /// docs/gold-schema-versions.csv, whose versions run 1, 2, 3… per table.
    /// A change of columns without a new row fails here, with the row to add.
    #[test]
    fn every_gold_tables_columns_are_its_latest_schema_version() {
        let rows = schema_versions().unwrap();
        let tables = super::gold_tables();
        let mut missing = Vec::new();
        for t in &tables {
            let mine: Vec<&SchemaVersion> = rows.iter().filter(|r| r.table == t.name).collect();
            let versions: Vec<u32> = mine.iter().map(|r| r.version).collect();
            assert_eq!(versions, (1..=mine.len() as u32).collect::<Vec<_>>(), "{}: versions run 1, 2, 3… in file order", t.name);
            match mine.last() {
                Some(last) if last.columns == t.signature() => assert_eq!(t.version(), last.version, "{}", t.name),
                _ => missing.push(format!("{},{},{},YYYY-MM-DD,\"what changed\"", t.name, mine.len() + 1, t.signature())),
            }
        }
        assert!(missing.is_empty(), "gold columns changed without a new schema version; add to docs/gold-schema-versions.csv:\n{}", missing.join("\n"));
        for r in &rows {
            assert!(tables.iter().any(|t| t.name == r.table), "docs/gold-schema-versions.csv: {} is no gold table", r.table);
            assert!(chrono::NaiveDate::parse_from_str(&r.since, "%Y-%m-%d").is_ok() && !r.change.trim().is_empty(), "{r:?}");
        }
    }

    /// A column renamed, retyped or moved changes the signature.
    #[test]
    fn a_tables_signature_follows_its_columns() {
        use crate::lake::gold::{GoldColumn, GoldTable};
        let t = |columns: &'static [GoldColumn]| GoldTable { name: "t", doc: "", columns, key: &[] };
        let c = |name: &'static str, dtype: &'static str| GoldColumn { name, dtype, doc: "" };
        let base = t(Box::leak(Box::new([c("a", "string"), c("b", "int64")]))).signature();
        assert_eq!(base.len(), 16);
        assert_eq!(t(Box::leak(Box::new([c("a", "string"), c("b", "int64")]))).signature(), base, "the docs do not count");
        for other in [
            t(Box::leak(Box::new([c("a", "string"), c("c", "int64")]))),
            t(Box::leak(Box::new([c("a", "string"), c("b", "int32")]))),
            t(Box::leak(Box::new([c("b", "int64"), c("a", "string")]))),
            t(Box::leak(Box::new([c("a", "string"), c("b", "int64"), c("c", "date")]))),
        ] {
            assert_ne!(other.signature(), base, "{:?}", other.columns);
        }
        assert_eq!(t(&[]).version(), 0, "no row records these columns");
    }

    #[test]
    fn docs_data_dictionary_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/data-dictionary.md");
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == super::render(),
            "docs/data-dictionary.md is stale: run `cargo run --release -- dictionary --write`"
        );
    }
}
