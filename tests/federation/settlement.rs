//! Settlement between real instances (issue 8, points 2 and 3): after each close the payer
//! sends every peer a signed statement, the payee reconciles it against the Likes it received,
//! credits its creators as pending and answers with a signed claim; amounts agree to the
//! ten-thousandth on both sides, and every forgery, replay and mistake ends in a refusal or a
//! visible dispute, never in money created or lost.

use fedflattr::federation::{activities::undo, actors};
use fedflattr::settle::statements::{self as books, Direction, StatementRow};
use serde_json::{Value, json};

use crate::helpers::{Instance, federate, send_explained, signed_request};

/// alpha and beta sharing one client; alice on alpha and bea on beta have 10.00 each, bob on
/// beta and alan on alpha own a thing each. Also the admin view's and trust controls' tests.
pub struct Pair {
    pub alpha: Instance,
    pub beta: Instance,
    pub alice: String,
    pub bea: String,
    pub bob_thing: i64,
    pub alan_thing: i64,
}

/// Starts the [`Pair`].
pub async fn pair() -> Pair {
    pair_with(|_| {}).await
}

/// Starts the [`Pair`] with a change to both instances' configuration.
pub async fn pair_with(configure: impl Fn(&mut fedflattr::config::Config)) -> Pair {
    let mut alpha = Instance::spawn_with("alpha", &configure).await;
    let mut beta = Instance::spawn_with("beta", &configure).await;
    federate(&mut [&mut alpha, &mut beta]);
    let alice = alpha.sign_up("alice").await;
    alpha.deposit("alice", "10.00").await;
    let alan = alpha.sign_up("alan").await;
    let alan_thing = alpha.create_thing(&alan, "https://alan.example/post").await;
    let bea = beta.sign_up("bea").await;
    beta.deposit("bea", "10.00").await;
    let bob = beta.sign_up("bob").await;
    let bob_thing = beta.create_thing(&bob, "https://bob.example/post").await;
    Pair {
        alpha,
        beta,
        alice,
        bea,
        bob_thing,
        alan_thing,
    }
}

impl Pair {
    /// alice (on alpha) flattrs bob's thing (on beta).
    pub async fn alice_flattrs_bob(&self) {
        let url = self.beta.thing_url(self.bob_thing);
        assert_eq!(self.alpha.flattr_url(&self.alice, &url).await.status(), 201);
    }

    /// bea (on beta) flattrs alan's thing (on alpha).
    pub async fn bea_flattrs_alan(&self) {
        let url = self.alpha.thing_url(self.alan_thing);
        assert_eq!(self.beta.flattr_url(&self.bea, &url).await.status(), 201);
    }

    /// Closes 2026-10 on both sides (their clocks moved past its end).
    pub async fn close_both(&self) {
        for instance in [&self.alpha, &self.beta] {
            instance.set_time("2026-11-01T00:00:10Z");
            instance.close("2026-10").await;
        }
    }

    /// Runs both queues until nothing is left to send.
    pub async fn settle(&self) {
        for _ in 0..3 {
            self.alpha.deliver().await;
            self.beta.deliver().await;
        }
    }

    /// Delivers what is queued, closes 2026-10 on both sides and delivers the statements and
    /// their answers.
    pub async fn close_and_settle(&self) {
        self.settle().await;
        self.close_both().await;
        self.settle().await;
    }

    /// Closes `period` on both sides (their clocks moved to `at`, past its end) and delivers
    /// the statements and their answers.
    pub async fn close_period_and_settle(&self, period: &str, at: &str) {
        self.settle().await;
        for instance in [&self.alpha, &self.beta] {
            instance.set_time(at);
            instance.close(period).await;
        }
        self.settle().await;
    }

