//! Cell and row validation against the contract: raw text in, typed value or
//! a reason code out. No I/O.

use crate::contract::{Column, Dataset, Kind, Reason};
use crate::ids::{self, TaxCodeError};
use crate::month::{parse_date, Month};
use chrono::NaiveDate;
use std::borrow::Cow;
use unicode_normalization::UnicodeNormalization;

/// A typed cell. Text borrows the raw cell unless validation changed it
/// (a name normalised): ingest validates every cell of every row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Str(Cow<'a, str>),
    Int(i64),
    Date(NaiveDate),
    Month(Month),
    Bool(bool),
}

/// A cell that failed validation.
#[derive(Clone, Debug, PartialEq)]
pub struct CellError {
    pub reason: Reason,
    pub message: String,
}

fn err<'a>(reason: Reason, message: String) -> Result<Value<'a>, CellError> {
    Err(CellError { reason, message })
}

/// Parses and validates one cell of `column`. `is_province` answers whether
/// a 2-digit code is one of the reference provinces.
pub fn parse_cell<'a>(column: &Column, raw: &'a str, is_province: &dyn Fn(&str) -> bool) -> Result<Value<'a>, CellError> {
    let v = raw.trim();
    if v.is_empty() {
        return if column.required {
            err(Reason::MissingRequired, format!("{} is required", column.name))
        } else {
            Ok(Value::Null)
        };
    }
    let name = column.name;
    match column.kind {
        Kind::Text => Ok(Value::Str(match unicode_normalization::is_nfc_quick(v.chars()) {
            unicode_normalization::IsNormalized::Yes => Cow::Borrowed(v),
            _ => Cow::Owned(v.nfc().collect()),
        })),
        Kind::Name => Ok(Value::Str(ids::normalized_name(v))),
        Kind::TaxCode => match ids::check_tax_code(v) {
            Ok(_) => Ok(Value::Str(Cow::Borrowed(v))),
            Err(TaxCodeError::Format) => err(Reason::BadFormat, format!("{name} {v:?} is not 10 digits (+ -NNN)")),
            Err(TaxCodeError::CheckDigit) => err(Reason::BadCheckDigit, format!("{name} {v:?} has a wrong check digit")),
        },
        // The contract asks 10 digits of a person's tax code and no more: a
        // code whose last digit is not its check digit is still the code the
        // tax authority holds the wages under, and its rows are kept. It is
        // personal data: masked in the message (made only for a reject).
        Kind::PersonTaxCode => {
            if ids::is_digits(v, 10) {
                Ok(Value::Str(Cow::Borrowed(v)))
            } else {
                err(Reason::BadFormat, format!("{name} {:?} is not 10 digits", ids::mask(v)))
            }
        }
        Kind::CitizenId => match ids::check_citizen_id(v, is_province) {
            Some(_) => Ok(Value::Str(Cow::Borrowed(v))),
            None => err(
                Reason::BadFormat,
                format!("{name} {:?} ({} characters) is not a 9-digit CMND or a valid 12-digit CCCD", ids::mask(v), v.chars().count()),
            ),
        },
        Kind::SiNumber => {
            if ids::is_si_number(v) {
                Ok(Value::Str(Cow::Borrowed(v)))
            } else {
                err(Reason::BadFormat, format!("{name} {v:?} is not 10 digits"))
            }
        }
        Kind::UnitCode => {
            if (1..=16).contains(&v.len()) && v.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
                Ok(Value::Str(Cow::Borrowed(v)))
            } else {
                err(Reason::BadFormat, format!("{name} {v:?} is not [A-Z0-9]{{1,16}}"))
            }
        }
        Kind::Province => {
            if !ids::is_digits(v, 2) {
                err(Reason::BadFormat, format!("{name} {v:?} is not a 2-digit code"))
            } else if is_province(v) {
                Ok(Value::Str(Cow::Borrowed(v)))
            } else {
                err(Reason::UnknownProvince, format!("{name} {v:?} is not one of the 63 provinces of 2020"))
            }
        }
        Kind::Digits(n) => {
            if ids::is_digits(v, n) {
                Ok(Value::Str(Cow::Borrowed(v)))
            } else {
                err(Reason::BadFormat, format!("{name} {v:?} is not {n} digits"))
            }
        }
        Kind::Date => match parse_date(v) {
            Some(d) => Ok(Value::Date(d)),
            None => err(Reason::BadDate, format!("{name} {v:?} is not a date YYYY-MM-DD")),
        },
        Kind::Month => match v.parse::<Month>() {
            Ok(m) => Ok(Value::Month(m)),
            Err(_) => err(Reason::BadDate, format!("{name} {v:?} is not a month YYYY-MM")),
        },
        Kind::Money { min } => match v.parse::<i64>() {
            Ok(n) if n < 0 => err(Reason::NegativeMoney, format!("{name} {n} is negative")),
            Ok(n) if n < min => err(Reason::OutOfRange, format!("{name} {n} is below {min}")),
            Ok(n) => Ok(Value::Int(n)),
            Err(_) => err(Reason::BadNumber, format!("{name} {v:?} is not whole VND")),
        },
        Kind::Int { min, max } => match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Value::Int(n)),
            Ok(n) => err(Reason::OutOfRange, format!("{name} {n} is outside {min}..={max}")),
            Err(_) => err(Reason::BadNumber, format!("{name} {v:?} is not a whole number")),
        },
        Kind::IntOneOf(allowed) => match v.parse::<i64>() {
            Ok(n) if allowed.contains(&n) => Ok(Value::Int(n)),
            Ok(n) => err(Reason::OutOfRange, format!("{name} {n} is not one of {allowed:?}")),
            Err(_) => err(Reason::BadNumber, format!("{name} {v:?} is not a whole number")),
        },
        Kind::Enum(values) => {
            if values.contains(&v) {
                Ok(Value::Str(Cow::Borrowed(v)))
            } else {
                err(Reason::UnknownEnum, format!("{name} {v:?} is not one of {}", values.join("|")))
            }
        }
        Kind::Bool => match v {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => err(Reason::UnknownEnum, format!("{name} {v:?} is not true|false")),
        },
    }
}

