//! SHA-256 as lowercase hex, and hex of any bytes: how the agent names
//! commands, patterns and bundles and how the collector names tokens and
//! bundles, written once here because both crates depend on this one.
//!
//! Plain functions of their input; this module keeps no state and never
//! sees a secret key (keyed hashing is in `placeholder`).

use sha2::{Digest, Sha256};

/// `bytes` as lowercase hex, two digits a byte.
///
/// ```
/// assert_eq!(earlyexit_scrub::hex([0x00, 0x5a, 0xff]), "005aff");
/// ```
pub fn hex(bytes: impl AsRef<[u8]>) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// The SHA-256 of `data` as 64 lowercase hex digits.
///
/// ```
/// assert_eq!(
///     earlyexit_scrub::sha256_hex("abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    hex(Sha256::digest(data.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_two_lowercase_digits_a_byte() {
        assert_eq!(hex([]), "");
        assert_eq!(hex([0x0f, 0xa0, 0x12]), "0fa012");
        let all: Vec<u8> = (0..=255).collect();
        let text = hex(&all);
        assert_eq!(text.len(), 512);
        assert_eq!(&text[..6], "000102");
        assert_eq!(&text[506..], "fdfeff");
    }

    #[test]
    fn sha256_of_the_empty_input_is_the_known_digest() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