    /// The debtor of netted `period` (whichever side it is) records its payment of `amount`
    /// (reference `SEPA-PERIOD`, dated by its clock), the notice is delivered, the creditor's
    /// admin confirms receipt and the receipt is delivered: the period is closed on both
    /// sides. Returns (debtor, creditor).
    pub async fn pay_and_confirm(&self, period: &str, amount: &str) -> (&Instance, &Instance) {
        let on_alpha = crate::netting::position(&self.alpha, &origin(&self.beta), period);
        let (debtor, creditor) = match on_alpha["debtor"].as_str() {
            Some("us") => (&self.alpha, &self.beta),
            Some("peer") => (&self.beta, &self.alpha),
            _ => panic!("nobody pays {period}: {on_alpha}"),
        };
        let day = |instance: &Instance| instance.state.clock.now().format("%Y-%m-%d").to_string();
        let recorded = crate::admin_peers::admin_json(
            debtor,
            &[
                "payment",
                "record",
                &origin(creditor),
                period,
                amount,
                "--date",
                &day(debtor),
                "--reference",
                &format!("SEPA-{period}"),
            ],
        );
        assert_eq!(recorded["state"], "paid", "{recorded}");
        self.settle().await;
        crate::admin_peers::admin_json(
            creditor,
            &[
                "payment",
                "confirm",
                &origin(debtor),
                period,
                "--date",
                &day(creditor),
            ],
        );
        self.settle().await;
        for (instance, peer) in [(debtor, creditor), (creditor, debtor)] {
            let closed = crate::netting::position(instance, &origin(peer), period);
            assert_eq!(closed["state"], "closed", "{closed}");
        }
        (debtor, creditor)
    }
}

/// An instance's origin as the books spell it.
pub fn origin(instance: &Instance) -> String {
    format!("http://{}:{}", instance.host, instance.port)
}

/// The statements of `direction` on `instance`, newest first.
pub async fn statements_of(instance: &Instance, direction: Direction) -> Vec<StatementRow> {
    books::list(instance.state.store.pool(), direction)
        .await
        .unwrap()
}

async fn outcomes(instance: &Instance, statement: &StatementRow) -> Vec<Option<String>> {
    books::lines(instance.state.store.pool(), statement.id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.outcome)
        .collect()
}

#[tokio::test]
async fn flattrs_both_ways_are_stated_claimed_and_mirrored_to_the_ten_thousandth() {
    let p = pair().await;
    p.alice_flattrs_bob().await;
    p.bea_flattrs_alan().await;
    p.settle().await;
    p.close_both().await;
    p.settle().await;

    let (a, b) = (origin(&p.alpha), origin(&p.beta));
    // alice's 2.00, less the 10 % fee, is owed to bob; bea's likewise to alan. Each side's
    // claim accepted 1.80 of the other's statement; the two directions net to nothing, so
    // both books of October close at once (docs/settlement.md, section 5): what was payable
    // and receivable is settled against each other, and the creators' pending earnings are
    // withdrawable.
    for (instance, peer) in [(&p.alpha, &b), (&p.beta, &a)] {
        let settled = instance
            .ledger_lines()
            .await
            .into_iter()
            .filter(|(reference, _, _)| reference.starts_with("settle:"))
            .map(|(_, account, amount)| (account, amount))
            .collect::<Vec<_>>();
        assert_eq!(
            settled,
            [
                (format!("payable:{peer}"), -18_000),
                (format!("receivable:{peer}"), 18_000)
            ]
        );
        assert_eq!(instance.payable(peer).await, 0);
        assert_eq!(instance.balance(&format!("receivable:{peer}")).await, 0);
    }
    let bob = p.beta.user_id("bob").await;
    let alan = p.alpha.user_id("alan").await;
    assert_eq!(p.beta.balance(&format!("pending:{bob}")).await, 0);
    assert_eq!(p.alpha.balance(&format!("pending:{alan}")).await, 0);
    assert_eq!(p.beta.earnings("bob").await, 18_000);
    assert_eq!(p.alpha.earnings("alan").await, 18_000);

    for (payer, payee) in [(&p.alpha, &p.beta), (&p.beta, &p.alpha)] {
        let sent = statements_of(payer, Direction::Sent).await;
        assert_eq!(sent.len(), 1, "one statement per peer and period");
        assert_eq!((sent[0].state.as_str(), sent[0].total), ("claimed", 18_000));
        let received = statements_of(payee, Direction::Received).await;
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].ap_id, sent[0].ap_id);
        assert_eq!(received[0].digest, sent[0].digest);
        assert_eq!(
            received[0].claim, sent[0].claim,
            "the claim as sent is the claim stored"
        );
        assert_eq!(
            outcomes(payer, &sent[0]).await,
            [Some("accepted".to_owned())]
        );
        payer.assert_books_balance().await;
    }
    assert_eq!(
        statements_of(&p.alpha, Direction::Sent).await[0].ap_id,
        p.alpha.url(&format!(
            "/settlement/statements/beta.test:{}/2026-10/v1",
            p.beta.port
        ))
    );
}

