//! Optional at-rest encryption of memory content with `DATA_ENCRYPTION_KEY` (ChaCha20-Poly1305, an
//! authenticated cipher from RustCrypto). A sealed value is `enc1:` + base64(nonce ‖ ciphertext ‖ tag),
//! with a fresh random 96-bit nonce per value.
//!
//! With a key, every value in a sealed column is sealed: the first start with a key seals the values
//! stored in clear before ([`seal_stored_plaintext`]). A value found in clear after that was not
//! written by the host (someone wrote the database directly, or a key was added behind the host's
//! back): it is refused ([`CryptoError::NotSealed`]) rather than shown as if it had been protected.
//! What the reader sees: a memory list or an export shows a placeholder in its place, recall and the
//! facts the companion uses skip it, and a warning without the value is logged.
//!
//! A wrong key must be a clear start-up error, not garbage: the store keeps a sealed check value in
//! `host_setting` (`encryption_check`) and refuses to start when the configured key cannot open it,
//! or when encrypted data exists and no key is configured.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// Prefix of sealed values.
pub const SEALED_PREFIX: &str = "enc1:";
/// The `host_setting` key holding the sealed check value.
pub const CHECK_KEY: &str = "encryption_check";
/// The plaintext of the check value.
const CHECK_PLAINTEXT: &str = "whisperengine-encryption-check-v1";
/// Nonce length of ChaCha20-Poly1305.
const NONCE_BYTES: usize = 12;

/// Why a value could not be opened (or a key not read). Never carries key material or content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("expected 32 bytes as 64 hex characters or base64 (generate one with `openssl rand -hex 32`)")]
    BadKey,
    #[error("a stored value is encrypted but cannot be decrypted with this key (wrong DATA_ENCRYPTION_KEY, or the value was altered)")]
    CannotOpen,
    #[error("a stored value is in clear although DATA_ENCRYPTION_KEY is set (the host did not write it sealed); it is not used")]
    NotSealed,
}

/// The cipher for memory content; cheap to share behind an `Arc`.
#[derive(Clone)]
pub struct ContentCipher {
    cipher: ChaCha20Poly1305,
}

impl fmt::Debug for ContentCipher {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("ContentCipher(***)")
    }
}

impl ContentCipher {
    /// Reads a 32-byte key written as 64 hex characters or as base64.
    pub fn from_key(key: &SecretString) -> Result<ContentCipher, CryptoError> {
        let text = key.expose_secret().trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| CryptoError::BadKey)?
        } else {
            BASE64.decode(text).map_err(|_| CryptoError::BadKey)?
        };
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(ContentCipher {
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
        })
    }

    /// Encrypts `plain` into a sealed value.
    pub fn seal(&self, plain: &str) -> String {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        match self.cipher.encrypt(&nonce, plain.as_bytes()) {
            Ok(sealed) => {
                let mut bytes = nonce.to_vec();
                bytes.extend_from_slice(&sealed);
                format!("{SEALED_PREFIX}{}", BASE64.encode(bytes))
            }
            // Only for inputs beyond ChaCha20's 256 GiB limit, which no memory reaches.
            Err(_) => plain.to_string(),
        }
    }

    /// Decrypts a sealed value; a value without the prefix is refused (see the module notes).
    pub fn open(&self, stored: &str) -> Result<String, CryptoError> {
        let Some(encoded) = stored.strip_prefix(SEALED_PREFIX) else {
            return Err(CryptoError::NotSealed);
        };
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| CryptoError::CannotOpen)?;
        if bytes.len() < NONCE_BYTES {
            return Err(CryptoError::CannotOpen);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| CryptoError::CannotOpen)?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| CryptoError::CannotOpen)?;
        String::from_utf8(plain).map_err(|_| CryptoError::CannotOpen)
    }

    /// A sealed check value, stored once so a later start can tell whether its key is the same.
    pub fn seal_check(&self) -> String {
        self.seal(CHECK_PLAINTEXT)
    }

    /// Whether this key opens a check value sealed earlier.
    pub fn opens_check(&self, sealed: &str) -> bool {
        sealed.starts_with(SEALED_PREFIX)
            && self
                .open(sealed)
                .is_ok_and(|plain| plain == CHECK_PLAINTEXT)
    }
}

/// Seals `plain` with the store's cipher, if any (plaintext without one).
pub fn sealed(cipher: Option<&ContentCipher>, plain: &str) -> String {
    match cipher {
        Some(cipher) => cipher.seal(plain),
        None => plain.to_string(),
    }
}

/// Opens a stored value with the store's cipher, if any; `None` (and a warning naming neither the
/// value nor the key) when it cannot be opened or is in clear under a key.
pub fn opened(cipher: Option<&ContentCipher>, stored: &str) -> Option<String> {
    match cipher {
        Some(cipher) => match cipher.open(stored) {
            Ok(plain) => Some(plain),
            Err(error) => {
                tracing::warn!(%error, "a stored value was not used");
                None
            }
        },
        None => Some(stored.to_string()),
    }
}

