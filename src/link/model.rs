//! The linkage itself, in memory and free of I/O: compact records for both
//! sides, blocking, Fellegi–Sunter comparisons and the decision.
//!
//! A *tax-side person* is one `person_ref` (see conform) with every way the
//! tax sources showed them (variants: citizen ID, name, birth date), the
//! provinces and head tax codes of their employers and, for household owners,
//! their sex and province. A *BHXH person* is one `si_people` row plus the head
//! tax codes of the units that ever declared them.

use super::config::{BlockRule, LinkConfig};
use crate::ids::fold_name;
use rayon::prelude::*;
use super::interner::Interner;
use smallvec::SmallVec;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

const NO_DATE: i32 = i32::MIN;
const SEX_UNKNOWN: i8 = -1;
const SEX_CONFLICT: i8 = -2;

/// A citizen ID packed in a u64: the digits' value, tagged by kind; 0 = none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Cid(u64);

const CMND_TAG: u64 = 1 << 61;
const CCCD_TAG: u64 = 1 << 62;

impl Cid {
    /// Parses 9 (CMND) or 12 (CCCD) ASCII digits; anything else is no ID.
    pub fn parse(s: Option<&str>) -> Cid {
        let Some(s) = s else { return Cid(0) };
        let tag = match s.len() {
            9 => CMND_TAG,
            12 => CCCD_TAG,
            _ => return Cid(0),
        };
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Cid(0);
        }
        Cid(tag | s.parse::<u64>().unwrap_or(0))
    }
    fn is_some(self) -> bool {
        self.0 != 0
    }
    fn kind(self) -> u64 {
        self.0 & (CMND_TAG | CCCD_TAG)
    }
    /// CCCD digits 2–3 (birth province), 4 (century and sex), 5–6 (year).
    fn cccd_parts(self) -> Option<(u8, bool, i32)> {
        if self.kind() != CCCD_TAG {
            return None;
        }
        let v = self.0 & !CCCD_TAG; // 12 digits: 0PP C YY SSSSSS
        let serial_less = v / 1_000_000; // 0PPCYY
        let yy = (serial_less % 100) as i32;
        let c = (serial_less / 100) % 10;
        let prov = ((serial_less / 1000) % 100) as u8;
        if c > 3 {
            return None;
        }
        Some((prov, c % 2 == 1, if c < 2 { 1900 + yy } else { 2000 + yy }))
    }
}

#[derive(Clone, Copy, Debug)]
struct Variant {
    cid: Cid,
    /// Index into `Names::raw`.
    name: u32,
    /// Days since 1970-01-01, or NO_DATE.
    dob: i32,
    /// Year of `dob`, or of the CCCD when there is no date (0: unknown).
    year: i16,
    /// Year of the `dob` only (0: no date).
    dob_year: i16,
}

impl Variant {
    fn new(cid: Cid, name: u32, dob: Option<i32>) -> Variant {
        let dob_year = dob.map_or(0, |d| year_of(d) as i16);
        let year = if dob_year != 0 { dob_year } else { cid.cccd_parts().map_or(0, |p| p.2 as i16) };
        Variant { cid, name, dob: dob.unwrap_or(NO_DATE), year, dob_year }
    }
}

/// One person of either side. Most people have one variant, one province
/// and one or two employers: kept inline, without a heap allocation each
/// (at 16M people the model must fit with the rest of the stage in 8 GiB).
#[derive(Clone, Debug, Default)]
struct Rec {
    vars: SmallVec<[Variant; 1]>,
    female: i8,
    provs: SmallVec<[u8; 4]>,
    emps: SmallVec<[u32; 2]>,
}

impl Rec {
    fn new() -> Rec {
        Rec { female: SEX_UNKNOWN, ..Default::default() }
    }
    fn set_sex(&mut self, female: bool) {
        let v = i8::from(female);
        self.female = match self.female {
            SEX_UNKNOWN => v,
            x if x == v => v,
            _ => SEX_CONFLICT,
        };
    }
    fn sex(&self) -> Option<bool> {
        (self.female >= 0).then_some(self.female == 1)
    }
}

/// A BHXH person packed for the comparison loop: half a cache line, the
/// employers in a shared array. Its (first) variant's fields are here with
/// the name already folded, so that a comparison reads nothing else unless
/// the names differ.
#[derive(Clone, Copy, Debug)]
struct Packed {
    cid: Cid,
    /// Index into `Names::folded`.
    fold: u32,
    dob: i32,
    year: i16,
    dob_year: i16,
    female: i8,
    /// Province number, 0 = none.
    prov: u8,
    emp_len: u16,
    emp_off: u32,
    /// Bytes in the folded name (saturating): names further apart in length
    /// than the fuzzy edits allow are not looked up.
    fold_len: u8,
}

/// A tax-side person's variant names, folded and looked up once for all
/// their candidates: (index into `Names::folded`, the folded name).
type TaxNames<'a> = SmallVec<[(u32, &'a [u8]); 2]>;