#[tokio::test]
async fn closing_and_settling_again_makes_no_second_statement_and_a_replay_changes_nothing() {
    let p = pair().await;
    p.alice_flattrs_bob().await;
    p.settle().await;
    p.close_both().await;
    p.settle().await;
    let before = p.beta.ledger_lines().await;
    let alpha_before = p.alpha.ledger_lines().await;

    p.alpha.close("2026-10").await;
    p.settle().await;
    assert_eq!(statements_of(&p.alpha, Direction::Sent).await.len(), 1);

    // The same signed statement delivered again by alpha: acknowledged, the same claim is sent
    // again, and nothing else changes.
    let sent = statements_of(&p.alpha, Direction::Sent).await.remove(0);
    let document: Value = serde_json::from_str(&sent.document).unwrap();
    let (status, code, reason) = send_as_alpha(&p, &document).await;
    assert_eq!(status, 202, "{code}: {reason}");
    assert_eq!(p.beta.ledger_lines().await, before);
    assert_eq!(statements_of(&p.beta, Direction::Received).await.len(), 1);
    let resent = p.beta.deliver().await;
    assert_eq!(resent.delivered, 1, "the claim again: {resent:?}");
    p.alpha.deliver().await;
    assert_eq!(p.alpha.ledger_lines().await, alpha_before);
    assert_eq!(
        statements_of(&p.alpha, Direction::Sent).await[0].claim,
        sent.claim
    );

    // The same id with other content is refused, and changes nothing either.
    let mut changed = document.clone();
    changed["object"]["flattr:lines"][0]["flattr:value"] = json!("1.90");
    changed["object"]["flattr:total"] = json!("1.90");
    let key = fedflattr::federation::instance_keys::signing_key(
        &p.alpha.state.store,
        &p.alpha.state.settings.base_url,
        p.alpha.state.clock.now(),
    )
    .await
    .unwrap();
    let resigned =
        fedflattr::federation::proof::sign(&changed, &key, p.alpha.state.clock.now()).unwrap();
    let (status, code, _) = send_as_alpha(&p, &resigned).await;
    assert_eq!((status, code.as_str()), (409, "statement_conflict"));
    assert_eq!(p.beta.ledger_lines().await, before);
    p.beta.assert_books_balance().await;
    p.alpha.assert_books_balance().await;
}

/// Posts `document` to beta's inbox signed (HTTP) by alpha's instance actor.
pub async fn send_as_alpha(p: &Pair, document: &Value) -> (u16, String, String) {
    let key = actors::instance_keys(&p.alpha.state.store).await.unwrap();
    let request = signed_request(
        &p.alpha.client,
        &p.beta.url("/inbox"),
        &format!("{}#main-key", p.alpha.url("/actor")),
        &key.private_key,
        document,
        None,
    )
    .await;
    send_explained(&p.alpha.client, request).await
}

