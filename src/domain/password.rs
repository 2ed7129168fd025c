//! Password hashing with argon2id (the `argon2` crate's defaults, OWASP's recommendation).
//! CPU-heavy by design: callers run it off the async threads (see `limits::Limits::heavy`).
//!
//! Each thread hashes in one argon2 memory block (19 MiB with the default parameters) that it
//! allocates on its first hash and keeps for every later one, instead of the crate's fresh
//! allocation per hash. Why: glibc returns a freed 19 MiB buffer to the system only while its
//! mmap threshold is below that size, and the first such free raises the threshold above it;
//! from then on every hash's buffer came from the heap and stayed resident when freed (a
//! 200-connection log-in flood held 151 MB with two hashing threads). With one block per thread
//! the memory is `hash_concurrency` × 19 MiB whatever the allocator does. The stored format is
//! unchanged: the same PHC string `Argon2::default().hash_password` writes, verified by the
//! crate's own `PasswordVerifier` logic (constant-time comparison of the output).

use std::cell::RefCell;

use argon2::password_hash::{
    self, Decimal, Ident, Output, ParamsString, PasswordHash, PasswordHasher, PasswordVerifier,
    Salt, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::username::NewPassword;

thread_local! {
    /// This thread's argon2 memory: empty until its first hash, then as large as the largest
    /// parameters it hashed with (the defaults, unless an older stored hash asks for more).
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2 with the given algorithm, version and parameters, hashing in the thread's block.
struct ReusedMemory {
    algorithm: Algorithm,
    version: Version,
    params: Params,
}

impl Default for ReusedMemory {
    /// The parameters of `Argon2::default()`, which every stored hash was made with.
    fn default() -> Self {
        ReusedMemory {
            algorithm: Algorithm::default(),
            version: Version::default(),
            params: Params::default(),
        }
    }
}

impl ReusedMemory {
    /// argon2 of `password` and `salt` into `out`, in this thread's memory block.
    fn hash_into(&self, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
        let argon2 = Argon2::new(self.algorithm, self.version, self.params.clone());
        let needed = self.params.block_count();
        MEMORY.with_borrow_mut(|memory| {
            if memory.len() < needed {
                // Grows once per thread (the first hash); the blocks need no clearing between
                // hashes, since argon2's first pass writes every block before it reads it.
                *memory = vec![Block::default(); needed];
            }
            argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..needed])
        })
    }
}

/// What `Argon2`'s own `PasswordHasher` does, with [`ReusedMemory::hash_into`] in place of its
/// allocating `hash_password_into`; `PasswordVerifier` comes with it.
impl PasswordHasher for ReusedMemory {
    type Params = Params;

    fn hash_password<'a>(
        &self,
        password: &[u8],
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        let salt = salt.into();
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let output_len = self
            .params
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = Output::init_with(output_len, |out| {
            Ok(self.hash_into(password, salt_bytes, out)?)
        })?;
        Ok(PasswordHash {
            algorithm: self.algorithm.ident(),
            version: Some(self.version.into()),
            params: ParamsString::try_from(&self.params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        ReusedMemory {
            algorithm: algorithm
                .map(Algorithm::try_from)
                .transpose()?
                .unwrap_or_default(),
            version: version
                .map(Version::try_from)
                .transpose()?
                .unwrap_or_default(),
            params,
        }
        .hash_password(password, salt)
    }
}

/// The argon2id hash of a new password, as a PHC string.
pub fn hash(password: &NewPassword) -> String {
    let salt = SaltString::generate(&mut OsRng);
    ReusedMemory::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any password")
        .to_string()
}

/// True when `candidate` is the password behind `stored`. A malformed stored hash verifies
/// nothing rather than failing the request.
pub fn verify(stored: &str, candidate: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            ReusedMemory::default()
                .verify_password(candidate.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// [`verify`] against the user's stored hash, or — for a name nobody has — against a hash of
/// a random password, so that both cost one argon2 verification (in the same thread's block).
/// Never true without a user.
pub fn verify_or_dummy(stored: Option<&str>, candidate: &str) -> bool {
    static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut bytes = [0u8; 24];
        argon2::password_hash::rand_core::RngCore::fill_bytes(&mut OsRng, &mut bytes);
        let password = bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        hash(&NewPassword::parse(&password).expect("48 hex digits are a valid password"))
    });
    match stored {
        Some(stored) => verify(stored, candidate),
        None => {
            verify(&DUMMY, candidate);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where this thread's argon2 memory lives, and how many blocks it has.
    fn memory() -> (*const Block, usize) {
        MEMORY.with_borrow(|memory| (memory.as_ptr(), memory.len()))
    }

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let stored = hash(&NewPassword::parse("correct horse").unwrap());
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&stored, "correct horse"));
        assert!(!verify(&stored, "wrong horse"));
        assert!(!verify("not a hash", "correct horse"));
        assert!(verify_or_dummy(Some(&stored), "correct horse"));
        assert!(!verify_or_dummy(None, "correct horse"));
    }

    #[test]
    fn hashes_stored_by_the_allocating_hasher_verify_here_and_ours_verify_there() {
        // The hash every existing user has: what this module stored before it reused memory.
        let salt = SaltString::generate(&mut OsRng);
        let old = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(verify(&old, "correct horse"));
        assert!(!verify(&old, "wrong horse"));

        // Same password and salt: the very same PHC string, byte for byte.
        let ours = ReusedMemory::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert_eq!(ours, old);

        let new = hash(&NewPassword::parse("correct horse").unwrap());
        let parsed = PasswordHash::new(&new).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong horse", &parsed)
                .is_err()
        );
    }

    #[test]
    fn a_hash_with_other_parameters_verifies_in_memory_grown_for_it() {
        // A stored hash made with more memory than the defaults (an older or a tuned instance).
        let params = Params::new(2 * Params::DEFAULT_M_COST, 1, 2, None).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        let stored = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(verify(&stored, "correct horse"));
        assert!(!verify(&stored, "wrong horse"));
        // And the default hash still verifies in the larger block afterwards.
        let default = hash(&NewPassword::parse("correct horse").unwrap());
        assert!(verify(&default, "correct horse"));
    }

    #[test]
    fn every_hash_on_a_thread_uses_the_same_memory() {
        // A fresh thread, so that other tests on this one do not matter.
        std::thread::spawn(|| {
            assert_eq!(memory().1, 0, "no memory before the first hash");
            let stored = hash(&NewPassword::parse("correct horse").unwrap());
            let first = memory();
            assert_eq!(first.1, Params::default().block_count());
            assert!(!verify(&stored, "wrong horse"));
            assert!(verify(&stored, "correct horse"));
            assert!(!verify_or_dummy(None, "correct horse"));
            hash(&NewPassword::parse("battery staple").unwrap());
            assert_eq!(memory(), first, "later hashes allocate no new block");
        })
        .join()
        .unwrap();
    }
}