/// Block keys are already mixed: hash them as they are.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Interned names: the stored (NFC) forms and their folded comparison forms.
#[derive(Default)]
struct Names {
    raw: Interner,
    raw_fold: Vec<u32>,
    folded: Interner,
    family: Vec<u32>,
    given: Vec<u32>,
    /// The folded name without its last word (family and middle names).
    head: Vec<u32>,
    tokens: Interner,
}

impl Names {
    fn intern(&mut self, raw: &str) -> u32 {
        if let Some(id) = self.raw.get(raw) {
            return id;
        }
        let folded = fold_name(raw);
        let fold = match self.folded.get(&folded) {
            Some(f) => f,
            None => {
                let first = folded.split(' ').next().unwrap_or("");
                let last = folded.rsplit(' ').next().unwrap_or("");
                let fam = self.tokens.intern(first);
                let giv = self.tokens.intern(last);
                let head = self.tokens.intern(folded.rsplit_once(' ').map_or("", |h| h.0));
                self.family.push(fam);
                self.given.push(giv);
                self.head.push(head);
                self.folded.intern(&folded)
            }
        };
        let id = self.raw.intern(raw);
        self.raw_fold.push(fold);
        id
    }
}

/// Both sides of the linkage, built row by row, then [`Model::link`]ed.
#[derive(Default)]
pub struct Model {
    names: Names,
    emp_ids: Interner,
    /// person_ref of `tax[i]` is string `i`.
    tax_keys: Interner,
    tax: Vec<Rec>,
    tax_source: Vec<u8>,
    /// si_number of `si[i]` is string `i`.
    si_keys: Interner,
    si: Vec<Rec>,
    /// The tax-side person of the last call (rows come grouped by person).
    last_tax: Option<usize>,
    /// Where the last lookups by sorted key stopped (see [`Interner::find_sorted`]).
    si_cursor: usize,
    tax_cursor: usize,
}

/// Tax sources a person was seen in (bit flags).
pub const FROM_WAGES: u8 = 1;
pub const FROM_HOUSEHOLDS: u8 = 2;

fn province_num(code: Option<&str>) -> Option<u8> {
    code.filter(|c| c.len() == 2).and_then(|c| c.parse().ok())
}

impl Model {
    pub fn new() -> Model {
        Model::default()
    }

    fn emp(&mut self, head: &str) -> u32 {
        self.emp_ids.intern(head)
    }

    fn tax_rec(&mut self, person_ref: &str, source: u8) -> usize {
        let last = self.last_tax.filter(|&i| self.tax_keys.resolve(i as u32) == person_ref);
        let i = match last.or_else(|| self.tax_keys.find_sorted(person_ref, &mut self.tax_cursor).map(|i| i as usize)) {
            Some(i) => i,
            None => {
                let i = self.tax_keys.intern(person_ref) as usize;
                if i == self.tax.len() {
                    self.tax.push(Rec::new());
                    self.tax_source.push(0);
                }
                i
            }
        };
        self.tax_source[i] |= source;
        self.last_tax = Some(i);
        i
    }

    /// One way a tax source showed a person (`dob` in days since 1970-01-01).
    pub fn add_tax_variant(&mut self, person_ref: &str, source: u8, cid: Option<&str>, name: &str, dob: Option<i32>) {
        let i = self.tax_rec(person_ref, source);
        let v = Variant::new(Cid::parse(cid), self.names.intern(name), dob);
        if let Some((_, female, _)) = v.cid.cccd_parts() {
            self.tax[i].set_sex(female);
        }
        let r = &mut self.tax[i];
        if !r.vars.iter().any(|w| w.cid == v.cid && w.name == v.name && w.dob == v.dob) {
            r.vars.push(v);
        }
    }

    /// An employer (head tax code) and its province for a tax-side person.
    pub fn add_tax_employer(&mut self, person_ref: &str, head_tax_code: &str, province: Option<&str>) {
        let e = self.emp(head_tax_code);
        let i = self.tax_rec(person_ref, FROM_WAGES);
        let r = &mut self.tax[i];
        if !r.emps.contains(&e) {
            r.emps.push(e);
        }
        if let Some(p) = province_num(province) {
            if !r.provs.contains(&p) {
                r.provs.push(p);
            }
        }
    }

    /// Sex and province a tax source states for a person (tax_households).
    pub fn add_tax_facts(&mut self, person_ref: &str, source: u8, sex: Option<&str>, province: Option<&str>) {
        let i = self.tax_rec(person_ref, source);
        let r = &mut self.tax[i];
        match sex {
            Some("F") => r.set_sex(true),
            Some("M") => r.set_sex(false),
            _ => {}
        }
        if let Some(p) = province_num(province) {
            if !r.provs.contains(&p) {
                r.provs.push(p);
            }
        }
    }

    /// Starts a new run of rows sorted by key: lookups walk the keys from
    /// the first again (a key behind the cursors is looked up in the hash
    /// table, so a second sorted run, such as the next pass of a read in
    /// passes, would otherwise get no walk at all).
    pub fn rewind_sorted_lookups(&mut self) {
        (self.si_cursor, self.tax_cursor) = (0, 0);
    }

