//! Dated editions of a rules file (`pipelines/coverage.toml`,
//! `pipelines/scoring.toml`, `pipelines/linkage.toml`).
//!
//! A rules file is a first edition plus amendments, each in force from a
//! month:
//!
//! ```toml
//! valid_from = "2018-01"          # the first edition's first month
//! source = "…"                    # where the rules come from (required)
//! [uninsured]
//! lookback_months = 12
//! …
//!
//! [[amendment]]                   # later editions name only what changes
//! valid_from = "2027-01"
//! source = "…"                    # what decided the change (required)
//! [amendment.uninsured]
//! lookback_months = 6
//! ```
//!
//! The edition in force in a month is the first edition with every amendment
//! from that month or before laid over it, table by table (a value or list
//! an amendment names replaces the earlier one; a table is merged key by
//! key). A run applies the edition in force in its as-of month: the lists
//! of an as-of date are computed under the rules of that date, the way the
//! money rules of `pipelines/reference` are read for the month they price.
//! Every edition is built and checked when the file is loaded, so a mistake
//! in an amendment that is not yet in force stops tonight's run, not the
//! run of the month it takes effect.

use crate::month::Month;
use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use std::path::Path;

/// The rules in force in a month, and which edition they are.
#[derive(Clone, Debug)]
pub struct InForce<T> {
    pub rules: T,
    /// The month the edition (the first one or the latest amendment laid
    /// over it) took effect.
    pub valid_from: Month,
    /// The edition's own source (the first edition's, or the latest
    /// amendment's).
    pub source: String,
    /// BLAKE3 of the edition's rules as laid out (every value in force,
    /// without `valid_from`, `source`, comments or amendments not yet in
    /// force): what a kept answer's fingerprint carries, so that editing a
    /// comment or adding a future amendment recomputes nothing until a
    /// value in force changes.
    pub digest: String,
}

/// Reads `path` and returns the edition in force in `month`.
pub fn load<T: DeserializeOwned>(path: &Path, month: Month, check: fn(&T) -> Result<()>) -> Result<InForce<T>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    in_force(&text, month, check).with_context(|| format!("in {}", path.display()))
}

/// The edition of `text` in force in `month`; every edition is built and
/// checked first.
pub fn in_force<T: DeserializeOwned>(text: &str, month: Month, check: fn(&T) -> Result<()>) -> Result<InForce<T>> {
    let all = editions(text, check)?;
    let first = all[0].valid_from;
    all.into_iter()
        .rev()
        .find(|e| e.valid_from <= month)
        .with_context(|| format!("no edition in force in {month}: the first one is valid from {first}"))
}

/// Every edition of `text`, oldest first, each checked by `check`.
pub fn editions<T: DeserializeOwned>(text: &str, check: fn(&T) -> Result<()>) -> Result<Vec<InForce<T>>> {
    let mut base: toml::Table = toml::from_str(text)?;
    let amendments = match base.remove("amendment") {
        None => Vec::new(),
        Some(toml::Value::Array(a)) => a,
        Some(_) => bail!("`amendment` must be an array of tables ([[amendment]])"),
    };
    let (mut valid_from, mut source) = take_header(&mut base).context("the first edition")?;
    let mut out = vec![build(&base, valid_from, source.clone(), check).with_context(|| format!("the edition valid from {valid_from}"))?];
    for (i, a) in amendments.into_iter().enumerate() {
        let toml::Value::Table(mut a) = a else { bail!("amendment {}: must be a table", i + 1) };
        let (from, src) = take_header(&mut a).with_context(|| format!("amendment {}", i + 1))?;
        if from <= valid_from {
            bail!("amendment {}: valid_from {from} must come after the edition before it ({valid_from})", i + 1);
        }
        if a.is_empty() {
            bail!("amendment {} (valid from {from}) changes nothing", i + 1);
        }
        merge(&mut base, a);
        (valid_from, source) = (from, src);
        out.push(build(&base, valid_from, source.clone(), check).with_context(|| format!("the edition valid from {valid_from}"))?);
    }
    Ok(out)
}

/// Removes and parses an edition's `valid_from` and `source` (both
/// required: a rule without the document it comes from cannot be checked).
fn take_header(t: &mut toml::Table) -> Result<(Month, String)> {
    let from = match t.remove("valid_from") {
        Some(toml::Value::String(s)) => s.parse::<Month>().with_context(|| format!("valid_from {s:?} is not a YYYY-MM month"))?,
        Some(v) => bail!("valid_from must be a \"YYYY-MM\" text, not {v}"),
        None => bail!("no valid_from: every edition says the month it takes effect (valid_from = \"YYYY-MM\")"),
    };
    let source = match t.remove("source") {
        Some(toml::Value::String(s)) if !s.trim().is_empty() => s,
        Some(toml::Value::String(_)) => bail!("source is empty: name the document the edition comes from"),
        Some(v) => bail!("source must be a text, not {v}"),
        None => bail!("no source: every edition names the document it comes from (source = \"…\")"),
    };
    Ok((from, source))
}

