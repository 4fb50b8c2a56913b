//! Subjects' keys: made at random, stored wrapped by the application's master key when it
//! gives one.

use std::fmt;
use std::sync::Arc;

use chacha20poly1305::aead::{Aead, Generate, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::error::StoreError;

const KEY: usize = 32;
const NONCE: usize = 24;

/// One subject's data key: 32 random bytes, overwritten when dropped.
#[derive(Clone)]
pub(crate) struct SubjectKey([u8; KEY]);

impl SubjectKey {
    pub(crate) fn generate() -> Result<Self, StoreError> {
        <[u8; KEY]>::try_generate()
            .map(SubjectKey)
            .map_err(|error| StoreError::Backend(format!("the system's random source failed: {error}").into()))
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY] {
        &self.0
    }
}

impl Drop for SubjectKey {
    fn drop(&mut self) {
        for byte in &mut self.0 {
            // Volatile, so that the write is not optimised away as dead.
            unsafe { std::ptr::write_volatile(byte, 0) };
        }
    }
}

/// Wraps subjects' keys before the store writes them, and unwraps them when it reads them:
/// the hook for a key management service (KMS) or a hardware module.
///
/// Without one, keys are stored as they are, protected as well as the database is. With
/// one, a copy of the database alone does not read personal data: the wrapping key must be
/// had too. [`MasterKey`] wraps with a key the application holds (from an environment
/// variable, say); implement the trait to call a KMS instead. Both calls are made on the
/// store's own threads while it appends or reads, so a wrap that goes over the network should
/// keep what it needs close (a data key from the KMS, cached).
///
/// ```
/// use factum::KeyWrap;
///
/// /// Wraps by XOR with one byte: for illustration only.
/// struct Toy;
///
/// impl KeyWrap for Toy {
///     fn wrap(&self, key: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
///         Ok(key.iter().map(|b| b ^ 0x5a).collect())
///     }
///     fn unwrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
///         self.wrap(wrapped)
///     }
/// }
///
/// let store = factum::MemoryStore::new().with_key_wrap(Toy);
/// # let _ = store;
/// ```
pub trait KeyWrap: Send + Sync + 'static {
    /// The stored form of a 32-byte subject key.
    fn wrap(&self, key: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>>;

    /// The subject key back from its stored form.
    fn unwrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>>;
}

/// A [`KeyWrap`] with a 32-byte key of the application's: subjects' keys are stored sealed
/// with it (XChaCha20-Poly1305).
///
/// ```
/// use factum::MasterKey;
///
/// // 64 hex digits, as `openssl rand -hex 32` prints them.
/// let hex = "8f1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100ff";
/// let master = MasterKey::from_hex(hex).unwrap();
/// let store = factum::MemoryStore::new().with_key_wrap(master);
/// # let _ = store;
///
/// let error = MasterKey::from_env("FACTUM_MASTER_KEY_OF_NO_ONE").unwrap_err();
/// assert_eq!(error.to_string(), "the environment variable FACTUM_MASTER_KEY_OF_NO_ONE is not set");
/// ```
#[derive(Clone)]
pub struct MasterKey(SubjectKey);

/// Why a master key was refused.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// The variable is not set.
    #[error("the environment variable {0} is not set")]
    Missing(String),
    /// Not 64 hex digits.
    #[error("a master key is 64 hex digits (32 bytes); {0}")]
    Malformed(String),
}

impl MasterKey {
    /// A master key of 32 bytes.
    pub fn new(key: [u8; KEY]) -> Self {
        MasterKey(SubjectKey(key))
    }

    /// A master key from 64 hex digits.
    pub fn from_hex(hex: &str) -> Result<Self, MasterKeyError> {
        let hex = hex.trim();
        if hex.len() != 2 * KEY {
            return Err(MasterKeyError::Malformed(format!("this one has {} characters", hex.len())));
        }
        let mut key = [0u8; KEY];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("zz"), 16)
                .map_err(|_| MasterKeyError::Malformed(format!("character {} is not a hex digit", 2 * i + 1)))?;
        }
        Ok(MasterKey::new(key))
    }

    /// A master key from the environment variable `name`, as 64 hex digits.
    pub fn from_env(name: &str) -> Result<Self, MasterKeyError> {
        let value = std::env::var(name).map_err(|_| MasterKeyError::Missing(name.to_owned()))?;
        Self::from_hex(&value)
    }
}

