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
}

impl Interner {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn resolve(&self, id: u32) -> &str {
        let i = id as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    pub fn get(&self, s: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(s);
        self.table.find(hash, |&id| self.resolve(id) == s).copied()
    }

    /// The number of `s`, new or known.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.get(s) {
            return id;
        }
        let id = u32::try_from(self.ends.len()).expect("fewer than 2^32 strings");
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len());
        let hash = self.hasher.hash_one(s);
        let (bytes, ends, hasher) = (&self.bytes, &self.ends, &self.hasher);
        let resolve = |id: u32| {
            let i = id as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] };
            &bytes[start..ends[i]]
        };
        self.table.insert_unique(hash, id, |&other| hasher.hash_one(resolve(other)));
        id
    }
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
        for k in (0..10_000).step_by(997) {
            assert_eq!(i.get(&format!("si{k:08}")), Some(3 + k));
            assert_eq!(i.resolve(3 + k), format!("si{k:08}"));
        }
    }
}
