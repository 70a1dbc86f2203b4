//! Effective-dated reference tables (`pipelines/reference/*.csv`).
//!
//! Every business rule the money depends on (rates, ceilings, base salary,
//! regional minimum wages, poverty line, support shares, interest, retirement
//! ages) is a row with a validity period, never a literal in code. Rates are
//! held as exact basis points (hundredths of a percent) so that every figure
//! is integer arithmetic.

use crate::month::Month;
use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// Hundredths of a percent: 14% = 1400, 0.5% = 50, 9.96% = 996.
pub type Bp = u32;

/// `round(amount × bp / 10_000)`, halves away from zero (halves up for the
/// non-negative amounts money takes here).
pub fn apply_bp(amount: i64, bp: Bp) -> i64 {
    let p = i128::from(amount) * i128::from(bp);
    let q = (p.abs() + 5_000) / 10_000;
    (if p < 0 { -q } else { q }) as i64
}

/// Parses decimal percent text with at most two decimals into basis points.
pub fn parse_percent(s: &str) -> Result<Bp> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || frac.len() > 2 || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        bail!("not a percentage with at most 2 decimals: {s:?}");
    }
    let frac_bp: u32 = format!("{frac:0<2}").parse()?;
    Ok(int.parse::<u32>()? * 100 + frac_bp)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fund {
    PensionSurvivorship,
    SicknessMaternity,
    OccupationalAccident,
    Health,
    Unemployment,
}

