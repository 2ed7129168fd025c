//! Password hashing with argon2id (the `argon2` crate's defaults, OWASP's recommendation).
//! CPU-heavy by design: callers run it off the async threads.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};

use super::username::NewPassword;

/// The argon2id hash of a new password, as a PHC string.
pub fn hash(password: &NewPassword) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any password")
        .to_string()
}

/// True when `candidate` is the password behind `stored`. A malformed stored hash verifies
/// nothing rather than failing the request.
pub fn verify(stored: &str, candidate: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(candidate.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// [`verify`] against the user's stored hash, or — for a name nobody has — against a hash of
/// a random password, so that both cost one argon2 verification. Never true without a user.
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

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let stored = hash(&NewPassword::parse("correct horse").unwrap());
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify(&stored, "correct horse"));
        assert!(!verify(&stored, "wrong horse"));
        assert!(!verify("not a hash", "correct horse"));
        assert!(verify_or_dummy(Some(&stored), "correct horse"));
        assert!(!verify_or_dummy(None, "correct horse"));
    }
}
