//! Strings stored once, end to end, and numbered in order of arrival.
//!
//! The linkage model keeps every person's key (si_number, person_ref) and
//! every name it has seen. As a `Vec<String>` plus a `HashMap<String, u32>`
//! each string was held twice with two headers and a map entry (about 130
//! bytes for a 15-character key); here it costs its bytes, an offset and a
//! 4-byte slot in the table.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

#[derive(Default)]
pub struct Interner {
    bytes: String,
    /// End of string `i` in `bytes` (its start is the end of `i - 1`).
    ends: Vec<usize>,
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// A new string came that sorts before the one interned before it.
    out_of_order: bool,
}

impl Interner {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn resolve(&self, id: u32) -> &str {
        resolve_in(&self.bytes, &self.ends, id)
    }

    pub fn get(&self, s: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(s);
        self.table.find(hash, |&id| self.resolve(id) == s).copied()
    }

    /// Whether every string was interned after the ones that sort before it
    /// (then a string's number is its rank).
    pub fn in_order(&self) -> bool {
        !self.out_of_order
    }

    /// [`Self::get`] for callers whose strings come sorted: when the
    /// interner is [in order](Self::in_order), `s` is looked for by walking
    /// forward from `*at` (the caller's cursor, left where `s` is or would
    /// be), which reads the strings one after another instead of probing the
    /// table at random. A string before the cursor is looked up in the
    /// table, so the answer is right whatever the order; only the speed
    /// depends on it (the cursor never moves back: at most one walk over
    /// the strings in all).
    pub fn find_sorted(&self, s: &str, at: &mut usize) -> Option<u32> {
        let n = self.len();
        if self.in_order() && n > 0 {
            *at = (*at).min(n - 1);
            if s >= self.resolve(*at as u32) {
                while *at < n - 1 && self.resolve(*at as u32) < s {
                    *at += 1;
                }
                return (self.resolve(*at as u32) == s).then_some(*at as u32);
            }
        }
        self.get(s)
    }

    /// Room for `additional` more strings without the table growing (each
    /// growth hashes every string again).
    pub fn reserve(&mut self, additional: usize) {
        self.ends.reserve(additional);
        let (bytes, ends, hasher) = (&self.bytes, &self.ends, &self.hasher);
        self.table.reserve(additional, |&id| hasher.hash_one(resolve_in(bytes, ends, id)));
    }

    /// The number of `s`, new or known. Strings that come in sorted order
    /// (the loaders read keys sorted) are known new, or the last one, without
    /// a lookup in the table.
    pub fn intern(&mut self, s: &str) -> u32 {
        if !self.out_of_order {
            match self.ends.len().checked_sub(1) {
                None => return self.push(s),
                Some(last) => match s.cmp(self.resolve(last as u32)) {
                    std::cmp::Ordering::Greater => return self.push(s),
                    std::cmp::Ordering::Equal => return last as u32,
                    std::cmp::Ordering::Less => {}
                },
            }
        }
        if let Some(id) = self.get(s) {
            return id;
        }
        self.out_of_order = true;
        self.push(s)
    }

    /// Adds `s`, known not to be here.
    fn push(&mut self, s: &str) -> u32 {
        let id = u32::try_from(self.ends.len()).expect("fewer than 2^32 strings");
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len());
        let hash = self.hasher.hash_one(s);
        let (bytes, ends, hasher) = (&self.bytes, &self.ends, &self.hasher);
        self.table.insert_unique(hash, id, |&other| hasher.hash_one(resolve_in(bytes, ends, other)));
        id
    }
}

/// String `id` of an interner's `bytes` and `ends` (for the table's rehash,
/// which cannot borrow the whole interner).
fn resolve_in<'a>(bytes: &'a str, ends: &[usize], id: u32) -> &'a str {
    let i = id as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &bytes[start..ends[i]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_strings_in_order_and_finds_them_again() {
        let mut i = Interner::default();
        assert_eq!(i.intern("pit:0100109106"), 0);
        assert_eq!(i.intern(""), 1);
        assert_eq!(i.intern("Nguyễn Văn An"), 2);
        assert_eq!(i.intern("pit:0100109106"), 0, "known: the same number");
        assert_eq!(i.len(), 3);
        assert_eq!(i.resolve(0), "pit:0100109106");
        assert_eq!(i.resolve(1), "");
        assert_eq!(i.resolve(2), "Nguyễn Văn An");
        assert_eq!(i.get("Nguyễn Văn An"), Some(2));
        assert_eq!(i.get("Nguyen Van An"), None);
        // Enough strings to make the table grow several times.
        for k in 0..10_000 {
            assert_eq!(i.intern(&format!("si{k:08}")), 3 + k);
        }
        assert!(!i.in_order(), "\"\" came after \"pit:…\"");
        for k in (0..10_000).step_by(997) {
            assert_eq!(i.get(&format!("si{k:08}")), Some(3 + k));
            assert_eq!(i.resolve(3 + k), format!("si{k:08}"));
        }
    }

    #[test]
    fn sorted_strings_skip_the_lookup_and_are_still_found() {
        let mut i = Interner::default();
        i.reserve(3);
        assert!(i.in_order(), "empty");
        for k in 0..5_000 {
            assert_eq!(i.intern(&format!("pit:{k:010}")), k);
            assert_eq!(i.intern(&format!("pit:{k:010}")), k, "the last again");
        }
        assert_eq!(i.intern("pit:0000000007"), 7, "an earlier one again");
        assert!(i.in_order(), "repeats are not new strings");
        for k in (0..5_000).step_by(499) {
            assert_eq!(i.get(&format!("pit:{k:010}")), Some(k), "in the table, though added without a lookup");
        }
        assert_eq!(i.intern("cid:001"), 5_000, "new and sorting first");
        assert!(!i.in_order());
        assert_eq!(i.intern("cid:001"), 5_000);
        assert_eq!(i.intern("pit:0000004999"), 4_999);
        assert_eq!(i.intern("zzz"), 5_001);
        assert_eq!(i.intern("pit:0000000008"), 8, "found by lookup once out of order");
        assert_eq!(i.len(), 5_002);
    }

    #[test]
    fn found_by_walking_sorted_or_not() {
        let mut i = Interner::default();
        let mut at = 0;
        assert_eq!(i.find_sorted("a", &mut at), None, "empty");
        for k in (0..1_000).step_by(2) {
            i.intern(&format!("k{k:04}"));
        }
        let want = |k: u32| (k % 2 == 0 && k < 1_000).then_some(k / 2);
        // Sorted queries, present and absent, past the end too.
        for k in 0..1_010 {
            assert_eq!(i.find_sorted(&format!("k{k:04}"), &mut at), want(k), "sorted k{k}");
        }
        // Out of order, and out of order again after the cursor moved.
        for k in [998u32, 0, 500, 3, 999, 1, 2, 996, 4] {
            assert_eq!(i.find_sorted(&format!("k{k:04}"), &mut at), want(k), "unsorted k{k}");
        }
        assert_eq!(i.find_sorted("a", &mut at), None);
        assert_eq!(i.find_sorted("z", &mut at), None);
        // An interner out of order is only looked up.
        i.intern("a");
        let mut at = 0;
        assert_eq!(i.find_sorted("k0002", &mut at), Some(1));
        assert_eq!(i.find_sorted("a", &mut at), Some(500));
    }
}
