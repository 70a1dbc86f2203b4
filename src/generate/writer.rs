//! Streaming CSV writers for the extracts: rows are formatted into a reused
//! buffer, written with RFC 4180 quoting, and the writer plants the bad rows
//! and duplicate rows of its dataset while keeping the line numbers for the
//! truth files.

use super::badrows::{self, BadCtx, Reason};
use super::names::Noise;
use super::rng::{kind, stream};
use crate::month::Month;
use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// The fourteen input datasets, in contract order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Ds {
    TaxEmployers,
    TaxWages,
    TaxHouseholds,
    SiUnits,
    SiPeople,
    SiContributions,
    SiSuspensions,
    SiPayments,
    SiVoluntary,
    Agents,
    Officers,
    PlanTargets,
    CovidReviews,
    Conferences,
}

impl Ds {
    pub fn name(self) -> &'static str {
        match self {
            Ds::TaxEmployers => "tax_employers",
            Ds::TaxWages => "tax_wages",
            Ds::TaxHouseholds => "tax_households",
            Ds::SiUnits => "si_units",
            Ds::SiPeople => "si_people",
            Ds::SiContributions => "si_contributions",
            Ds::SiSuspensions => "si_suspensions",
            Ds::SiPayments => "si_payments",
            Ds::SiVoluntary => "si_voluntary",
            Ds::Agents => "agents",
            Ds::Officers => "officers",
            Ds::PlanTargets => "plan_targets",
            Ds::CovidReviews => "covid_reviews",
            Ds::Conferences => "conferences",
        }
    }

    /// Header: the contract columns in contract order (plus the
    /// `si_people.contributed_months` extension, last).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Ds::TaxEmployers => &[
                "tax_code",
                "name",
                "province_code",
                "ward_code",
                "address",
                "kind",
                "industry_code",
                "registered_on",
                "status",
                "status_since",
                "employees_declared",
            ],
            Ds::TaxWages => &[
                "employer_tax_code",
                "person_tax_code",
                "citizen_id",
                "full_name",
                "birth_date",
                "month",
                "taxable_income",
                "contract",
            ],
            Ds::TaxHouseholds => &[
                "tax_code",
                "citizen_id",
                "owner_name",
                "birth_date",
                "sex",
                "province_code",
                "ward_code",
                "business_line",
                "market",
                "craft_village",
                "monthly_revenue",
                "status",
                "registered_on",
            ],
            Ds::SiUnits => &[
                "unit_code",
                "tax_code",
                "name",
                "province_code",
                "ward_code",
                "wage_region",
                "officer_id",
                "registered_on",
                "status",
            ],
            Ds::SiPeople => &[
                "si_number",
                "citizen_id",
                "full_name",
                "birth_date",
                "sex",
                "province_code",
                "ward_code",
                "household_code",
                "pension_since",
                "contributed_months",
            ],
            Ds::SiContributions => &["unit_code", "si_number", "month", "insured_wage", "work_status"],
            Ds::SiSuspensions => &["unit_code", "from_month", "to_month", "decision_no"],
            Ds::SiPayments => &["unit_code", "paid_on", "amount", "reference"],
            Ds::SiVoluntary => &[
                "si_number",
                "scheme",
                "agent_code",
                "household_code",
                "member_order",
                "income_basis",
                "support_group",
                "payment_months",
                "paid_from",
                "paid_through",
            ],
            Ds::Agents => &["agent_code", "name", "organisation", "province_code", "ward_code", "active"],
            Ds::Officers => &["officer_id", "name", "province_code", "office", "weekly_capacity"],
            Ds::PlanTargets => &[
                "year",
                "province_code",
                "collection_target",
                "compulsory_target",
                "voluntary_target",
                "household_hi_target",
            ],
            Ds::CovidReviews => &[
                "unit_code",
                "month",
                "reviewed_on",
                "continuing",
                "terminated",
                "unpaid_leave",
                "suspended_contract",
                "stopped_paid",
                "resume_month",
            ],
            Ds::Conferences => &[
                "conference_id",
                "province_code",
                "ward_code",
                "held_on",
                "place",
                "invited",
                "attended",
                "registered",
            ],
        }
    }

    #[cfg(test)]
    pub fn from_name(name: &str) -> Option<Ds> {
        use Ds::*;
        [
            TaxEmployers,
            TaxWages,
            TaxHouseholds,
            SiUnits,
            SiPeople,
            SiContributions,
            SiSuspensions,
            SiPayments,
            SiVoluntary,
            Agents,
            Officers,
            PlanTargets,
            CovidReviews,
            Conferences,
        ]
        .into_iter()
        .find(|d| d.name() == name)
    }

    pub fn col(self, name: &str) -> usize {
        self.columns().iter().position(|c| *c == name).expect("known column")
    }

    /// Datasets that receive planted exact duplicates.
    pub fn has_duplicates(self) -> bool {
        matches!(self, Ds::TaxWages | Ds::SiContributions | Ds::SiPeople | Ds::TaxEmployers | Ds::SiPayments)
    }
}

