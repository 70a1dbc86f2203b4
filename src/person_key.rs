//! `person_key`: the keyed hash that stands for a person in gold tables.
//!
//! Analysts' tables carry no citizen IDs and no names; they carry
//! `person_key = hex(HMAC-SHA256(key, "si:" + si_number))[..32]` for a person
//! BHXH knows, or `"tax:" + person_ref` for a tax-side person linked to no
//! BHXH record. The 32-byte key comes from the environment variable
//! `BHXH_PERSON_KEY` (64 hex digits) and is the only secret of the product:
//! with it, the officers' exported worklists can be joined back to gold; without
//! it, a key cannot be turned back into a person.
//!
//! When the variable is unset the fixed, public **demo key** is used (fine for
//! the synthetic sample, never for real data) and a warning says so.

use anyhow::{bail, Result};

/// The environment variable holding the key (64 hex digits).
pub const ENV_VAR: &str = "BHXH_PERSON_KEY";

/// The public demo key: 32 ASCII bytes that say what they are.
pub const DEMO_KEY: &[u8; 32] = b"bhxh-DEMO-person-key-NOT-SECRET!";

#[derive(Clone)]
pub struct PersonKeyer {
    /// HMAC-SHA256 with the key already absorbed (its inner and outer
    /// blocks): each person's hash clones it instead of keying a new one.
    mac: hmac::Hmac<sha2::Sha256>,
    demo: bool,
}

impl std::fmt::Debug for PersonKeyer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key itself.
        f.debug_struct("PersonKeyer").field("demo", &self.demo).finish()
    }
}

impl PersonKeyer {
    /// The key from `BHXH_PERSON_KEY`, or the demo key (with a warning).
    pub fn from_env() -> Result<PersonKeyer> {
        match std::env::var(ENV_VAR) {
            Ok(hex) => PersonKeyer::from_hex(hex.trim()),
            Err(_) => {
                tracing::warn!(
                    "{ENV_VAR} is not set: person_key values are hashed with the public DEMO key \
                     (fine for synthetic data, never for real data)"
                );
                Ok(PersonKeyer::demo())
            }
        }
    }

    pub fn demo() -> PersonKeyer {
        PersonKeyer::new(DEMO_KEY, true)
    }

    pub fn from_hex(hex: &str) -> Result<PersonKeyer> {
        if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            bail!("{ENV_VAR} must be 64 hexadecimal digits (32 bytes)");
        }
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
        }
        Ok(PersonKeyer::new(&key, key == *DEMO_KEY))
    }

    /// Whether this is the public demo key.
    pub fn is_demo(&self) -> bool {
        self.demo
    }

    fn new(key: &[u8; 32], demo: bool) -> PersonKeyer {
        use hmac::Mac;
        PersonKeyer { mac: hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length"), demo }
    }

    /// HMAC-SHA256 of `prefix + id` under the key, first 16 bytes in hex.
    fn hash(&self, prefix: &str, id: &str) -> String {
        use hmac::Mac;
        let mut mac = self.mac.clone();
        mac.update(prefix.as_bytes());
        mac.update(id.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// The key of a person BHXH knows.
    pub fn si(&self, si_number: &str) -> String {
        self.hash("si:", si_number)
    }

    /// The key of a tax-side person with no BHXH record (by `person_ref`).
    pub fn tax(&self, person_ref: &str) -> String {
        self.hash("tax:", person_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_the_secret_and_the_kind() {
        let demo = PersonKeyer::demo();
        let other = PersonKeyer::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(demo.si("0112345678").len(), 32);
        assert_eq!(demo.si("0112345678"), demo.si("0112345678"));
        assert_ne!(demo.si("0112345678"), other.si("0112345678"));
        assert_ne!(demo.si("0112345678"), demo.tax("0112345678"));
        assert!(demo.is_demo() && !other.is_demo());
        let hex: String = DEMO_KEY.iter().map(|b| format!("{b:02x}")).collect();
        assert!(PersonKeyer::from_hex(&hex).unwrap().is_demo());
        assert!(PersonKeyer::from_hex("abc").is_err());
        assert!(PersonKeyer::from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn keys_are_the_first_half_of_hmac_sha256_in_lowercase_hex() {
        // Published keys must never change between versions (analysts join
        // runs on them): Python's `hmac.new(key, b"si:0112345678",
        // hashlib.sha256).hexdigest()[:32]`, and the same for "tax:T000123".
        let demo = PersonKeyer::demo();
        assert_eq!(demo.si("0112345678"), "5522ff087df8b31c18c33d7d00855235");
        assert_eq!(demo.tax("T000123"), "8b567bf63e6fe1d7683a6f1e9cfd60a6");
        // The keyed state is cloned per person: a second hash starts clean.
        assert_eq!(demo.si("0112345678"), "5522ff087df8b31c18c33d7d00855235");
    }
}