/// Compares every byte, whatever the first difference, so that the time taken says nothing
/// of where two keys differ.
impl PartialEq for MasterKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.bytes().iter().zip(other.0.bytes()).fold(0, |differ, (a, b)| differ | (a ^ b)) == 0
    }
}

impl Eq for MasterKey {}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl KeyWrap for MasterKey {
    fn wrap(&self, key: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
        let nonce = XNonce::try_generate()?;
        let sealed = XChaCha20Poly1305::new(self.0.bytes().into())
            .encrypt(&nonce, key)
            .map_err(|_| "the key could not be wrapped")?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    fn unwrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
        if wrapped.len() < NONCE {
            return Err("the wrapped key is too short".into());
        }
        let (nonce, sealed) = wrapped.split_at(NONCE);
        XChaCha20Poly1305::new(self.0.bytes().into())
            .decrypt(&XNonce::try_from(nonce).expect("the nonce's length was checked"), sealed)
            .map_err(|_| {
                "the key does not unwrap with this master key (is it the one the keys were stored with?)".into()
            })
    }
}

/// What a store holds to make, store and read back subjects' keys.
#[derive(Clone, Default)]
pub(crate) struct Keyring {
    wrap: Option<Arc<dyn KeyWrap>>,
}

impl Keyring {
    pub(crate) fn wrapped_by(wrap: impl KeyWrap) -> Self {
        Keyring { wrap: Some(Arc::new(wrap)) }
    }

    /// A new key, and the bytes to store for it.
    pub(crate) fn new_key(&self) -> Result<(SubjectKey, Vec<u8>), StoreError> {
        let key = SubjectKey::generate()?;
        let stored = match &self.wrap {
            None => key.bytes().to_vec(),
            Some(wrap) => wrap.wrap(key.bytes()).map_err(|error| {
                StoreError::Backend(format!("a new subject key could not be wrapped: {error}").into())
            })?,
        };
        Ok((key, stored))
    }

    /// The key stored as `stored` under id `id`.
    pub(crate) fn key(&self, id: u64, stored: &[u8]) -> Result<SubjectKey, StoreError> {
        let bytes = match &self.wrap {
            None => stored.to_vec(),
            Some(wrap) => wrap.unwrap(stored).map_err(|error| {
                StoreError::corrupt(format!("subject key {id}"), format!("it does not unwrap: {error}"))
            })?,
        };
        let key: [u8; KEY] = bytes.as_slice().try_into().map_err(|_| {
            StoreError::corrupt(
                format!("subject key {id}"),
                format!(
                    "it is {} bytes long, not {KEY}{}",
                    bytes.len(),
                    if self.wrap.is_none() { " (was it stored wrapped, by a store given a master key?)" } else { "" }
                ),
            )
        })?;
        Ok(SubjectKey(key))
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.wrap.is_some() { "Keyring(wrapped)" } else { "Keyring" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_key_reads_back_with_its_master_key_only() {
        let ring = Keyring::wrapped_by(MasterKey::new([3; KEY]));
        let (key, stored) = ring.new_key().unwrap();
        assert_ne!(stored.as_slice(), key.bytes());
        assert_eq!(ring.key(1, &stored).unwrap().bytes(), key.bytes());
        let other = Keyring::wrapped_by(MasterKey::new([4; KEY]));
        let error = other.key(1, &stored).err().unwrap().to_string();
        assert!(error.contains("subject key 1") && error.contains("master key"), "{error}");
        let error = Keyring::default().key(1, &stored).err().unwrap().to_string();
        assert!(error.contains("stored wrapped"), "{error}");
    }

    #[test]
    fn master_keys_are_64_hex_digits() {
        assert!(MasterKey::from_hex(&"ab".repeat(32)).is_ok());
        assert!(MasterKey::from_hex("abc").unwrap_err().to_string().contains("3 characters"));
        let error = MasterKey::from_hex(&format!("zz{}", "ab".repeat(31))).unwrap_err().to_string();
        assert!(error.contains("character 1"), "{error}");
    }
}
