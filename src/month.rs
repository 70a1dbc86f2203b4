//! Calendar months as a small integer type.
//!
//! A [`Month`] is `year * 12 + (month - 1)`, so month arithmetic is integer
//! arithmetic and ordering is chronological. Text form is `YYYY-MM`.

use chrono::{Datelike, NaiveDate};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

impl Month {
    /// Builds a month; `month` is 1..=12.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        if (1..=12).contains(&month) && (1000..=9999).contains(&year) {
            Some(Month(year * 12 + month as i32 - 1))
        } else {
            None
        }
    }

    pub fn of_date(d: NaiveDate) -> Month {
        Month(d.year() * 12 + d.month0() as i32)
    }

    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }

    /// 1..=12
    pub fn month(self) -> u32 {
        (self.0.rem_euclid(12) + 1) as u32
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year(), self.month(), 1).expect("valid month")
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().expect("valid date")
    }

    pub fn next(self) -> Month {
        Month(self.0 + 1)
    }

    pub fn prev(self) -> Month {
        Month(self.0 - 1)
    }

    pub fn add(self, months: i32) -> Month {
        Month(self.0 + months)
    }

    /// Whole months from `self` to `later` (negative when `later` is earlier).
    pub fn until(self, later: Month) -> i32 {
        later.0 - self.0
    }

    /// Iterates `self..=last`.
    pub fn through(self, last: Month) -> impl Iterator<Item = Month> {
        (self.0..=last.0).map(Month)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a month (YYYY-MM): {0:?}")]
pub struct MonthParseError(pub String);

impl FromStr for Month {
    type Err = MonthParseError;
    /// Parses exactly `YYYY-MM`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let err = || MonthParseError(s.to_string());
        if b.len() != 7 || b[4] != b'-' || !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return Err(err());
        }
        let y: i32 = s[..4].parse().map_err(|_| err())?;
        let m: u32 = s[5..].parse().map_err(|_| err())?;
        Month::new(y, m).ok_or_else(err)
    }
}

/// ISO week of a date, `YYYY-Www` (the ISO week-year, which differs from the
/// calendar year for a few days around New Year).
pub fn iso_week(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// The Monday of the ISO week holding `d`.
pub fn monday_of(d: NaiveDate) -> NaiveDate {
    d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// The weekly report a run at `as_of` sends: the last ISO week that ended
/// before the as-of day began, given by its Sunday. A Monday run reports the
/// week that ended the day before; a Sunday run the week before that (its own
/// week has not ended).
pub fn report_sunday(as_of: NaiveDate) -> NaiveDate {
    monday_of(as_of) - chrono::Duration::days(1)
}

/// The Sundays of the report window of a run at `as_of`: every week whose
/// Sunday lies in the calendar year of the report week's Sunday, up to that
/// week, oldest first ("year to date" is the calendar year of the Sunday).
pub fn report_window(as_of: NaiveDate) -> Vec<NaiveDate> {
    let last = report_sunday(as_of);
    let mut out = Vec::new();
    let mut s = last;
    while s.year() == last.year() {
        out.push(s);
        s -= chrono::Duration::days(7);
    }
    out.reverse();
    out
}

/// Parses exactly `YYYY-MM-DD` (a real calendar date).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return None;
    }
    NaiveDate::from_ymd_opt(s[..4].parse().ok()?, s[5..7].parse().ok()?, s[8..].parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        let m: Month = "2020-06".parse().unwrap();
        assert_eq!(m.year(), 2020);
        assert_eq!(m.month(), 6);
        assert_eq!(m.to_string(), "2020-06");
        assert_eq!(m.add(7).to_string(), "2021-01");
        assert_eq!(m.add(-6).to_string(), "2019-12");
    }

    #[test]
    fn rejects_impossible_months() {
        for s in ["2020-13", "2020-00", "2020-1", "20-06", "2020/06", "2020-06-01", ""] {
            assert!(s.parse::<Month>().is_err(), "{s}");
        }
    }

    #[test]
    fn dates_are_strict() {
        assert!(parse_date("2020-02-29").is_some());
        assert!(parse_date("2019-02-29").is_none());
        assert!(parse_date("2020-04-31").is_none());
        assert!(parse_date("2020-4-01").is_none());
        assert!(parse_date("01/04/2020").is_none());
    }

    #[test]
    fn month_bounds() {
        let m = Month::new(2020, 2).unwrap();
        assert_eq!(m.first_day(), NaiveDate::from_ymd_opt(2020, 2, 1).unwrap());
        assert_eq!(m.last_day(), NaiveDate::from_ymd_opt(2020, 2, 29).unwrap());
        assert_eq!(Month::new(2020, 3).unwrap().until(Month::new(2020, 6).unwrap()), 3);
    }

    #[test]
    fn report_weeks() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        // Monday 8 June 2020 reports 2020-W23 (1–7 June), sent that Monday.
        assert_eq!(report_sunday(d(2020, 6, 8)), d(2020, 6, 7));
        assert_eq!(iso_week(d(2020, 6, 7)), "2020-W23");
        // A Sunday's own week has not ended: the week before it.
        assert_eq!(report_sunday(d(2020, 6, 7)), d(2020, 5, 31));
        assert_eq!(report_sunday(d(2020, 6, 10)), d(2020, 6, 7));
        let w = report_window(d(2020, 6, 8));
        assert_eq!((w[0], *w.last().unwrap(), w.len()), (d(2020, 1, 5), d(2020, 6, 7), 23));
        // The week of New Year belongs to the year of its Sunday: 2020-W53 ends 3 Jan 2021.
        assert_eq!(iso_week(d(2021, 1, 3)), "2020-W53");
        assert_eq!(report_window(d(2021, 1, 4)), vec![d(2021, 1, 3)]);
        assert_eq!(monday_of(d(2021, 1, 3)), d(2020, 12, 28));
    }
}
