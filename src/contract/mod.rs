//! The input data contract (`DATA_CONTRACT.md`, "Inputs"): one declaration per
//! dataset — its columns, their types and rules, its natural key — and the
//! reason codes a row can be rejected with.
//!
//! The declarations are data; [`crate::ingest`] interprets them. Adding an
//! optional column to a dataset is one line here.

mod datasets;

pub use datasets::{dataset, DATASETS};

/// Key columns a dataset's natural key may name that are not input columns:
/// conform derives them from the row before it deduplicates
/// (`crate::conform`). `person_ref`: `pit:<person_tax_code>`, else
/// `cid:<citizen_id>`, else `name:<lower-case full_name>|<birth_date>`.
pub const DERIVED_KEYS: &[&str] = &["person_ref"];

/// How a column is parsed, validated and stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Free text, stored trimmed and NFC-normalised.
    Text,
    /// A person's or organisation's name: stored NFC with single spaces, the
    /// raw value kept beside it in `<column>_raw`.
    Name,
    /// 10 digits with a valid check digit, optionally `-NNN` (a branch).
    TaxCode,
    /// A person's tax code: 10 digits, as the contract asks of
    /// `tax_wages.person_tax_code` (no check digit, no branch suffix asked);
    /// masked in reject messages.
    PersonTaxCode,
    /// 9 digits (CMND) or 12 digits (CCCD, province-of-birth prefix, century/sex digit).
    CitizenId,
    /// Social insurance number: 10 digits.
    SiNumber,
    /// `[A-Z0-9]{1,16}`.
    UnitCode,
    /// One of the 63 province codes of 2020 (reference data).
    Province,
    /// Exactly this many ASCII digits (ward 5, VSIC industry 4).
    Digits(usize),
    /// `YYYY-MM-DD`, a real calendar date. Stored as Date.
    Date,
    /// `YYYY-MM`. Stored as Date, the first day of the month.
    Month,
    /// Whole VND, at least `min`. Stored as Int64.
    Money { min: i64 },
    /// An integer within `min..=max`. Stored as Int64.
    Int { min: i64, max: i64 },
    /// An integer from this list. Stored as Int64.
    IntOneOf(&'static [i64]),
    /// One of the listed values. Stored as text.
    Enum(&'static [&'static str]),
    /// `true` | `false`. Stored as Boolean.
    Bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    /// Required: a file without this column in its header is refused as a
    /// whole, and a row with this cell empty is rejected (`missing_required`).
    /// Optional columns may be absent from the header (then all null).
    pub required: bool,
    /// What the column means, for the data dictionary.
    pub doc: &'static str,
}

/// A cross-column rule on a parsed row: returns the column at fault and a message.
pub type RowRule = fn(&crate::ingest::ParsedRow<'_>) -> Option<(&'static str, String)>;

#[derive(Debug)]
pub struct Dataset {
    pub name: &'static str,
    pub doc: &'static str,
    pub columns: &'static [Column],
    /// The natural key: conform keeps one row per key (the newest extract,
    /// last line). Input columns, or [`DERIVED_KEYS`].
    pub key: &'static [&'static str],
    /// Cross-column rules (`inconsistent`).
    pub rules: &'static [RowRule],
}

impl Dataset {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Why a row was rejected. The string forms are part of the contract with
/// the agencies (they appear in the `rejects` table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Not a record of this file's shape (wrong number of fields).
    MalformedRow,
    /// A required value is empty.
    MissingRequired,
    /// A tax code whose 10th digit is not its check digit.
    BadCheckDigit,
    /// An identifier or code of the wrong shape.
    BadFormat,
    /// Not a real date (`YYYY-MM-DD`) or month (`YYYY-MM`).
    BadDate,
    /// Not a whole number.
    BadNumber,
    /// A money amount below zero.
    NegativeMoney,
    /// A number outside its allowed range (also a zero payment).
    OutOfRange,
    /// A value outside the column's list of allowed values.
    UnknownEnum,
    /// A province code that is not one of the 63 of 2020.
    UnknownProvince,
    /// Columns that contradict each other.
    Inconsistent,
}

impl Reason {
    pub const ALL: [Reason; 11] = [
        Reason::MalformedRow,
        Reason::MissingRequired,
        Reason::BadCheckDigit,
        Reason::BadFormat,
        Reason::BadDate,
        Reason::BadNumber,
        Reason::NegativeMoney,
        Reason::OutOfRange,
        Reason::UnknownEnum,
        Reason::UnknownProvince,
        Reason::Inconsistent,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Reason::MalformedRow => "malformed_row",
            Reason::MissingRequired => "missing_required",
            Reason::BadCheckDigit => "bad_check_digit",
            Reason::BadFormat => "bad_format",
            Reason::BadDate => "bad_date",
            Reason::BadNumber => "bad_number",
            Reason::NegativeMoney => "negative_money",
            Reason::OutOfRange => "out_of_range",
            Reason::UnknownEnum => "unknown_enum",
            Reason::UnknownProvince => "unknown_province",
            Reason::Inconsistent => "inconsistent",
        }
    }
}