    /// Room for `n` more BHXH people (si_people has one row per person).
    pub fn reserve_si(&mut self, n: usize) {
        self.si_keys.reserve(n);
        self.si.reserve(n);
    }

    /// One si_people row.
    pub fn add_si(&mut self, si_number: &str, cid: Option<&str>, name: &str, dob: Option<i32>, sex: Option<&str>, province: Option<&str>) {
        let mut r = Rec::new();
        let v = Variant::new(Cid::parse(cid), self.names.intern(name), dob);
        match sex {
            Some("F") => r.set_sex(true),
            Some("M") => r.set_sex(false),
            _ => {
                if let Some((_, female, _)) = v.cid.cccd_parts() {
                    r.set_sex(female);
                }
            }
        }
        r.vars.push(v);
        r.provs.extend(province_num(province));
        // si_people has one row per si_number (conform's key); a repeat
        // would be a second record under the same key: the first stands.
        if self.si_keys.intern(si_number) as usize == self.si.len() {
            self.si.push(r);
        }
    }

    /// A head tax code whose unit declared this BHXH person. Unknown
    /// `si_number`s (a declaration of a person not in si_people) are ignored.
    pub fn add_si_employer(&mut self, si_number: &str, head_tax_code: &str) {
        let Some(i) = self.si_keys.find_sorted(si_number, &mut self.si_cursor) else { return };
        let e = self.emp(head_tax_code);
        let r = &mut self.si[i as usize];
        if !r.emps.contains(&e) {
            r.emps.push(e);
        }
    }

    pub fn tax_len(&self) -> usize {
        self.tax.len()
    }
    pub fn si_len(&self) -> usize {
        self.si.len()
    }
    pub fn tax_key(&self, i: usize) -> &str {
        self.tax_keys.resolve(i as u32)
    }
    pub fn si_key(&self, i: u32) -> &str {
        self.si_keys.resolve(i)
    }
    pub fn tax_source(&self, i: usize) -> &'static str {
        match self.tax_source[i] {
            FROM_WAGES => "wages",
            FROM_HOUSEHOLDS => "households",
            _ => "wages+households",
        }
    }

    /// How a side shows a person, for clerical review: (name, citizen ID, birth date days).
    pub fn tax_shown(&self, i: usize) -> Vec<(String, Option<String>, Option<i32>)> {
        self.tax[i].vars.iter().map(|v| self.shown(v)).collect()
    }
    pub fn si_shown(&self, i: u32) -> (String, Option<String>, Option<i32>, Option<u8>) {
        let r = &self.si[i as usize];
        let (n, c, d) = self.shown(&r.vars[0]);
        (n, c, d, r.provs.first().copied())
    }
    fn shown(&self, v: &Variant) -> (String, Option<String>, Option<i32>) {
        let cid = match v.cid.kind() {
            CMND_TAG => Some(format!("{:09}", v.cid.0 & !CMND_TAG)),
            CCCD_TAG => Some(format!("{:012}", v.cid.0 & !CCCD_TAG)),
            _ => None,
        };
        (self.names.raw.resolve(v.name).to_string(), cid, (v.dob != NO_DATE).then_some(v.dob))
    }
}

// ------------------------------------------------------------------ compare

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    CitizenId,
    Name,
    BirthDate,
    Sex,
    Province,
    Employer,
}

impl Field {
    pub const ALL: [Field; 6] = [Field::CitizenId, Field::Name, Field::BirthDate, Field::Sex, Field::Province, Field::Employer];
    pub fn as_str(self) -> &'static str {
        match self {
            Field::CitizenId => "citizen_id",
            Field::Name => "name",
            Field::BirthDate => "birth_date",
            Field::Sex => "sex",
            Field::Province => "province",
            Field::Employer => "employer",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Exact,
    Fuzzy,
    YearOnly,
    SameYear,
    Agree,
    Disagree,
    /// CMND against CCCD: not comparable.
    OtherType,
    Missing,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Exact => "exact",
            Level::Fuzzy => "fuzzy",
            Level::YearOnly => "year_only",
            Level::SameYear => "same_year",
            Level::Agree => "agree",
            Level::Disagree => "disagree",
            Level::OtherType => "other_type",
            Level::Missing => "missing",
        }
    }
    /// Levels that count as evidence for the match.
    pub fn agrees(self) -> bool {
        matches!(self, Level::Exact | Level::Fuzzy | Level::YearOnly | Level::Agree)
    }
}

/// The levels of one candidate pair and its match weight (bits).
#[derive(Clone, Copy, Debug)]
pub struct Comparison {
    pub levels: [Level; 6],
    pub weight: f64,
}

impl Comparison {
    pub fn level(&self, f: Field) -> Level {
        self.levels[f as usize]
    }
    /// Comma-separated fields that agreed.
    pub fn agreed(&self) -> String {
        Field::ALL.iter().filter(|f| self.level(**f).agrees()).map(|f| f.as_str()).collect::<Vec<_>>().join(",")
    }
}

