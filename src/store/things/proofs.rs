//! A thing's proven owner: the outcome of a check of its URL, the things a verified domain
//! proves at once, and an unproven thing taken over by whoever proves its URL theirs.

use chrono::{DateTime, Utc};

use crate::domain::proof::{Domain, Proof};
use crate::domain::thing::ThingFields;
use crate::store::{StoreError, Tx, epoch};

/// Records the outcome of a check of `id`'s URL: proven (`Ok`, kept from the first proof on:
/// a proof is never taken back, see docs/security.md) or why not (`Err`, shown to the owner
/// while the thing is unproven). True when this call proved it.
pub async fn set_proof(
    tx: &mut Tx,
    id: i64,
    outcome: Result<Proof, &str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let query = match outcome {
        Ok(proof) => sqlx::query(
            "UPDATE things SET proven_at = $1, proof = $2, proof_problem = NULL
             WHERE id = $3 AND proven_at IS NULL AND owner_id IS NOT NULL",
        )
        .bind(epoch(now))
        .bind(proof.as_str())
        .bind(id),
        Err(problem) => {
            sqlx::query("UPDATE things SET proof_problem = $1 WHERE id = $2 AND proven_at IS NULL")
                .bind(problem)
                .bind(id)
        }
    };
    let changed = query.execute(&mut **tx).await?.rows_affected();
    Ok(outcome.is_ok() && changed == 1)
}

/// Proves every live, unproven local thing whose URL is under `domain`, just verified by
/// `owner_id`, and returns their ids. An unproven thing of another user there was not theirs
/// to register: it becomes `owner_id`'s (a proven thing of another user stays theirs).
pub async fn prove_under(
    tx: &mut Tx,
    owner_id: i64,
    domain: &Domain,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    // A Domain has only letters, digits, dots, hyphens and a port, so the prefixes contain
    // no LIKE wildcard; hosts in stored URLs are lower-case (ThingUrl), as the prefixes are.
    let [https, http] = domain.url_prefixes();
    Ok(sqlx::query_scalar(
        "UPDATE things SET proven_at = $1, proof = $2, proof_problem = NULL, owner_id = $3,
                updated_at = $1
         WHERE owner_id IS NOT NULL AND proven_at IS NULL AND deleted_at IS NULL
           AND (url LIKE $4 OR url LIKE $5)
         RETURNING id",
    )
    .bind(epoch(now))
    .bind(Proof::VerifiedDomain.as_str())
    .bind(owner_id)
    .bind(format!("{https}%"))
    .bind(format!("{http}%"))
    .fetch_all(&mut **tx)
    .await?)
}

/// Gives the unproven thing `id` (registered by somebody else) to `owner_id`, who has just
/// proven its URL theirs, with their fields. False when it is proven already (then it stays
/// whose it is).
pub async fn take_over(
    tx: &mut Tx,
    id: i64,
    owner_id: i64,
    fields: &ThingFields,
    proof: Proof,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let moved = sqlx::query(
        "UPDATE things SET owner_id = $1, title = $2, description = $3, tags = $4, language = $5,
                category = $6, hidden = $7, proven_at = $8, proof = $9, proof_problem = NULL,
                updated_at = $8
         WHERE id = $10 AND owner_id IS NOT NULL AND proven_at IS NULL AND deleted_at IS NULL",
    )
    .bind(owner_id)
    .bind(&fields.title)
    .bind(&fields.description)
    .bind(serde_json::to_string(&fields.tags).expect("strings serialise"))
    .bind(&fields.language)
    .bind(&fields.category)
    .bind(i64::from(fields.hidden))
    .bind(epoch(now))
    .bind(proof.as_str())
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(moved == 1)
}