impl Fund {
    pub const ALL: [Fund; 5] = [
        Fund::PensionSurvivorship,
        Fund::SicknessMaternity,
        Fund::OccupationalAccident,
        Fund::Health,
        Fund::Unemployment,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Fund::PensionSurvivorship => "pension_survivorship",
            Fund::SicknessMaternity => "sickness_maternity",
            Fund::OccupationalAccident => "occupational_accident",
            Fund::Health => "health",
            Fund::Unemployment => "unemployment",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payer {
    Employer,
    Employee,
}

impl Payer {
    pub const ALL: [Payer; 2] = [Payer::Employer, Payer::Employee];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportGroup {
    Poor,
    NearPoor,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    VoluntarySi,
    HouseholdHi,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CeilingBasis {
    BaseSalary,
    RegionalMinWage,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Province {
    pub code: String,
    pub name: String,
    pub code_2025: String,
    pub name_2025: String,
    pub population_2019: u64,
    pub urban_region: u8,
    pub rural_region: u8,
}

/// A validity period in months, both ends inclusive; `to = None` is open.
#[derive(Clone, Copy, Debug)]
struct Period {
    from: Month,
    to: Option<Month>,
}

impl Period {
    fn parse(from: &str, to: &str) -> Result<Period> {
        let from = from.parse().with_context(|| format!("valid_from {from:?}"))?;
        let to = match to.trim() {
            "" => None,
            t => Some(t.parse().with_context(|| format!("valid_to {t:?}"))?),
        };
        Ok(Period { from, to })
    }
    fn contains(&self, m: Month) -> bool {
        self.from <= m && self.to.is_none_or(|t| m <= t)
    }
}

/// Rows of one rule keyed by `K`, each valid over a period.
#[derive(Debug)]
struct Timeline<K, V> {
    table: &'static str,
    rows: Vec<(K, Period, V)>,
}

impl<K: PartialEq + std::fmt::Debug, V: Copy> Timeline<K, V> {
    fn new(table: &'static str) -> Self {
        Timeline { table, rows: Vec::new() }
    }
    fn get(&self, key: &K, m: Month) -> Result<V> {
        self.rows
            .iter()
            .find(|(k, p, _)| k == key && p.contains(m))
            .map(|(_, _, v)| *v)
            .ok_or_else(|| anyhow!("reference table {} has no row for {:?} valid in {}", self.table, key, m))
    }
    /// The first month every key of the table has a row for (the latest of
    /// the keys' first months), or None for an empty table.
    fn first_month_of_every_key(&self) -> Option<Month> {
        let mut firsts: Vec<(&K, Month)> = Vec::new();
        for (k, p, _) in &self.rows {
            match firsts.iter_mut().find(|(k2, _)| *k2 == k) {
                Some(f) => f.1 = f.1.min(p.from),
                None => firsts.push((k, p.from)),
            }
        }
        firsts.into_iter().map(|(_, m)| m).max()
    }
    /// Refuses overlapping periods for the same key: a month must have one value.
    fn check(&self) -> Result<()> {
        self.check_by(|a, b| a == b)
    }
    /// Refuses overlapping periods for keys `clash` says cover a common case
    /// (the same key, or, for member ranges, ranges that share a member).
    fn check_by(&self, clash: impl Fn(&K, &K) -> bool) -> Result<()> {
        for (i, (k, p, _)) in self.rows.iter().enumerate() {
            for (k2, p2, _) in &self.rows[i + 1..] {
                let overlap = p.from <= p2.to.unwrap_or(Month(i32::MAX)) && p2.from <= p.to.unwrap_or(Month(i32::MAX));
                if clash(k, k2) && overlap {
                    bail!("reference table {}: overlapping periods for {:?} ({} and {})", self.table, k, p.from, p2.from);
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
pub struct Reference {
    pub provinces: Vec<Province>,
    province_index: HashMap<String, usize>,
    rates: Timeline<(Fund, Payer), Bp>,
    base_salary: Timeline<(), i64>,
    min_wage: Timeline<u8, i64>,
    poverty_line: Timeline<(), i64>,
    support: Timeline<SupportGroup, Bp>,
    scheme_rates: Timeline<Scheme, Bp>,
    household_shares: Timeline<(u32, Option<u32>), Bp>,
    ceilings: Timeline<Fund, (u32, CeilingBasis)>,
    interest: Timeline<(), Bp>,
    thresholds: Timeline<String, i64>,
    /// (female, birth_year_from, birth_year_to, age in months)
    retirement: Vec<(bool, i32, Option<i32>, u32)>,
}

fn read_csv<T: DeserializeOwned>(dir: &Path, file: &str) -> Result<Vec<T>> {
    let path = dir.join(file);
    let mut rdr = csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    rdr.deserialize()
        .enumerate()
        .map(|(i, r)| r.with_context(|| format!("{} line {}", path.display(), i + 2)))
        .collect()
}

#[derive(Deserialize)]
struct RateRow {
    fund: Fund,
    payer: Payer,
    valid_from: String,
    valid_to: String,
    rate_percent: String,
}
#[derive(Deserialize)]
struct AmountRow {
    valid_from: String,
    valid_to: String,
    amount_vnd: i64,
}
#[derive(Deserialize)]
struct RegionAmountRow {
    region: u8,
    valid_from: String,
    valid_to: String,
    amount_vnd: i64,
}
#[derive(Deserialize)]
struct SupportRow {
    support_group: SupportGroup,
    valid_from: String,
    valid_to: String,
    share_percent: String,
}
#[derive(Deserialize)]
struct SchemeRow {
    scheme: Scheme,
    valid_from: String,
    valid_to: String,
    rate_percent: String,
}
#[derive(Deserialize)]
struct ShareRow {
    member_order_from: u32,
    member_order_to: Option<u32>,
    valid_from: String,
    valid_to: String,
    share_percent: String,
}
#[derive(Deserialize)]
struct CeilingRow {
    funds: String,
    multiple: u32,
    of: CeilingBasis,
    valid_from: String,
    valid_to: String,
}
#[derive(Deserialize)]
struct InterestRow {
    valid_from: String,
    valid_to: String,
    annual_percent: String,
}
#[derive(Deserialize)]
struct ThresholdRow {
    rule: String,
    valid_from: String,
    valid_to: String,
    value: i64,
}
#[derive(Deserialize)]
struct RetirementRow {
    sex: String,
    birth_year_from: i32,
    birth_year_to: Option<i32>,
    age_years: u32,
    age_months: u32,
}

impl Reference {
    /// Loads every table from `dir` (normally `pipelines/reference`).
    pub fn load(dir: &Path) -> Result<Reference> {
        let provinces: Vec<Province> = read_csv(dir, "provinces.csv")?;
        let province_index = provinces.iter().enumerate().map(|(i, p)| (p.code.clone(), i)).collect();

        let mut rates = Timeline::new("contribution_rates");
        for r in read_csv::<RateRow>(dir, "contribution_rates.csv")? {
            rates.rows.push(((r.fund, r.payer), Period::parse(&r.valid_from, &r.valid_to)?, parse_percent(&r.rate_percent)?));
        }
        let amounts = |table: &'static str, file: &str| -> Result<Timeline<(), i64>> {
            let mut t = Timeline::new(table);
            for r in read_csv::<AmountRow>(dir, file)? {
                t.rows.push(((), Period::parse(&r.valid_from, &r.valid_to)?, r.amount_vnd));
            }
            Ok(t)
        };
        let base_salary = amounts("base_salary", "base_salary.csv")?;
        let poverty_line = amounts("poverty_line", "poverty_line.csv")?;
        let mut min_wage = Timeline::new("regional_min_wage");
        for r in read_csv::<RegionAmountRow>(dir, "regional_min_wage.csv")? {
            min_wage.rows.push((r.region, Period::parse(&r.valid_from, &r.valid_to)?, r.amount_vnd));
        }
        let mut support = Timeline::new("voluntary_support");
        for r in read_csv::<SupportRow>(dir, "voluntary_support.csv")? {
            support.rows.push((r.support_group, Period::parse(&r.valid_from, &r.valid_to)?, parse_percent(&r.share_percent)?));
        }
        let mut scheme_rates = Timeline::new("scheme_rates");
        for r in read_csv::<SchemeRow>(dir, "scheme_rates.csv")? {
            scheme_rates.rows.push((r.scheme, Period::parse(&r.valid_from, &r.valid_to)?, parse_percent(&r.rate_percent)?));
        }
        let mut household_shares = Timeline::new("household_hi_shares");
        for r in read_csv::<ShareRow>(dir, "household_hi_shares.csv")? {
            household_shares.rows.push((
                (r.member_order_from, r.member_order_to),
                Period::parse(&r.valid_from, &r.valid_to)?,
                parse_percent(&r.share_percent)?,
            ));
        }
        let mut ceilings = Timeline::new("insured_wage_ceilings");
        for r in read_csv::<CeilingRow>(dir, "insured_wage_ceilings.csv")? {
            let period = Period::parse(&r.valid_from, &r.valid_to)?;
            for f in r.funds.split(';') {
                let fund = Fund::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(f.trim()))
                    .map_err(|e| anyhow!("insured_wage_ceilings: fund {f:?}: {e}"))?;
                ceilings.rows.push((fund, period, (r.multiple, r.of)));
            }
        }
        let mut interest = Timeline::new("interest_rate");
        for r in read_csv::<InterestRow>(dir, "interest_rate.csv")? {
            interest.rows.push(((), Period::parse(&r.valid_from, &r.valid_to)?, parse_percent(&r.annual_percent)?));
        }
        let mut thresholds = Timeline::new("thresholds");
        for r in read_csv::<ThresholdRow>(dir, "thresholds.csv")? {
            thresholds.rows.push((r.rule, Period::parse(&r.valid_from, &r.valid_to)?, r.value));
        }
        let mut retirement = Vec::new();
        for r in read_csv::<RetirementRow>(dir, "retirement_age.csv")? {
            let female = match r.sex.as_str() {
                "F" => true,
                "M" => false,
                s => bail!("retirement_age: sex must be M or F, got {s:?}"),
            };
            retirement.push((female, r.birth_year_from, r.birth_year_to, r.age_years * 12 + r.age_months));
        }

        let reference = Reference {
            provinces,
            province_index,
            rates,
            base_salary,
            min_wage,
            poverty_line,
            support,
            scheme_rates,
            household_shares,
            ceilings,
            interest,
            thresholds,
            retirement,
        };
        reference.rates.check()?;
        reference.base_salary.check()?;
        reference.min_wage.check()?;
        reference.poverty_line.check()?;
        reference.support.check()?;
        reference.scheme_rates.check()?;
        reference.ceilings.check()?;
        reference.interest.check()?;
        reference.thresholds.check()?;
        // Member ranges: a member order in two rows of one month would be
        // priced by whichever row comes first.
        reference.household_shares.check_by(|(f1, t1), (f2, t2)| f1 <= &t2.unwrap_or(u32::MAX) && f2 <= &t1.unwrap_or(u32::MAX))?;
        if reference.provinces.len() != reference.province_index.len() {
            bail!("provinces.csv has duplicate codes");
        }
        Ok(reference)
    }

    pub fn province(&self, code: &str) -> Option<&Province> {
        self.province_index.get(code).map(|&i| &self.provinces[i])
    }

    pub fn is_province(&self, code: &str) -> bool {
        self.province_index.contains_key(code)
    }

    /// The first month the tables price a compulsory contribution in: every
    /// fund's rate and ceiling, the base salary and every region's minimum
    /// wage have begun (the latest of their first months). Declarations of
    /// earlier months cannot be assessed until the tables reach back to them.
    pub fn first_priced_month(&self) -> Option<Month> {
        [
            self.rates.first_month_of_every_key(),
            self.ceilings.first_month_of_every_key(),
            self.base_salary.first_month_of_every_key(),
            self.min_wage.first_month_of_every_key(),
        ]
        .into_iter()
        .try_fold(Month(i32::MIN), |acc, m| m.map(|m| acc.max(m)))
    }

    pub fn rate(&self, fund: Fund, payer: Payer, m: Month) -> Result<Bp> {
        self.rates.get(&(fund, payer), m)
    }

    pub fn base_salary(&self, m: Month) -> Result<i64> {
        self.base_salary.get(&(), m)
    }

    /// Regional minimum wage of `region` (1–4) in month `m`.
    pub fn min_wage(&self, region: u8, m: Month) -> Result<i64> {
        self.min_wage.get(&region, m)
    }

    /// The insured-wage ceiling of `fund` for a unit in `region`, month `m`.
    pub fn ceiling(&self, fund: Fund, region: u8, m: Month) -> Result<i64> {
        let (multiple, basis) = self.ceilings.get(&fund, m)?;
        let base = match basis {
            CeilingBasis::BaseSalary => self.base_salary(m)?,
            CeilingBasis::RegionalMinWage => self.min_wage(region, m)?,
        };
        Ok(i64::from(multiple) * base)
    }

    pub fn poverty_line(&self, m: Month) -> Result<i64> {
        self.poverty_line.get(&(), m)
    }

    pub fn support_share(&self, group: SupportGroup, m: Month) -> Result<Bp> {
        self.support.get(&group, m)
    }

    pub fn scheme_rate(&self, scheme: Scheme, m: Month) -> Result<Bp> {
        self.scheme_rates.get(&scheme, m)
    }

    /// Share of the first member's household-BHYT amount paid by member `order` (1-based).
    pub fn household_share(&self, order: u32, m: Month) -> Result<Bp> {
        self.household_shares
            .rows
            .iter()
            .find(|((from, to), p, _)| *from <= order && to.is_none_or(|t| order <= t) && p.contains(m))
            .map(|(_, _, v)| *v)
            .ok_or_else(|| anyhow!("reference table household_hi_shares has no row for member {order} in {m}"))
    }

    /// Annual late-payment interest rate valid in month `m`.
    pub fn interest_annual(&self, m: Month) -> Result<Bp> {
        self.interest.get(&(), m)
    }

    /// A numeric rule threshold (`thresholds.csv`) valid in month `m`, e.g.
    /// `inspection_debt_months`.
    pub fn threshold(&self, rule: &str, m: Month) -> Result<i64> {
        self.thresholds.get(&rule.to_string(), m)
    }

    /// Retirement age in months for a person of this sex and birth year.
    pub fn retirement_age_months(&self, female: bool, birth_year: i32) -> Result<u32> {
        self.retirement
            .iter()
            .find(|(f, from, to, _)| *f == female && *from <= birth_year && to.is_none_or(|t| birth_year <= t))
            .map(|r| r.3)
            .ok_or_else(|| anyhow!("retirement_age has no row for female={female} born {birth_year}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_parsing_is_exact() {
        assert_eq!(parse_percent("14").unwrap(), 1400);
        assert_eq!(parse_percent("0.5").unwrap(), 50);
        assert_eq!(parse_percent("1.5").unwrap(), 150);
        assert_eq!(parse_percent("9.96").unwrap(), 996);
        assert!(parse_percent("9.965").is_err());
        assert!(parse_percent("-1").is_err());
        assert!(parse_percent("").is_err());
    }

    #[test]
    fn rounding_is_half_up_to_the_vnd() {
        assert_eq!(apply_bp(4_420_000, 800), 353_600);
        // 0.5% of 1,234,567 = 6,172.835 → 6,173
        assert_eq!(apply_bp(1_234_567, 50), 6_173);
        // exactly half: 1.5% of 1,100 = 16.5 → 17
        assert_eq!(apply_bp(1_100, 150), 17);
        assert_eq!(apply_bp(1_099, 150), 16);
        assert_eq!(apply_bp(0, 1400), 0);
    }

    fn shipped() -> Reference {
        Reference::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference")).unwrap()
    }

    #[test]
    fn shipped_reference_data_has_the_2020_rules() {
        let r = shipped();
        let jun20 = Month::new(2020, 6).unwrap();
        assert_eq!(r.provinces.len(), 63);
        assert_eq!(r.base_salary(jun20).unwrap(), 1_490_000);
        assert_eq!(r.min_wage(1, jun20).unwrap(), 4_420_000);
        assert_eq!(r.min_wage(4, jun20).unwrap(), 3_070_000);
        assert_eq!(r.ceiling(Fund::PensionSurvivorship, 1, jun20).unwrap(), 29_800_000);
        assert_eq!(r.ceiling(Fund::Unemployment, 2, jun20).unwrap(), 78_400_000);
        let total: u32 = Fund::ALL
            .iter()
            .flat_map(|f| Payer::ALL.map(|p| r.rate(*f, p, jun20).unwrap()))
            .sum();
        assert_eq!(total, 3200, "32% of the insured wage in all");
        assert_eq!(r.rate(Fund::OccupationalAccident, Payer::Employer, Month::new(2021, 7).unwrap()).unwrap(), 0);
        assert_eq!(r.interest_annual(jun20).unwrap(), 996);
        assert_eq!(r.poverty_line(jun20).unwrap(), 700_000);
        assert_eq!(r.household_share(1, jun20).unwrap(), 10_000);
        assert_eq!(r.household_share(7, jun20).unwrap(), 4_000);
        assert_eq!(r.scheme_rate(Scheme::VoluntarySi, jun20).unwrap(), 2_200);
        assert_eq!(r.support_share(SupportGroup::NearPoor, jun20).unwrap(), 2_500);
        assert_eq!(r.retirement_age_months(false, 1958).unwrap(), 720);
        assert_eq!(r.province("79").unwrap().code_2025, "79");
        assert_eq!(r.threshold("inspection_debt_months", jun20).unwrap(), 3);
        assert!(r.threshold("no_such_rule", jun20).is_err());
    }

    #[test]
    fn overlapping_member_ranges_are_refused() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference");
        let dir = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(&shipped).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "csv") {
                std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
            }
        }
        assert!(Reference::load(dir.path()).is_ok(), "the shipped tables load");
        // Members 4–6 at 45% beside the shipped 4 (50%) and 5.. (40%).
        let shares = dir.path().join("household_hi_shares.csv");
        let mut text = std::fs::read_to_string(&shares).unwrap();
        text.push_str("4,6,2024-01,2024-12,45,test\n");
        std::fs::write(&shares, text).unwrap();
        let err = Reference::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("household_hi_shares") && err.contains("overlapping"), "{err}");
    }
}