/// Level weights resolved from the config.
struct Weights {
    cid_exact: f64,
    cid_disagree: f64,
    name_exact_m: f64,
    name_exact: f64,
    tf: bool,
    fuzzy_max_edits: usize,
    name_fuzzy: f64,
    name_disagree: f64,
    birth: [f64; 4],
    sex: [f64; 2],
    prov: [f64; 2],
    emp: [f64; 2],
    emp_m: f64,
    emp_tf: bool,
}

impl Weights {
    fn new(cfg: &LinkConfig) -> Weights {
        let c = &cfg.comparisons;
        Weights {
            cid_exact: c.citizen_id.exact.weight(),
            cid_disagree: c.citizen_id.disagree.weight(),
            name_exact_m: c.name.exact.m,
            name_exact: c.name.exact.weight(),
            tf: c.name.term_frequency,
            fuzzy_max_edits: c.name.fuzzy_max_edits,
            name_fuzzy: c.name.fuzzy.weight(),
            name_disagree: c.name.disagree.weight(),
            birth: [
                c.birth_date.exact.weight(),
                c.birth_date.year_only.weight(),
                c.birth_date.same_year.weight(),
                c.birth_date.disagree.weight(),
            ],
            sex: [c.sex.agree.weight(), c.sex.disagree.weight()],
            prov: [c.province.agree.weight(), c.province.disagree.weight()],
            emp: [c.employer.agree.weight(), c.employer.disagree.weight()],
            emp_m: c.employer.agree.m,
            emp_tf: c.employer.term_frequency,
        }
    }
}

/// Whether two strings are at most `max` edits apart (insertion, deletion,
/// substitution, transposition of neighbours). One edit, the common case, is
/// checked in one pass without allocating.
fn within_edits(a: &[u8], b: &[u8], max: usize) -> bool {
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    if max != 1 {
        return match (std::str::from_utf8(a), std::str::from_utf8(b)) {
            (Ok(x), Ok(y)) => strsim::osa_distance(x, y) <= max,
            _ => false,
        };
    }
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[p..], &b[p..]);
    match (ra.len(), rb.len()) {
        (0, 0) => true,
        (x, y) if x == y => ra[1..] == rb[1..] || (x >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..]),
        (x, y) if x == y + 1 => ra[1..] == *rb,
        (x, y) if y == x + 1 => *ra == rb[1..],
        _ => false,
    }
}

fn year_of(days: i32) -> i32 {
    use chrono::Datelike;
    (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(days as i64)).year()
}

struct Scorer<'a> {
    m: &'a Model,
    packed: Vec<Packed>,
    packed_emps: Vec<u32>,
    w: Weights,
    /// u of an exact name agreement, per folded name (term frequency among BHXH people).
    name_u: Vec<f64>,
    /// u of an employer agreement, per employer (its share of BHXH people).
    emp_u: Vec<f64>,
}