fn build<T: DeserializeOwned>(t: &toml::Table, valid_from: Month, source: String, check: fn(&T) -> Result<()>) -> Result<InForce<T>> {
    let rules: T = toml::Value::Table(t.clone()).try_into()?;
    check(&rules)?;
    // The table's keys are in sorted order (toml's map is a B-tree), so
    // the same values always print the same.
    let digest = blake3::hash(toml::to_string(t)?.as_bytes()).to_hex().to_string();
    Ok(InForce { rules, valid_from, source, digest })
}

/// Lays `over` on `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Rules {
        a: A,
        b: Vec<String>,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct A {
        x: u32,
        y: u32,
    }
    fn check(r: &Rules) -> Result<()> {
        if r.a.x == 0 {
            bail!("x must be at least 1");
        }
        Ok(())
    }
    const TEXT: &str = r#"
valid_from = "2018-01"
source = "first"
b = ["p", "q"]
[a]
x = 1
y = 2

[[amendment]]
valid_from = "2021-07"
source = "second"
[amendment.a]
x = 5

[[amendment]]
valid_from = "2024-01"
source = "third"
b = ["r"]
"#;
    fn m(s: &str) -> Month {
        s.parse().unwrap()
    }

    #[test]
    fn the_edition_of_a_month_lays_every_earlier_amendment_over_the_first() {
        let at = |s: &str| in_force::<Rules>(TEXT, m(s), check).unwrap();
        let e = at("2021-06");
        assert_eq!((e.rules.a, e.rules.b, e.valid_from, e.source.as_str()), (A { x: 1, y: 2 }, vec!["p".into(), "q".into()], m("2018-01"), "first"));
        let e = at("2021-07");
        assert_eq!((e.rules.a, e.valid_from, e.source.as_str()), (A { x: 5, y: 2 }, m("2021-07"), "second"), "y kept");
        let e = at("2030-12");
        assert_eq!((e.rules.a.x, e.rules.b, e.valid_from, e.source.as_str()), (5, vec!["r".to_string()], m("2024-01"), "third"));
        let err = in_force::<Rules>(TEXT, m("2017-12"), check).unwrap_err().to_string();
        assert!(err.contains("no edition in force in 2017-12"), "{err}");
    }

    /// The digest follows the values in force, not the file's bytes.
    #[test]
    fn the_digest_changes_with_a_value_in_force_only() {
        let digest = |text: &str, at: &str| in_force::<Rules>(text, m(at), check).unwrap().digest;
        let base = digest(TEXT, "2022-01");
        assert_eq!(digest(&TEXT.replace("[a]\n", "# a comment\n[a]\n"), "2022-01"), base, "a comment");
        assert_eq!(digest(&TEXT.replace("source = \"second\"", "source = \"another\""), "2022-01"), base, "a source");
        let later = TEXT.to_string() + "\n[[amendment]]\nvalid_from = \"2099-01\"\nsource = \"later\"\n[amendment.a]\ny = 9\n";
        assert_eq!(digest(&later, "2022-01"), base, "an amendment not yet in force");
        assert_ne!(digest(&later, "2099-01"), digest(TEXT, "2099-01"), "the same amendment in force");
        assert_ne!(digest(&TEXT.replace("y = 2", "y = 3"), "2022-01"), base, "a value in force");
        assert_ne!(digest(TEXT, "2021-06"), base, "another edition");
    }

    #[test]
    fn a_bad_edition_is_refused_even_before_it_takes_effect() {
        let bad = |text: String, why: &str| {
            let err = format!("{:#}", in_force::<Rules>(&text, m("2019-01"), check).unwrap_err());
            assert!(err.contains(why), "{why:?} not in {err}");
        };
        bad(TEXT.replace("x = 5", "x = 0"), "x must be at least 1");
        bad(TEXT.replace("x = 5", "z = 5"), "unknown field `z`");
        bad(TEXT.replace("valid_from = \"2024-01\"", "valid_from = \"2021-07\""), "must come after the edition before it (2021-07)");
        bad(TEXT.replace("valid_from = \"2018-01\"\n", ""), "no valid_from");
        bad(TEXT.replace("\"2021-07\"", "\"2021-13\""), "not a YYYY-MM month");
        bad(TEXT.replace("[amendment.a]\nx = 5\n", ""), "changes nothing");
        bad(TEXT.replace("source = \"second\"\n", ""), "no source");
        bad(TEXT.replace("source = \"first\"", "source = \" \""), "source is empty");
        bad(TEXT.replace("b = [\"r\"]", "b = \"r\""), "invalid type");
    }
}
