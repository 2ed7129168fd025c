//! Settlement failures between real instances that must end in agreement or a visible
//! refusal, never in money created or lost (issue 8, tests): a crash (a failure injected by a
//! database trigger) between crediting a statement's lines and queuing the claim, retried; a
//! statement in another currency; a line for a third instance's thing.

use fedflattr::settle::statements::Direction;

use crate::helpers::Instance;
use crate::netting::position;
use crate::settlement::{Pair, origin, pair, statements_of};

/// Makes `instance`'s database refuse to queue any `Accept` (our claims): the claim's
/// transaction — which credits the creators first — fails at its last step, as a crash there
/// would.
async fn fail_claims(instance: &Instance) {
    let sql = if instance.database_url.starts_with("postgres") {
        "CREATE FUNCTION fail_claims() RETURNS trigger AS $$
         BEGIN
           IF NEW.body LIKE '%\"type\":\"Accept\"%' THEN RAISE EXCEPTION 'injected failure'; END IF;
           RETURN NEW;
         END $$ LANGUAGE plpgsql;
         CREATE TRIGGER fail_claims BEFORE INSERT ON deliveries
           FOR EACH ROW EXECUTE FUNCTION fail_claims();"
    } else {
        "CREATE TRIGGER fail_claims BEFORE INSERT ON deliveries
         WHEN NEW.body LIKE '%\"type\":\"Accept\"%'
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
    };
    sqlx::raw_sql(sql)
        .execute(instance.state.store.pool())
        .await
        .unwrap();
}

async fn recover(instance: &Instance) {
    let sql = if instance.database_url.starts_with("postgres") {
        "DROP TRIGGER fail_claims ON deliveries"
    } else {
        "DROP TRIGGER fail_claims"
    };
    sqlx::raw_sql(sql)
        .execute(instance.state.store.pool())
        .await
        .unwrap();
}

async fn claims_posted(p: &Pair) -> i64 {
    p.beta
        .count("SELECT COUNT(*) FROM ledger_transactions WHERE reference LIKE 'claim:%'")
        .await
}

#[tokio::test]
async fn a_crash_between_crediting_and_answering_leaves_nothing_and_the_retry_ends_in_the_same_books()
 {
    let p = pair().await;
    let (a, b) = (origin(&p.alpha), origin(&p.beta));
    p.alice_flattrs_bob().await;
    p.settle().await;
    p.close_both().await;
    fail_claims(&p.beta).await;
    let report = p.alpha.deliver().await;
    assert_eq!(report.retrying, 1, "the payee failed: {report:?}");
    // Nothing of the claim stayed: no statement, no credit, books balanced.
    assert!(statements_of(&p.beta, Direction::Received).await.is_empty());
    let bob = p.beta.user_id("bob").await;
    assert_eq!(p.beta.balance(&format!("pending:{bob}")).await, 0);
    assert_eq!(claims_posted(&p).await, 0);
    p.beta.assert_books_balance().await;

    // Back up; alpha's queue retries after its backoff and everything is claimed once.
    recover(&p.beta).await;
    for instance in [&p.alpha, &p.beta] {
        instance.set_time("2026-11-01T00:05:00Z");
    }
    p.settle().await;
    assert_eq!(p.beta.balance(&format!("pending:{bob}")).await, 18_000);
    assert_eq!(p.beta.balance(&format!("receivable:{a}")).await, -18_000);
    assert_eq!(claims_posted(&p).await, 1);
    let sent = statements_of(&p.alpha, Direction::Sent).await.remove(0);
    assert_eq!(sent.state, "claimed");
    assert_eq!(position(&p.alpha, &b, "2026-10")["net"], "1.80");
    assert_eq!(position(&p.beta, &a, "2026-10")["net"], "1.80");
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn a_statement_in_another_currency_is_rejected_whole_and_never_netted() {
    let mut p = pair().await;
    let (a, b) = (origin(&p.alpha), origin(&p.beta));
    p.alice_flattrs_bob().await;
    p.settle().await;
    // beta's admin moves its books to another currency before alpha states October.
    p.beta.restart_with(|c| c.currency = "USD".to_owned()).await;
    p.close_and_settle().await;

    let sent = statements_of(&p.alpha, Direction::Sent).await.remove(0);
    assert_eq!(
        (sent.state.as_str(), sent.reason.as_deref()),
        ("rejected", Some("currency_mismatch"))
    );
    let received = statements_of(&p.beta, Direction::Received).await.remove(0);
    assert_eq!(received.state, "rejected");
    // alpha still owes what its close gave bob's thing; beta credited nothing; no netting.
    assert_eq!(p.alpha.payable(&b).await, 18_000);
    let bob = p.beta.user_id("bob").await;
    assert_eq!(p.beta.balance(&format!("pending:{bob}")).await, 0);
    assert_eq!(position(&p.alpha, &b, "2026-10")["state"], "stated");
    assert_eq!(
        position(&p.beta, &a, "2026-10")["net"],
        serde_json::Value::Null
    );
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn a_line_for_another_instances_thing_is_disputed_and_stays_with_the_payer() {
    let p = pair().await;
    let (a, b) = (origin(&p.alpha), origin(&p.beta));
    p.alice_flattrs_bob().await;
    p.settle().await;
    // alpha's statement names a thing of a third instance for alice's flattr (a bug, or a
    // payer that tries its luck): beta has no such thing.
    sqlx::query("UPDATE things SET ap_id = 'http://gamma.test:1/things/1' WHERE owner_id IS NULL")
        .execute(p.alpha.state.store.pool())
        .await
        .unwrap();
    p.close_and_settle().await;

    let sent = statements_of(&p.alpha, Direction::Sent).await.remove(0);
    let lines = fedflattr::settle::statements::lines(p.alpha.state.store.pool(), sent.id)
        .await
        .unwrap();
    assert_eq!(lines[0].thing, "http://gamma.test:1/things/1");
    assert_eq!(lines[0].outcome.as_deref(), Some("not_our_thing"));
    assert_eq!(p.alpha.payable(&b).await, 0);
    assert_eq!(p.alpha.balance(&format!("disputed:{b}")).await, 18_000);
    let bob = p.beta.user_id("bob").await;
    assert_eq!(p.beta.balance(&format!("pending:{bob}")).await, 0);
    assert_eq!(p.beta.balance(&format!("receivable:{a}")).await, 0);
    // Nothing agreed either way: the period nets to nothing and closes.
    assert_eq!(position(&p.alpha, &b, "2026-10")["net"], "0.00");
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}
