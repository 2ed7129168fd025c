//! The public keys of remote actors, parsed once and kept in memory: what every signed request
//! to our inbox is verified with (draft-cavage and RFC 9421 alike).
//!
//! Why a cache: verifying a signature is the inbox's main cost, and reading the actor back
//! from the database and parsing its PEM on every request cost as much again. An entry is
//! used for [`FRESH_FOR`]; after that the actor is read (and, when the library finds it stale,
//! fetched) again. When a signature does not verify with a cached key, the actor is fetched
//! once more — it may have rotated its key — but at most once per [`REFETCH_EVERY`] per
//! actor, so a forger cannot make us hammer the actor's server.
//!
//! The keys are verified with `ring` (RSASSA-PKCS1-v1_5 with SHA-256), about eight times
//! faster than the `rsa` crate. Keys of 1 024 to 8 192 bits are accepted, as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ring::signature::{RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, UnparsedPublicKey};
use rsa::RsaPublicKey;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use url::Url;

/// How long a cached key is used before the actor is looked at again.
pub const FRESH_FOR: Duration = Duration::from_secs(600);
/// The shortest time between two fetches of one actor because its signature failed.
pub const REFETCH_EVERY: Duration = Duration::from_secs(30);
/// The most actors kept; past that the cache starts over (simple, and bounded).
const CAPACITY: usize = 100_000;

/// An RSA public key ready to verify signatures.
#[derive(Debug, Clone)]
pub struct ActorKey {
    key: Arc<UnparsedPublicKey<Vec<u8>>>,
}

impl ActorKey {
    /// Reads an SPKI PEM (`-----BEGIN PUBLIC KEY-----`), as actors publish `publicKeyPem`.
    pub fn from_pem(pem: &str) -> Result<ActorKey, String> {
        let key =
            RsaPublicKey::from_public_key_pem(pem).map_err(|e| format!("unusable key: {e}"))?;
        // ring reads the PKCS#1 `RSAPublicKey` inside the SPKI.
        let der = key
            .to_pkcs1_der()
            .map_err(|e| format!("unusable key: {e}"))?
            .into_vec();
        Ok(ActorKey {
            key: Arc::new(UnparsedPublicKey::new(
                &RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                der,
            )),
        })
    }

    /// True when `signature` is this key's RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify(message, signature).is_ok()
    }
}

struct Entry {
    key: ActorKey,
    cached_at: Instant,
    refetched_at: Option<Instant>,
}

/// The cache of remote actors' keys, shared by every inbox request (in `AppState`).
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<Url, Entry>>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache")
    }
}

impl KeyCache {
    /// The cached key of `actor`, while it is fresh.
    pub fn get(&self, actor: &Url) -> Option<ActorKey> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(actor)
            .filter(|entry| entry.cached_at.elapsed() < FRESH_FOR)
            .map(|entry| entry.key.clone())
    }

    /// Keeps `key` as `actor`'s.
    pub fn put(&self, actor: &Url, key: ActorKey) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(actor) {
            entries.clear();
        }
        let refetched_at = entries.get(actor).and_then(|e| e.refetched_at);
        entries.insert(
            actor.clone(),
            Entry {
                key,
                cached_at: Instant::now(),
                refetched_at,
            },
        );
    }

    /// Whether `actor` may be fetched again because a signature failed, and if so notes that
    /// it is being fetched now.
    pub fn may_refetch(&self, actor: &Url) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = entries.get_mut(actor) else {
            return true;
        };
        if entry
            .refetched_at
            .is_some_and(|at| at.elapsed() < REFETCH_EVERY)
        {
            return false;
        }
        entry.refetched_at = Some(Instant::now());
        true
    }

    /// Forgets every key (after an admin change that must take effect at once).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::{Pkcs1v15Sign, RsaPrivateKey};
    use sha2::{Digest, Sha256};

    #[test]
    fn a_pem_key_verifies_its_signatures_and_nothing_else() {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let key = ActorKey::from_pem(&pem).unwrap();
        let signature = private
            .sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(b"message"))
            .unwrap();
        assert!(key.verifies(b"message", &signature));
        assert!(!key.verifies(b"massage", &signature));
        assert!(ActorKey::from_pem("not a key").is_err());
    }

    #[test]
    fn a_failed_signature_refetches_an_actor_at_most_once_per_interval() {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let cache = KeyCache::default();
        let actor = Url::parse("https://peer.example/users/carol").unwrap();
        assert!(cache.get(&actor).is_none());
        cache.put(&actor, ActorKey::from_pem(&pem).unwrap());
        assert!(cache.get(&actor).is_some());
        assert!(cache.may_refetch(&actor));
        assert!(!cache.may_refetch(&actor));
        // A key stored after the refetch keeps the refetch's time.
        cache.put(&actor, ActorKey::from_pem(&pem).unwrap());
        assert!(!cache.may_refetch(&actor));
    }
}