/// One CSV record being built: fields appended into one byte buffer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Row {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Row {
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }
    fn end(&mut self) {
        self.ends.push(self.buf.len());
    }
    pub fn str(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
        self.end();
    }
    pub fn empty(&mut self) {
        self.end();
    }
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.empty(),
        }
    }
    pub fn int(&mut self, v: i64) {
        push_int(&mut self.buf, v);
        self.end();
    }
    pub fn opt_int(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.int(v),
            None => self.empty(),
        }
    }
    pub fn date(&mut self, d: NaiveDate) {
        push_date(&mut self.buf, d);
        self.end();
    }
    pub fn opt_date(&mut self, d: Option<NaiveDate>) {
        match d {
            Some(d) => self.date(d),
            None => self.empty(),
        }
    }
    pub fn month(&mut self, m: Month) {
        push_month(&mut self.buf, m);
        self.end();
    }
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    pub fn get(&self, k: usize) -> &[u8] {
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.buf[start..self.ends[k]]
    }
    pub fn fields(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.ends.len()).map(move |k| self.get(k))
    }
    pub fn to_fields(&self) -> Vec<Vec<u8>> {
        self.fields().map(<[u8]>::to_vec).collect()
    }
    pub fn copy_from(&mut self, other: &Row) {
        self.buf.clear();
        self.buf.extend_from_slice(&other.buf);
        self.ends.clear();
        self.ends.extend_from_slice(&other.ends);
    }
}

