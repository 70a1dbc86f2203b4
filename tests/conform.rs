//! Conform over several deliveries: the newest extract wins, a re-delivered
//! file (version 2) beats its first content, a resent payment keeps its first
//! copy, and a run for a past date ignores later extracts.

use bhxh::lake::read_parquet;
use bhxh::pipeline::{self, RunConfig};
use chrono::NaiveDate;
use std::path::Path;

const UNITS: &str = "unit_code,name,province_code,wage_region,status";
const PAYMENTS: &str = "unit_code,paid_on,amount,reference";

fn run(inbox: &Path, lake: &Path, as_of: (i32, u32, u32)) {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference");
    let as_of = NaiveDate::from_ymd_opt(as_of.0, as_of.1, as_of.2).unwrap();
    pipeline::run(&RunConfig::new(inbox, lake, reference, as_of)).unwrap();
}

fn column(lake: &Path, table: &str, col: &str) -> Vec<String> {
    let df = read_parquet(&lake.join(format!("silver/{table}.parquet"))).unwrap();
    let s = df.column(col).unwrap().cast(&polars::prelude::DataType::String).unwrap();
    let ca = s.str().unwrap().clone();
    (0..ca.len()).map(|i| ca.get(i).unwrap().to_string()).collect()
}

#[test]
fn newest_extract_wins_resends_keep_the_first_copy_and_the_past_stays_past() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, lake) = (dir.path().join("inbox"), dir.path().join("lake"));
    std::fs::create_dir_all(&inbox).unwrap();
    let w = |name: &str, text: String| std::fs::write(inbox.join(name), text).unwrap();
    w("si_units_20200601.csv", format!("{UNITS}\nU1,Công ty A,01,1,active\nU2,Công ty X,79,1,active\n"));
    w("si_units_20200608.csv", format!("{UNITS}\nU1,Công ty B,01,1,active\n"));
    w("si_payments_20200601.csv", format!("{PAYMENTS}\nU1,2020-05-30,100,R1\n"));
    w("si_payments_20200608.csv", format!("{PAYMENTS}\nU1,2020-06-02,100,R1\nU1,2020-06-03,50,R2\n"));

    run(&inbox, &lake, (2020, 6, 8));
    assert_eq!(column(&lake, "units", "unit_code"), ["U2", "U1"]);
    use std::os::unix::fs::PermissionsExt;
    for f in ["silver/units.parquet", "bronze/si_units/si_units_20200601.parquet", "_ledger/ingested.jsonl"] {
        let mode = std::fs::metadata(lake.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "{f}: owner read/write, group read, others nothing");
    }
    assert_eq!(column(&lake, "units", "name"), ["Công ty X", "Công ty B"], "the newer extract wins");
    assert_eq!(column(&lake, "payments", "reference"), ["R1", "R2"]);
    assert_eq!(column(&lake, "payments", "paid_on"), ["2020-05-30", "2020-06-03"], "a resend keeps the first copy");

    // The 8 June file delivered again with new content: version 2 wins.
    w("si_units_20200608.csv", format!("{UNITS}\nU1,Công ty C,01,1,active\n"));
    run(&inbox, &lake, (2020, 6, 8));
    assert_eq!(column(&lake, "units", "name"), ["Công ty X", "Công ty C"]);

    // A run for 5 June sees only the 1 June extracts.
    run(&inbox, &lake, (2020, 6, 5));
    assert_eq!(column(&lake, "units", "name"), ["Công ty A", "Công ty X"]);
    assert_eq!(column(&lake, "payments", "reference"), ["R1"]);
}

/// Keys with a month, spread over several extracts (so over several bronze
/// files, each hashed in its own batches): per key the newest extract's last
/// line survives, the kept rows in extract and line order, as a whole-table
/// deduplication on the keys themselves would have it.
#[test]
fn month_keys_across_extracts_keep_the_newest_last_line_in_order() {
    const CONTRIB: &str = "unit_code,si_number,month,insured_wage,work_status";
    let dir = tempfile::tempdir().unwrap();
    let (inbox, lake) = (dir.path().join("inbox"), dir.path().join("lake"));
    std::fs::create_dir_all(&inbox).unwrap();
    let w = |name: &str, text: String| std::fs::write(inbox.join(name), text).unwrap();
    w("si_units_20200601.csv", format!("{UNITS}\nU1,Công ty A,01,1,active\n"));
    w(
        "si_contributions_20200601.csv",
        format!(
            "{CONTRIB}\nU1,0100000001,2020-04,5000000,working\nU1,0100000001,2020-05,5000000,working\n\
             U1,0100000002,2020-04,6000000,working\nU1,0100000001,2020-04,5100000,working\n"
        ),
    );
    w(
        "si_contributions_20200608.csv",
        format!("{CONTRIB}\nU1,0100000001,2020-05,5200000,working\nU1,0100000002,2020-05,6000000,working\nU1,0100000001,2020-05,5300000,working\n"),
    );
    run(&inbox, &lake, (2020, 6, 8));
    let rows: Vec<String> = column(&lake, "contributions", "si_number")
        .into_iter()
        .zip(column(&lake, "contributions", "month"))
        .zip(column(&lake, "contributions", "insured_wage"))
        .map(|((s, m), w)| format!("{s} {m} {w}"))
        .collect();
    assert_eq!(
        rows,
        [
            "0100000002 2020-04-01 6000000", // line 4 of the first extract
            "0100000001 2020-04-01 5100000", // line 5 beats line 2: the last line of the extract
            "0100000002 2020-05-01 6000000", // second extract, line 3
            "0100000001 2020-05-01 5300000", // second extract's last line beats line 2 and the first extract
        ]
    );
}