#[tokio::test]
async fn a_like_the_payee_never_received_is_fetched_and_its_line_accepted() {
    let p = pair().await;
    p.alice_flattrs_bob().await;
    // The Like is lost on the way.
    sqlx::query("DELETE FROM deliveries")
        .execute(p.alpha.state.store.pool())
        .await
        .unwrap();
    assert_eq!(p.beta.count("SELECT COUNT(*) FROM received_likes").await, 0);
    p.close_both().await;
    p.settle().await;

    assert_eq!(p.beta.count("SELECT COUNT(*) FROM received_likes").await, 1);
    let bob = p.beta.user_id("bob").await;
    assert_eq!(p.beta.balance(&format!("pending:{bob}")).await, 18_000);
    let sent = statements_of(&p.alpha, Direction::Sent).await.remove(0);
    assert_eq!(
        outcomes(&p.alpha, &sent).await,
        [Some("accepted".to_owned())]
    );
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn a_like_undone_before_the_close_is_disputed_and_moved_out_of_payable() {
    let p = pair().await;
    p.alice_flattrs_bob().await;
    p.settle().await;
    // beta receives an Undo of alice's Like that alpha never sent (alpha still charges it).
    let public_id: String = sqlx::query_scalar("SELECT public_id FROM flattrs")
        .fetch_one(p.alpha.state.store.pool())
        .await
        .unwrap();
    let bob_actor = p.beta.url("/users/bob");
    let undo = undo::outgoing(&p.alpha.state, "alice", &public_id, &bob_actor);
    let request = signed_request(
        &p.alpha.client,
        &p.beta.url("/inbox"),
        &p.alpha.key_id("alice"),
        &p.alpha.private_key("alice").await,
        &undo,
        None,
    )
    .await;
    let (status, code, reason) = send_explained(&p.alpha.client, request).await;
    assert_eq!(status, 202, "{code}: {reason}");
    p.close_both().await;
    p.settle().await;

    let b = origin(&p.beta);
    let sent = statements_of(&p.alpha, Direction::Sent).await.remove(0);
    assert_eq!(sent.state, "claimed");
    assert_eq!(
        outcomes(&p.alpha, &sent).await,
        [Some("like_undone".to_owned())]
    );
    assert_eq!(p.alpha.payable(&b).await, 0);
    assert_eq!(p.alpha.balance(&format!("disputed:{b}")).await, 18_000);
    let bob = p.beta.user_id("bob").await;
    assert_eq!(p.beta.balance(&format!("pending:{bob}")).await, 0);
    assert_eq!(
        p.beta
            .balance(&format!("receivable:{}", origin(&p.alpha)))
            .await,
        0
    );
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn a_peer_we_only_received_flattrs_from_gets_an_empty_statement() {
    let p = pair().await;
    p.bea_flattrs_alan().await;
    p.settle().await;
    p.close_both().await;
    p.settle().await;
    let sent = statements_of(&p.alpha, Direction::Sent).await;
    assert_eq!(sent.len(), 1, "alpha owes beta nothing, and says so");
    assert_eq!((sent[0].total, sent[0].line_count), (0, 0));
    assert_eq!(sent[0].state, "claimed");
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn the_audit_flags_pending_earnings_that_no_accepted_line_explains() {
    let p = pair().await;
    p.alice_flattrs_bob().await;
    p.settle().await;
    p.close_both().await;
    p.settle().await;
    p.beta.assert_books_balance().await;

    // A balanced posting, but of money no statement line accepted.
    let bob = p.beta.user_id("bob").await;
    let mut tx = p.beta.state.store.begin().await.unwrap();
    fedflattr::ledger::post(
        &mut tx,
        "claim",
        "stray",
        "money from nowhere",
        &[
            (
                fedflattr::ledger::Account::Pending(bob),
                fedflattr::domain::money::Money::from_minor(1),
            ),
            (
                fedflattr::ledger::Account::Receivable(origin(&p.alpha)),
                fedflattr::domain::money::Money::from_minor(-1),
            ),
        ],
        p.beta.state.clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let report = p.beta.audit().await;
    assert!(!report.ok);
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name)
        .collect();
    assert_eq!(
        failed,
        [
            "what peers owe us is what we accepted of their statements",
            "pending earnings are the accepted lines of their creators"
        ],
        "{report:#?}"
    );
}