/// Decimal digits of `v` appended to `buf`.
pub(crate) fn push_int(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut tmp = [0u8; 20];
    let mut k = tmp.len();
    loop {
        k -= 1;
        tmp[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[k..]);
}

fn push_digits(buf: &mut Vec<u8>, v: u32, width: usize) {
    let mut tmp = [b'0'; 10];
    let mut n = v;
    for k in (0..width).rev() {
        tmp[k] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    buf.extend_from_slice(&tmp[..width]);
}

pub(crate) fn push_date(buf: &mut Vec<u8>, d: NaiveDate) {
    push_digits(buf, d.year() as u32, 4);
    buf.push(b'-');
    push_digits(buf, d.month(), 2);
    buf.push(b'-');
    push_digits(buf, d.day(), 2);
}

pub(crate) fn push_month(buf: &mut Vec<u8>, m: Month) {
    push_digits(buf, m.year() as u32, 4);
    buf.push(b'-');
    push_digits(buf, m.month(), 2);
}

/// Rates of planted defects.
pub(crate) const BAD_RATE: f64 = 0.003;
pub(crate) const DUP_RATE: f64 = 0.005;

/// What a writer planted, for the truth files and the summary.
#[derive(Debug, Default)]
pub(crate) struct Planted {
    pub ds: Option<Ds>,
    pub file: String,
    pub path: PathBuf,
    /// Data rows written (good + bad + duplicate copies).
    pub rows: u64,
    /// (line, reason, column) — column empty for malformed rows.
    pub bad: Vec<(u64, Reason, &'static str)>,
    /// (line of the extra copy, line of the original)
    pub dups: Vec<(u64, u64)>,
    /// (line, kind)
    pub noise: Vec<(u64, Noise)>,
}

/// Writes one dataset's extract, planting bad rows and duplicates.
pub(crate) struct DatasetWriter {
    ds: Ds,
    out: csv::Writer<BufWriter<File>>,
    rng: ChaCha8Rng,
    ctx: BadCtx,
    good: u64,
    /// Planned bad rows: (good-row index after which they are due, reason).
    plan: Vec<(u64, Reason)>,
    next_plan: usize,
    /// Due but not yet placed (the rows seen so far could not carry them).
    pending: Vec<Reason>,
    dup_rate: f64,
    /// (good-row index at which to write the copy, line of the original, row)
    dup_queue: Vec<(u64, u64, Row)>,
    last: Row,
    planted: Planted,
}

impl DatasetWriter {
    /// `expected` is an estimate of the good rows to come; it spreads the
    /// planted bad rows over the file (0.3%, and at least one of each class
    /// that applies to the dataset).
    pub fn create(dir: &Path, ds: Ds, date_tag: &str, seed: u64, expected: u64, ctx: BadCtx) -> Result<DatasetWriter> {
        let file = format!("{}_{}.csv", ds.name(), date_tag);
        let path = dir.join(&file);
        let f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = csv::WriterBuilder::new()
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(BufWriter::with_capacity(1 << 20, f));
        out.write_record(ds.columns())?;
        let mut rng = stream(seed, kind::WRITER, ds as u64);
        let classes = badrows::classes(ds);
        let expected = expected.max(1);
        let n_bad = (classes.len() as u64).max((expected as f64 * BAD_RATE).round() as u64);
        let mut plan: Vec<(u64, Reason)> = Vec::with_capacity(n_bad as usize);
        let early = ((expected as f64) * 0.8) as u64;
        for &r in &classes {
            plan.push((rng.gen_range(0..early.max(1)), r));
        }
        for _ in classes.len() as u64..n_bad {
            let r = classes[rng.gen_range(0..classes.len())];
            plan.push((rng.gen_range(0..expected), r));
        }
        plan.sort_by_key(|p| p.0);
        Ok(DatasetWriter {
            ds,
            out,
            rng,
            ctx,
            good: 0,
            plan,
            next_plan: 0,
            pending: Vec::new(),
            dup_rate: if ds.has_duplicates() { DUP_RATE } else { 0.0 },
            dup_queue: Vec::new(),
            last: Row::default(),
            planted: Planted { ds: Some(ds), file, path, ..Planted::default() },
        })
    }

    fn next_line(&self) -> u64 {
        self.planted.rows + 2
    }

    fn write_bad(&mut self, template: &Row, strict: bool) -> Result<()> {
        let mut keep = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        for r in pending {
            match badrows::make(self.ds, r, template, &mut self.rng, &mut self.ctx, strict) {
                Some((fields, column)) => {
                    let line = self.next_line();
                    self.out.write_record(&fields)?;
                    self.planted.rows += 1;
                    self.planted.bad.push((line, r, column));
                }
                None => keep.push(r),
            }
        }
        self.pending = keep;
        Ok(())
    }

    /// Writes a good row; `noise` names the noise planted in it, if any.
    pub fn write(&mut self, row: &Row, noise: Option<Noise>) -> Result<()> {
        debug_assert_eq!(row.len(), self.ds.columns().len(), "{}", self.ds.name());
        let idx = self.good;
        self.good += 1;
        while self.next_plan < self.plan.len() && self.plan[self.next_plan].0 <= idx {
            self.pending.push(self.plan[self.next_plan].1);
            self.next_plan += 1;
        }
        if !self.pending.is_empty() {
            self.write_bad(row, true)?;
        }
        let line = self.next_line();
        self.out.write_record(row.fields())?;
        self.planted.rows += 1;
        if let Some(n) = noise {
            self.planted.noise.push((line, n));
        }
        if self.dup_rate > 0.0 && self.rng.gen_bool(self.dup_rate) {
            let at = idx + self.rng.gen_range(0..25);
            self.dup_queue.push((at, line, row.clone()));
        }
        if !self.dup_queue.is_empty() {
            self.flush_dups(Some(idx))?;
        }
        self.last.copy_from(row);
        Ok(())
    }

    fn flush_dups(&mut self, upto: Option<u64>) -> Result<()> {
        let mut k = 0;
        while k < self.dup_queue.len() {
            if upto.is_none_or(|u| self.dup_queue[k].0 <= u) {
                let (_, orig, row) = self.dup_queue.remove(k);
                let line = self.next_line();
                self.out.write_record(row.fields())?;
                self.planted.rows += 1;
                self.planted.dups.push((line, orig));
            } else {
                k += 1;
            }
        }
        Ok(())
    }

    /// Places the bad rows still due (after the last good row) and the
    /// pending duplicate copies, and closes the file.
    pub fn finish(mut self) -> Result<Planted> {
        while self.next_plan < self.plan.len() {
            self.pending.push(self.plan[self.next_plan].1);
            self.next_plan += 1;
        }
        if self.good > 0 && !self.pending.is_empty() {
            let last = std::mem::take(&mut self.last);
            self.write_bad(&last, false)?;
        }
        self.flush_dups(None)?;
        self.out.flush()?;
        Ok(self.planted)
    }
}