impl Scorer<'_> {
    /// The tax-side person's names as [`Scorer::compare`] takes them.
    fn tax_names<'s>(&'s self, t: &Rec, out: &mut TaxNames<'s>) {
        let names = &self.m.names;
        out.clear();
        out.extend(t.vars.iter().map(|v| {
            let fold = names.raw_fold[v.name as usize];
            (fold, names.folded.resolve(fold).as_bytes())
        }));
    }

    /// Compares tax-side person `t` (whose names are `t_names`, from
    /// [`Scorer::tax_names`]) with the BHXH person in `slot`.
    fn compare(&self, t: &Rec, t_names: &[(u32, &[u8])], slot: u32) -> Comparison {
        let s = &self.packed[slot as usize];
        let s_emps = &self.packed_emps[s.emp_off as usize..s.emp_off as usize + s.emp_len as usize];
        let names = &self.m.names;
        let mut weight = 0.0;
        // Citizen ID.
        let cid = if !s.cid.is_some() || !t.vars.iter().any(|v| v.cid.is_some()) {
            Level::Missing
        } else if t.vars.iter().any(|v| v.cid == s.cid) {
            weight += self.w.cid_exact;
            Level::Exact
        } else if t.vars.iter().any(|v| v.cid.is_some() && v.cid.kind() == s.cid.kind()) {
            weight += self.w.cid_disagree;
            Level::Disagree
        } else {
            Level::OtherType
        };
        // Name: the best over the tax side's variants.
        let sf = s.fold;
        let name = if t_names.iter().any(|n| n.0 == sf) {
            weight += self.name_exact(sf);
            Level::Exact
        } else {
            let max = self.w.fuzzy_max_edits;
            // A length of 255 is saturated: the name is looked up.
            let near = |n: &(u32, &[u8])| s.fold_len == u8::MAX || n.1.len().abs_diff(s.fold_len as usize) <= max;
            let close = t_names.iter().any(near) && {
                let sfold = names.folded.resolve(sf).as_bytes();
                t_names.iter().any(|n| within_edits(n.1, sfold, max))
            };
            if close {
                weight += self.w.name_fuzzy;
                Level::Fuzzy
            } else {
                weight += self.w.name_disagree;
                Level::Disagree
            }
        };
        // Birth date, falling back on the years CCCDs imply.
        let birth = {
            let lvl = if s.dob != NO_DATE && t.vars.iter().any(|v| v.dob != NO_DATE) {
                if t.vars.iter().any(|v| v.dob == s.dob) {
                    Level::Exact
                } else if t.vars.iter().any(|v| v.dob_year == s.dob_year) {
                    Level::SameYear
                } else {
                    Level::Disagree
                }
            } else {
                // One side has no date: the years known (from a date or a CCCD).
                let s_year = s.year;
                if s_year == 0 || t.vars.iter().all(|v| v.year == 0) {
                    Level::Missing
                } else if t.vars.iter().any(|v| v.year == s_year) {
                    Level::YearOnly
                } else {
                    Level::Disagree
                }
            };
            weight += match lvl {
                Level::Exact => self.w.birth[0],
                Level::YearOnly => self.w.birth[1],
                Level::SameYear => self.w.birth[2],
                Level::Disagree => self.w.birth[3],
                _ => 0.0,
            };
            lvl
        };
        let s_sex = (s.female >= 0).then_some(s.female == 1);
        let sex = match (t.sex(), s_sex) {
            (Some(a), Some(b)) if a == b => {
                weight += self.w.sex[0];
                Level::Agree
            }
            (Some(_), Some(_)) => {
                weight += self.w.sex[1];
                Level::Disagree
            }
            _ => Level::Missing,
        };
        let shared = t.emps.iter().filter(|e| s_emps.contains(e)).map(|e| self.emp_u[*e as usize]).fold(f64::INFINITY, f64::min);
        let employer = if t.emps.is_empty() {
            Level::Missing
        } else if shared.is_finite() {
            weight += if self.w.emp_tf { (self.w.emp_m / shared).log2() } else { self.w.emp[0] };
            Level::Agree
        } else {
            weight += self.w.emp[1];
            Level::Disagree
        };
        // The tax side's province is its employers' province: when the
        // employer agrees, the province agreement is implied and not counted
        // again (the two are not independent).
        let province = match (s.prov != 0).then_some(&s.prov) {
            Some(p) if !t.provs.is_empty() => {
                if t.provs.contains(p) {
                    if employer != Level::Agree {
                        weight += self.w.prov[0];
                    }
                    Level::Agree
                } else {
                    weight += self.w.prov[1];
                    Level::Disagree
                }
            }
            _ => Level::Missing,
        };
        Comparison { levels: [cid, name, birth, sex, province, employer], weight }
    }

    fn name_exact(&self, fold: u32) -> f64 {
        if self.w.tf {
            (self.w.name_exact_m / self.name_u[fold as usize]).log2()
        } else {
            self.w.name_exact
        }
    }
}

/// Starts loading `r` into the cache. The BHXH side's records are far
/// larger than the cache at the largest sizes (0.45 GB at 16M people), and
/// a tax-side person's candidates lie scattered over them: scored one after
/// another, each waited for its record in turn, while asked for all at once
/// the loads overlap (at 16M people compare went from 74-77 s to 57-62 s,
/// at 1M from 2.5-2.6 s to 2.2-2.3 s; docs/benchmarks.md). Prefetching
/// the candidates' employers or their blocks' slots as well gained nothing.
#[inline]
fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint to the CPU: it reads nothing into the
    // program, never faults and changes no memory (and `r` is live besides).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((r as *const T).cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

// ----------------------------------------------------------------- blocking

fn mix(rule: u64, a: u64, b: u64, c: u64) -> u64 {
    // SplitMix64 finaliser over a running combination: stable across runs.
    let mut h = rule.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for x in [a, b, c] {
        h ^= x.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(h << 6).wrapping_add(h >> 2);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h = z ^ (z >> 31);
    }
    h
}