/// Opens a stored value to show it: a value that cannot be opened (altered, or in clear under a
/// key) is shown as a placeholder, never as ciphertext or as unprotected text.
pub fn readable(cipher: Option<&ContentCipher>, stored: &str) -> String {
    opened(cipher, stored).unwrap_or_else(|| UNREADABLE.to_string())
}

/// What is shown instead of a stored value that cannot be used.
pub const UNREADABLE: &str = "[unreadable: not stored as this host's encrypted data]";

/// The sealed columns: `(table, column, which rows)`.
const SEALED_COLUMNS: &[(&str, &str, &str)] = &[
    ("memory", "content", "TRUE"),
    ("memory", "terms", "TRUE"),
    ("fact", "value", "TRUE"),
    // Preference conflicts hold preference values, which are not sealed.
    ("sync_conflict", "kept_value", "kind = 'fact'"),
    ("sync_conflict", "other_value", "kind = 'fact'"),
    ("inbox_event", "payload", "TRUE"),
    ("inbox_event", "reply", "TRUE"),
];
/// Values sealed per statement round.
const SEAL_BATCH: u64 = 500;

/// Seals every value of the sealed columns still in clear (written before the key was set).
/// Idempotent, and safe beside another process doing the same: each update names the value it
/// replaces. Returns how many were sealed.
pub async fn seal_stored_plaintext(
    db: &impl sea_orm::ConnectionTrait,
    cipher: &ContentCipher,
) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::{Statement, Value};
    let backend = db.get_database_backend();
    let mut sealed = 0;
    for (table, column, which) in SEALED_COLUMNS {
        loop {
            let select = format!(
                "SELECT id, {column} AS value FROM {table} WHERE {column} IS NOT NULL \
                 AND {column} NOT LIKE '{SEALED_PREFIX}%' AND {which} LIMIT {SEAL_BATCH}"
            );
            let rows = db
                .query_all_raw(Statement::from_string(backend, select))
                .await?;
            if rows.is_empty() {
                break;
            }
            let mut changed = 0;
            for row in rows {
                let id = match row.try_get::<i64>("", "id") {
                    Ok(id) => Value::from(id),
                    Err(_) => Value::from(row.try_get::<String>("", "id")?),
                };
                let plain: String = row.try_get("", "value")?;
                let update =
                    format!("UPDATE {table} SET {column} = $1 WHERE id = $2 AND {column} = $3");
                changed += db
                    .execute_raw(Statement::from_sql_and_values(
                        backend,
                        update,
                        [Value::from(cipher.seal(&plain)), id, Value::from(plain)],
                    ))
                    .await?
                    .rows_affected();
            }
            sealed += changed;
            if changed == 0 {
                // Another process sealed this round's rows first: it is sealing this column too.
                break;
            }
        }
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> SecretString {
        SecretString::from(text.to_string())
    }

    #[test]
    fn sealed_values_open_with_the_same_key_only() {
        let first = ContentCipher::from_key(&key(&"11".repeat(32))).expect("hex key");
        let second = ContentCipher::from_key(&key(&BASE64.encode([7u8; 32]))).expect("base64 key");
        let sealed = first.seal("My cat is called Miso");
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("Miso"));
        assert_ne!(
            sealed,
            first.seal("My cat is called Miso"),
            "fresh nonce each time"
        );
        assert_eq!(first.open(&sealed).as_deref(), Ok("My cat is called Miso"));
        assert_eq!(second.open(&sealed), Err(CryptoError::CannotOpen));
        assert_eq!(first.open("plain old row"), Err(CryptoError::NotSealed));
        assert!(first.opens_check(&first.seal_check()));
        assert!(!second.opens_check(&first.seal_check()));
    }

    #[test]
    fn a_tampered_value_is_refused() {
        let cipher = ContentCipher::from_key(&key(&"ab".repeat(32))).expect("key");
        let sealed = cipher.seal("hello");
        let mut bytes = BASE64
            .decode(sealed.trim_start_matches(SEALED_PREFIX))
            .expect("base64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{SEALED_PREFIX}{}", BASE64.encode(bytes));
        assert_eq!(cipher.open(&tampered), Err(CryptoError::CannotOpen));
        assert_eq!(cipher.open("enc1:!!"), Err(CryptoError::CannotOpen));
    }

    #[test]
    fn keys_must_be_32_bytes() {
        for bad in ["", "short", &"1".repeat(63), &BASE64.encode([1u8; 16])] {
            assert_eq!(
                ContentCipher::from_key(&key(bad)).err(),
                Some(CryptoError::BadKey),
                "{bad}"
            );
        }
    }
}