/// A row whose contract columns all parsed, as the cross-column rules see it.
pub struct ParsedRow<'a> {
    pub dataset: &'static Dataset,
    pub values: &'a [Value<'a>],
}

impl ParsedRow<'_> {
    fn get(&self, column: &str) -> &Value<'_> {
        let i = self.dataset.columns.iter().position(|c| c.name == column).expect("rule names a contract column");
        &self.values[i]
    }
    pub fn month(&self, column: &str) -> Option<Month> {
        match self.get(column) {
            Value::Month(m) => Some(*m),
            _ => None,
        }
    }
    pub fn int(&self, column: &str) -> Option<i64> {
        match self.get(column) {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }
    pub fn text(&self, column: &str) -> Option<&str> {
        match self.get(column) {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A rejected row: the first failing column in contract order (or the row rule).
#[derive(Clone, Debug, PartialEq)]
pub struct RowError {
    pub column: Option<&'static str>,
    pub reason: Reason,
    pub message: String,
}

/// Validates the contract cells of one record. `cell(i)` gives the raw text of
/// contract column `i` (`None` when the column is absent from the file).
pub fn validate_row<'r>(
    dataset: &'static Dataset,
    cell: impl Fn(usize) -> Option<&'r str>,
    is_province: &dyn Fn(&str) -> bool,
    out: &mut Vec<Value<'r>>,
) -> Result<(), RowError> {
    out.clear();
    for (i, column) in dataset.columns.iter().enumerate() {
        let raw = cell(i).unwrap_or("");
        match parse_cell(column, raw, is_province) {
            Ok(v) => out.push(v),
            Err(e) => return Err(RowError { column: Some(column.name), reason: e.reason, message: e.message }),
        }
    }
    let row = ParsedRow { dataset, values: out };
    for rule in dataset.rules {
        if let Some((column, message)) = rule(&row) {
            return Err(RowError { column: Some(column), reason: Reason::Inconsistent, message });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::dataset;

    fn prov(c: &str) -> bool {
        matches!(c, "01" | "79" | "02")
    }

    fn reason(ds: &str, col: &str, raw: &str) -> Option<Reason> {
        let d = dataset(ds).unwrap();
        parse_cell(d.column(col).unwrap(), raw, &prov).err().map(|e| e.reason)
    }

    #[test]
    fn every_kind_accepts_good_values() {
        assert_eq!(reason("tax_employers", "tax_code", "0100109106"), None);
        assert_eq!(reason("tax_employers", "tax_code", "0100109106-002"), None);
        assert_eq!(reason("tax_wages", "citizen_id", "001185012345"), None);
        assert_eq!(reason("tax_wages", "citizen_id", "123456789"), None);
        assert_eq!(reason("si_people", "si_number", "0123456789"), None);
        assert_eq!(reason("si_units", "unit_code", "TA0001Z"), None);
        assert_eq!(reason("si_units", "province_code", "79"), None);
        assert_eq!(reason("si_units", "ward_code", "26734"), None);
        assert_eq!(reason("si_units", "wage_region", "4"), None);
        assert_eq!(reason("tax_wages", "birth_date", "1990-02-28"), None);
        assert_eq!(reason("tax_wages", "month", "2020-05"), None);
        assert_eq!(reason("tax_wages", "taxable_income", "0"), None);
        assert_eq!(reason("si_voluntary", "payment_months", "12"), None);
        assert_eq!(reason("agents", "active", "false"), None);
        assert_eq!(reason("tax_wages", "contract", "short"), None);
        // Optional and empty is null, not a reject.
        assert_eq!(reason("tax_wages", "citizen_id", "  "), None);
    }

    #[test]
    fn a_persons_tax_code_is_ten_digits_and_nothing_more_is_asked() {
        // The contract: `person_tax_code` (10 digits). A wrong check digit is
        // no reason to drop a month of wages (an employer's tax code is
        // another matter: the contract asks its check digit).
        assert_eq!(reason("tax_employers", "tax_code", "0100109107"), Some(Reason::BadCheckDigit));
        assert_eq!(reason("tax_wages", "person_tax_code", "0100109107"), None);
        assert_eq!(reason("tax_wages", "person_tax_code", "0100109106"), None);
        // A branch suffix is an employer's; nine or eleven digits are not a code.
        assert_eq!(reason("tax_wages", "person_tax_code", "0100109106-001"), Some(Reason::BadFormat));
        assert_eq!(reason("tax_wages", "person_tax_code", "010010910"), Some(Reason::BadFormat));
        assert_eq!(reason("tax_wages", "person_tax_code", "01001091061"), Some(Reason::BadFormat));
        assert_eq!(reason("tax_wages", "person_tax_code", "01001O9106"), Some(Reason::BadFormat));
        assert_eq!(reason("tax_wages", "person_tax_code", ""), None, "optional");
    }

    #[test]
    fn every_reason_code_is_reachable() {
        assert_eq!(reason("tax_wages", "full_name", ""), Some(Reason::MissingRequired));
        assert_eq!(reason("tax_employers", "tax_code", "0100109107"), Some(Reason::BadCheckDigit));
        assert_eq!(reason("tax_employers", "tax_code", "010010910"), Some(Reason::BadFormat));
        assert_eq!(reason("tax_wages", "citizen_id", "12345678901"), Some(Reason::BadFormat));
        assert_eq!(reason("tax_wages", "citizen_id", "003185012345"), Some(Reason::BadFormat));
        assert_eq!(reason("si_people", "si_number", "123456789"), Some(Reason::BadFormat));
        assert_eq!(reason("si_units", "unit_code", "ta0001"), Some(Reason::BadFormat));
        assert_eq!(reason("si_units", "unit_code", "A234567890ABCDEFG"), Some(Reason::BadFormat));
        assert_eq!(reason("si_units", "ward_code", "2673"), Some(Reason::BadFormat));
        assert_eq!(reason("si_units", "province_code", "99"), Some(Reason::UnknownProvince));
        assert_eq!(reason("si_units", "province_code", "1"), Some(Reason::BadFormat));
        assert_eq!(reason("tax_wages", "birth_date", "2020-02-30"), Some(Reason::BadDate));
        assert_eq!(reason("tax_wages", "month", "2019-13"), Some(Reason::BadDate));
        assert_eq!(reason("tax_wages", "taxable_income", "-1"), Some(Reason::NegativeMoney));
        assert_eq!(reason("tax_wages", "taxable_income", "1,000"), Some(Reason::BadNumber));
        assert_eq!(reason("tax_wages", "taxable_income", "1.5"), Some(Reason::BadNumber));
        assert_eq!(reason("si_payments", "amount", "0"), Some(Reason::OutOfRange));
        assert_eq!(reason("si_units", "wage_region", "5"), Some(Reason::OutOfRange));
        assert_eq!(reason("si_voluntary", "payment_months", "2"), Some(Reason::OutOfRange));
        assert_eq!(reason("si_voluntary", "member_order", "0"), Some(Reason::OutOfRange));
        assert_eq!(reason("tax_wages", "contract", "permanent"), Some(Reason::UnknownEnum));
        assert_eq!(reason("agents", "active", "yes"), Some(Reason::UnknownEnum));
    }

    #[test]
    fn personal_identifiers_are_masked_in_messages() {
        let d = dataset("tax_wages").unwrap();
        let e = parse_cell(d.column("citizen_id").unwrap(), "00118501234", &prov).unwrap_err();
        assert!(e.message.contains("\"001********\"") && !e.message.contains("00118501234"), "{}", e.message);
        let e = parse_cell(d.column("person_tax_code").unwrap(), "80123456-1", &prov).unwrap_err();
        assert!(e.message.contains("\"801*******\"") && !e.message.contains("80123456-1"), "{}", e.message);
    }

    #[test]
    fn names_are_stored_nfc_single_spaced() {
        let d = dataset("si_people").unwrap();
        let nfd: String = "Nguyễn  Thị Ánh ".nfd().collect();
        let v = parse_cell(d.column("full_name").unwrap(), &nfd, &prov).unwrap();
        assert_eq!(v, Value::Str("Nguyễn Thị Ánh".into()));
    }

    fn row(ds: &str, cells: &[(&str, &str)]) -> Result<(), RowError> {
        let d = dataset(ds).unwrap();
        let raw: Vec<Option<&str>> = d
            .columns
            .iter()
            .map(|c| cells.iter().find(|(n, _)| *n == c.name).map(|(_, v)| *v))
            .collect();
        validate_row(d, |i| raw[i], &prov, &mut Vec::new())
    }

    #[test]
    fn first_failing_column_in_contract_order_wins() {
        let e = row("si_contributions", &[("unit_code", "x"), ("si_number", "1"), ("month", "2020-05"), ("insured_wage", "1"), ("work_status", "working")]).unwrap_err();
        assert_eq!((e.column, e.reason), (Some("unit_code"), Reason::BadFormat));
    }

    #[test]
    fn cross_column_rules() {
        let ok = row("si_suspensions", &[("unit_code", "U1"), ("from_month", "2020-04"), ("to_month", "2021-03")]);
        assert!(ok.is_ok());
        let e = row("si_suspensions", &[("unit_code", "U1"), ("from_month", "2020-04"), ("to_month", "2021-04")]).unwrap_err();
        assert_eq!((e.column, e.reason), (Some("to_month"), Reason::Inconsistent));
        let e = row("si_suspensions", &[("unit_code", "U1"), ("from_month", "2020-04"), ("to_month", "2020-03")]).unwrap_err();
        assert_eq!(e.reason, Reason::Inconsistent);
        let base = [("si_number", "0123456789"), ("scheme", "voluntary_si"), ("payment_months", "3"), ("paid_from", "2020-04")];
        let mut cells = base.to_vec();
        cells.push(("paid_through", "2020-03"));
        assert_eq!(row("si_voluntary", &cells).unwrap_err().reason, Reason::Inconsistent);
        let e = row("conferences", &[("conference_id", "C1"), ("province_code", "01"), ("held_on", "2020-05-02"), ("invited", "10"), ("attended", "11")]).unwrap_err();
        assert_eq!((e.column, e.reason), (Some("attended"), Reason::Inconsistent));
    }
}