fn block_keys(m: &Model, r: &Rec, rules: &[BlockRule], out: &mut Vec<u64>) {
    out.clear();
    let n = &m.names;
    for v in &r.vars {
        let fold = n.raw_fold[v.name as usize] as u64;
        let fam = n.family[fold as usize] as u64;
        let giv = n.given[fold as usize] as u64;
        let cccd = v.cid.cccd_parts();
        for (k, rule) in rules.iter().enumerate() {
            let k = k as u64 + 1;
            match rule {
                BlockRule::CitizenId => {
                    if v.cid.is_some() {
                        out.push(mix(k, v.cid.0, 0, 0));
                    }
                }
                BlockRule::NameBirthDate => {
                    if v.dob != NO_DATE {
                        out.push(mix(k, fold, v.dob as u64, 0));
                    }
                }
                BlockRule::FamilyBirthDate => {
                    if v.dob != NO_DATE {
                        out.push(mix(k, fam, v.dob as u64, 0));
                    }
                }
                BlockRule::GivenBirthDate => {
                    if v.dob != NO_DATE {
                        out.push(mix(k, giv, v.dob as u64, 0));
                    }
                }
                BlockRule::FamilyMiddleBirthDate => {
                    if v.dob != NO_DATE {
                        out.push(mix(k, n.head[fold as usize] as u64, v.dob as u64, 0));
                    }
                }
                BlockRule::NameBirthYear => {
                    if v.dob_year != 0 {
                        out.push(mix(k, fold, v.dob_year as u64, 0));
                    }
                    if let Some((_, _, y)) = cccd {
                        out.push(mix(k, fold, y as u64, 0));
                    }
                }
                BlockRule::NameProvince => {
                    for p in &r.provs {
                        out.push(mix(k, fold, *p as u64, 0));
                    }
                }
                BlockRule::EmployerGivenName => {
                    for e in &r.emps {
                        out.push(mix(k, *e as u64, giv, 0));
                    }
                }
                BlockRule::CccdPartsName => {
                    if let Some((p, f, y)) = cccd {
                        out.push(mix(k, (p as u64) << 32 | (f as u64) << 16 | y as u64, fam, giv));
                    }
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
}

// ----------------------------------------------------------------- decision

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Matched,
    Ambiguous,
    Unmatched,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Matched => "matched",
            Status::Ambiguous => "ambiguous",
            Status::Unmatched => "unmatched",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The citizen ID agreed exactly.
    CitizenId,
    /// No ID agreement, but the folded full name and the birth date did.
    NameBirth,
    /// Anything else that reached the match weight.
    Probabilistic,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::CitizenId => "citizen_id",
            Method::NameBirth => "name_birth",
            Method::Probabilistic => "probabilistic",
        }
    }
}

/// The decision for one tax-side person.
#[derive(Clone, Debug)]
pub struct Decision {
    pub status: Status,
    /// The best candidate (si index) and its comparison, whatever the status.
    pub best: Option<(u32, Comparison)>,
    pub runner_up: Option<f64>,
    /// Candidate pairs compared.
    pub candidates: u32,
    pub method: Option<Method>,
    /// Ambiguous: the candidates for the clerk, best first.
    pub review: Vec<(u32, Comparison)>,
    /// Why ambiguous: `close_runner_up` or `below_match_weight`.
    pub review_reason: Option<&'static str>,
}

impl Decision {
    pub fn si(&self) -> Option<u32> {
        match self.status {
            Status::Matched => self.best.map(|b| b.0),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct LinkStats {
    pub pairs_compared: u64,
    pub blocks_skipped: u64,
    /// Bits the decision thresholds rose by for the BHXH population.
    pub threshold_bits: f64,
}

impl Model {
    /// Where a person's record goes in the comparison's order, on either
    /// side: their first folded name, then their first province. People
    /// who share blocks mostly share these.
    fn near_key(&self, r: &Rec) -> (Option<u32>, Option<u8>) {
        (r.vars.first().map(|v| self.names.raw_fold[v.name as usize]), r.provs.first().copied())
    }

    /// Links every tax-side person; decisions are in tax-person order.
    pub fn link(&self, cfg: &LinkConfig) -> (Vec<Decision>, LinkStats) {
        let rules = &cfg.blocking.rules;
        // Term frequencies of folded names among BHXH people.
        let mut counts = vec![0u32; self.names.folded.len()];
        for r in &self.si {
            counts[self.names.raw_fold[r.vars[0].name as usize] as usize] += 1;
        }
        let total = self.si.len().max(1) as f64;
        let tf_min = cfg.comparisons.name.tf_min_u;
        let name_u = counts.iter().map(|&c| (c as f64 / total).max(tf_min)).collect();
        let mut emp_counts = vec![0u32; self.emp_ids.len()];
        for r in &self.si {
            for e in &r.emps {
                emp_counts[*e as usize] += 1;
            }
        }
        let emp_min = cfg.comparisons.employer.tf_min_u;
        let emp_u = emp_counts.iter().map(|&c| (c as f64 / total).max(emp_min)).collect();
        // The BHXH side is compared in slots: its people in the order of
        // their first name and province (`slot_si[slot]` is the si index),
        // the order the tax side is compared in below. Most rules block on
        // the name, so a tax-side person's candidates lie closer together,
        // and near the last person's (at 16M people the packed records are
        // 0.45 GB, read at random in si order). The slots change nothing but
        // where the records lie: candidates are put back to si indexes
        // before the decision leaves.
        let mut slot_si: Vec<u32> = (0..self.si.len() as u32).collect();
        slot_si.par_sort_unstable_by_key(|&i| (self.near_key(&self.si[i as usize]), i));
        let mut packed_emps = Vec::new();
        let packed = slot_si
            .iter()
            .map(|&i| &self.si[i as usize])
            .map(|r| {
                let off = packed_emps.len() as u32;
                packed_emps.extend(r.emps.iter().take(u16::MAX as usize));
                let v = r.vars[0];
                let fold = self.names.raw_fold[v.name as usize];
                Packed {
                    cid: v.cid,
                    fold,
                    dob: v.dob,
                    year: v.year,
                    dob_year: v.dob_year,
                    fold_len: self.names.folded.resolve(fold).len().min(u8::MAX as usize) as u8,
                    female: r.female.max(SEX_UNKNOWN),
                    prov: r.provs.first().copied().unwrap_or(0),
                    emp_len: r.emps.len().min(u16::MAX as usize) as u16,
                    emp_off: off,
                }
            })
            .collect();
        let scorer = Scorer { m: self, packed, packed_emps, w: Weights::new(cfg), name_u, emp_u };

        // The BHXH side's blocks: (key, si index), sorted. Each person's keys
        // are counted first, so that the index is filled in place at its
        // exact size (per-thread parts copied into one vector held most
        // entries twice: the stage's peak at 4M people).
        let counts: Vec<u32> = slot_si
            .par_iter()
            .map_init(Vec::new, |keys, &i| {
                block_keys(self, &self.si[i as usize], rules, keys);
                keys.len() as u32
            })
            .collect();
        let mut index: Vec<(u64, u32)> = vec![(0, 0); counts.iter().map(|&c| c as usize).sum()];
        // Runs of people, each with its own slice of the index.
        const RUN: usize = 1 << 16;
        let mut runs = Vec::new();
        let mut rest: &mut [(u64, u32)] = &mut index;
        for (k, run) in counts.chunks(RUN).enumerate() {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(run.iter().map(|&c| c as usize).sum());
            runs.push((k * RUN, head));
            rest = tail;
        }
        runs.into_par_iter().for_each_init(Vec::new, |keys, (first, out)| {
            let mut at = 0;
            for (i, &si) in slot_si[first..(first + RUN).min(slot_si.len())].iter().enumerate() {
                block_keys(self, &self.si[si as usize], rules, keys);
                for &k in keys.iter() {
                    out[at] = (k, (first + i) as u32);
                    at += 1;
                }
            }
        });
        drop(counts);
        index.par_sort_unstable();
        // Key → range of `ids` (the slots of the block).
        let ids: Vec<u32> = index.iter().map(|e| e.1).collect();
        let mut ranges: IdMap<(u32, u32)> = IdMap::default();
        // Sized once (growing it held the old table beside the new).
        ranges.reserve(1 + index.windows(2).filter(|w| w[0].0 != w[1].0).count());
        let mut start = 0;
        while start < index.len() {
            let k = index[start].0;
            let end = start + index[start..].partition_point(|e| e.0 == k);
            ranges.insert(k, (start as u32, (end - start) as u32));
            start = end;
        }
        drop(index);
        let max_block = cfg.blocking.max_block_size;
        // The thresholds for this many BHXH people (`reference_population`).
        let d = &cfg.decision.for_population(self.si.len());
        // The candidates a decision reads: the best, the runner-up, and those
        // shown to the clerk.
        let top = d.review_candidates.max(2);
        // Ties are broken by si_number. load_model adds si_people in
        // si_number order, so the index is the rank; otherwise rank them
        // once (comparing the strings in every sort was a sixth of link's
        // time at 4M people, most of it cache misses).
        let rank: Option<Vec<u32>> = (!self.si_keys.in_order()).then(|| {
            let mut order: Vec<u32> = (0..self.si.len() as u32).collect();
            order.par_sort_unstable_by(|&a, &b| self.si_keys.resolve(a).cmp(self.si_keys.resolve(b)));
            let mut rank = vec![0u32; order.len()];
            for (r, &i) in order.iter().enumerate() {
                rank[i as usize] = r as u32;
            }
            rank
        });
        let rank_of = |slot: u32| {
            let i = slot_si[slot as usize];
            rank.as_ref().map_or(i, |r| r[i as usize])
        };

        // Counted on the side, so that the decisions are collected once
        // (mapping (decision, counts) into decisions held two vectors of
        // 14.6M decisions at once at 16M people).
        let (pairs, skipped_blocks) = (AtomicU64::new(0), AtomicU64::new(0));
        // The tax-side people are compared in the order of their first
        // name and province, so that people whose blocks are the same come
        // one after another and their candidates' records are still in the
        // cache (at 16M people the BHXH side's records are 0.9 GB, and each
        // candidate was a miss). Each decision depends on its person alone,
        // so the order changes nothing but the time; the decisions are put
        // back in tax-person order in place.
        let mut order: Vec<u32> = (0..self.tax.len() as u32).collect();
        order.par_sort_unstable_by_key(|&i| (self.near_key(&self.tax[i as usize]), i));
        let mut decisions: Vec<Decision> = order
            .par_iter()
            .map_init(
                || (Vec::new(), Vec::new(), TaxNames::new()),
                |(keys, cands, t_names): &mut (Vec<u64>, Vec<u32>, TaxNames), &i| {
                    let t = &self.tax[i as usize];
                    block_keys(self, t, rules, keys);
                    scorer.tax_names(t, t_names);
                    cands.clear();
                    let mut skipped = 0;
                    for k in keys.iter() {
                        let Some(&(lo, n)) = ranges.get(k) else { continue };
                        if n as usize > max_block {
                            skipped += 1;
                            continue;
                        }
                        cands.extend_from_slice(&ids[lo as usize..(lo + n) as usize]);
                    }
                    cands.sort_unstable();
                    cands.dedup();
                    // Every candidate's record asked for before the first is scored.
                    for &s in cands.iter() {
                        prefetch(&scorer.packed[s as usize]);
                    }
                    let mut scored: Vec<(u32, Comparison)> =
                        cands.iter().map(|&s| (s, scorer.compare(t, t_names, s))).collect();
                    // Best first; ties by si_number for a deterministic order
                    // (a total order: the unstable sorts give the same). The
                    // decision reads the best `top` alone: those are chosen
                    // first and only they are sorted.
                    let by_rank = |a: &(u32, Comparison), b: &(u32, Comparison)| {
                        b.1.weight.total_cmp(&a.1.weight).then_with(|| rank_of(a.0).cmp(&rank_of(b.0)))
                    };
                    if scored.len() > top {
                        scored.select_nth_unstable_by(top - 1, by_rank);
                        scored.truncate(top);
                    }
                    scored.sort_unstable_by(by_rank);
                    pairs.fetch_add(cands.len() as u64, Ordering::Relaxed);
                    skipped_blocks.fetch_add(skipped, Ordering::Relaxed);
                    let mut dec = decide(&scored, cands.len() as u32, d);
                    for c in dec.best.iter_mut().chain(dec.review.iter_mut()) {
                        c.0 = slot_si[c.0 as usize];
                    }
                    dec
                },
            )
            .collect();
        unsort(&mut decisions, &mut order);
        let stats = LinkStats {
            pairs_compared: pairs.into_inner(),
            blocks_skipped: skipped_blocks.into_inner(),
            threshold_bits: cfg.decision.population_bits(self.si.len()),
        };
        (decisions, stats)
    }
}

/// Puts `v[j]` at position `order[j]` for every `j`, in place (`order`, a
/// permutation, ends as the identity).
fn unsort<T>(v: &mut [T], order: &mut [u32]) {
    for j in 0..v.len() {
        while order[j] as usize != j {
            let k = order[j] as usize;
            v.swap(j, k);
            order.swap(j, k);
        }
    }
}

/// The decision from the best candidates, best first (at least the best two
/// and the `review_candidates` best), out of `candidates` compared.
fn decide(scored: &[(u32, Comparison)], candidates: u32, d: &super::config::Decision) -> Decision {
    let best = scored.first().copied();
    let runner_up = scored.get(1).map(|s| s.1.weight);
    let mut dec = Decision {
        status: Status::Unmatched,
        best,
        runner_up,
        candidates,
        method: None,
        review: Vec::new(),
        review_reason: None,
    };
    let Some((_, b)) = best else { return dec };
    let clear_lead = runner_up.is_none_or(|r| b.weight - r >= d.margin);
    if b.weight >= d.match_weight && clear_lead {
        dec.status = Status::Matched;
        dec.method = Some(if b.level(Field::CitizenId) == Level::Exact {
            Method::CitizenId
        } else if b.level(Field::Name) == Level::Exact && b.level(Field::BirthDate) == Level::Exact {
            Method::NameBirth
        } else {
            Method::Probabilistic
        });
    } else if b.weight >= d.review_weight {
        dec.status = Status::Ambiguous;
        dec.review_reason = Some(if b.weight >= d.match_weight { "close_runner_up" } else { "below_match_weight" });
        dec.review = scored
            .iter()
            .take(d.review_candidates.max(1))
            .filter(|s| s.1.weight >= d.review_weight.min(b.weight - d.margin))
            .copied()
            .collect();
    }
    dec
}

#[cfg(test)]
mod tests {
    use super::within_edits;

    #[test]
    fn unsort_puts_each_item_where_its_order_says() {
        let mut order = [3u32, 0, 4, 1, 2];
        let mut v: Vec<char> = "dbeac".chars().collect();
        super::unsort(&mut v, &mut order);
        assert_eq!(v.iter().collect::<String>(), "bacde");
        assert_eq!(order, [0, 1, 2, 3, 4]);
        let mut empty: Vec<u8> = Vec::new();
        super::unsort(&mut empty, &mut []);
    }

    #[test]
    fn one_edit_apart() {
        let w = |a: &str, b: &str| within_edits(a.as_bytes(), b.as_bytes(), 1);
        assert!(w("nguyen van hung", "nguyen van hung"));
        assert!(w("nguyen van hung", "nguyen van hang"), "substitution");
        assert!(w("nguyen van hung", "nguyen van hug"), "deletion");
        assert!(w("nguyen van hug", "nguyen van hung"), "insertion");
        assert!(w("nguyen van hung", "nguyen van hnug"), "transposition");
        assert!(!w("nguyen van hung", "nguyen van hnag"));
        assert!(!w("nguyen xuan ha", "nguyen van anh"));
        assert!(!w("tran thi thao", "tran thi hoa"));
        assert!(w("a", "") && !w("ab", ""));
        for (a, b) in [("linh", "ninh"), ("anh", "an"), ("thao", "hoa"), ("abcd", "badc")] {
            assert_eq!(w(a, b), strsim::osa_distance(a, b) <= 1, "{a}/{b}");
            assert_eq!(within_edits(a.as_bytes(), b.as_bytes(), 2), strsim::osa_distance(a, b) <= 2, "{a}/{b}");
        }
    }
}
