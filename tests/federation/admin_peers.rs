//! The admin's view of settlement (issue 8.8) between real instances: after a close on both
//! sides, `fedflattr admin peers` and `GET /api/v1/admin/peers` show on each side what the
//! other shows mirrored, to the ten-thousandth; statements with their disputes; admins only.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{Instance, error_of};
use crate::settlement::{origin, pair};

/// Signs up `name` on `instance` and makes them an instance admin (what
/// `fedflattr admin user create --admin` does); returns their token.
pub async fn admin_token(instance: &Instance, name: &str) -> String {
    let token = instance.sign_up(name).await;
    sqlx::query("UPDATE users SET is_admin = 1 WHERE username = $1")
        .bind(name)
        .execute(instance.state.store.pool())
        .await
        .unwrap();
    token
}

/// `fedflattr admin --json ARGS` run as the real binary on `instance`'s database.
pub fn admin_json(instance: &Instance, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_fedflattr"));
    command
        .arg("admin")
        .arg("--json")
        .args(args)
        .current_dir(dir.path());
    for (name, _) in std::env::vars() {
        if name.starts_with("FEDFLATTR_") {
            command.env_remove(name);
        }
    }
    command.env("FEDFLATTR_DATABASE_URL", &instance.database_url);
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "fedflattr admin {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn peer<'a>(peers: &'a Value, origin: &str) -> &'a Value {
    peers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["peer"] == origin)
        .unwrap_or_else(|| panic!("{origin} is not in {peers}"))
}

#[tokio::test]
async fn after_a_close_on_both_sides_each_admin_sees_the_other_s_position_mirrored() {
    let p = pair().await;
    let alan = p.alpha.sign_up("alan2").await;
    let carl_thing = p
        .alpha
        .create_thing(&alan, "https://carl.example/post")
        .await;
    let bob_url = p.beta.thing_url(p.bob_thing);
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
    p.alpha.flattred(&p.alice, p.alan_thing).await;
    p.alpha.flattred(&p.alice, carl_thing).await;
    let alan_url = p.alpha.thing_url(p.alan_thing);
    assert_eq!(p.beta.flattr_url(&p.bea, &alan_url).await.status(), 201);
    p.close_and_settle().await;

    let (a, b) = (origin(&p.alpha), origin(&p.beta));
    let on_alpha = admin_json(&p.alpha, &["peers"]);
    let on_beta = admin_json(&p.beta, &["peers"]);
    let (beta_seen, alpha_seen) = (peer(&on_alpha, &b), peer(&on_beta, &a));

    // alpha owes beta a third of alice's 1.80 (after the 10 % fee); beta owes alpha all of
    // bea's 1.80. Each side's payable is the other's receivable, to the ten-thousandth.
    assert_eq!(beta_seen["payable"], "0.60");
    assert_eq!(beta_seen["receivable"], "1.80");
    assert_eq!(alpha_seen["payable"], beta_seen["receivable"]);
    assert_eq!(alpha_seen["receivable"], beta_seen["payable"]);
    assert_eq!(beta_seen["disputed"], "0.00");
    assert_eq!(p.alpha.payable(&b).await, 6_000);
    let (q_alpha, q_beta) = (&beta_seen["periods"][0], &alpha_seen["periods"][0]);
    assert_eq!(q_alpha["period"], "2026-10");
    assert_eq!(q_beta["period"], "2026-10");
    assert_eq!(q_alpha["payable"], q_beta["receivable"]);
    assert_eq!(q_alpha["receivable"], q_beta["payable"]);
    for q in [q_alpha, q_beta] {
        assert_eq!(q["sent"], "claimed", "{q}");
        assert_eq!(q["received"], "claimed", "{q}");
    }

    // The API says what the command line says.
    let admin = admin_token(&p.alpha, "root").await;
    let response = p.alpha.get("/api/v1/admin/peers", Some(&admin)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), on_alpha);

    // Statements, filtered by peer and period, each direction with its totals.
    let statements = admin_json(
        &p.alpha,
        &["statements", "--peer", &b, "--period", "2026-10"],
    );
    let statements = statements.as_array().unwrap();
    assert_eq!(statements.len(), 2, "{statements:?}");
    let sent = statements
        .iter()
        .find(|s| s["direction"] == "sent")
        .unwrap();
    assert_eq!(
        (sent["total"].as_str(), sent["accepted"].as_str()),
        (Some("0.60"), Some("0.60"))
    );
    // Every line is listed with its value and outcome, and they add up to the total.
    let lines = sent["lines"].as_array().unwrap();
    assert_eq!(
        Some(lines.len() as u64),
        sent["line_count"].as_u64(),
        "{sent}"
    );
    let sum: rust_decimal::Decimal = lines
        .iter()
        .map(|l| {
            assert_eq!(l["outcome"], "accepted", "{l}");
            assert!(
                l["like"].as_str().unwrap().starts_with(&p.alpha.base),
                "{l}"
            );
            l["amount"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(sum.to_string(), "0.60");
    let received = statements
        .iter()
        .find(|s| s["direction"] == "received")
        .unwrap();
    assert_eq!(received["accepted"], "1.80");
    let api = p
        .alpha
        .get_json(
            &format!("/api/v1/admin/statements?peer={b}&period=2026-10"),
            Some(&admin),
        )
        .await;
    assert_eq!(api.as_array().unwrap(), statements);
    assert_eq!(
        admin_json(&p.alpha, &["statements", "--period", "2026-09"]),
        Value::Array(vec![])
    );
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn a_disputed_line_is_listed_with_its_reason_on_both_sides() {
    let p = pair().await;
    let bob_url = p.beta.thing_url(p.bob_thing);
    let response = p.alpha.flattr_url(&p.alice, &bob_url).await;
    assert_eq!(response.status(), 201);
    p.settle().await;
    // beta holds the Like as undone while alpha still states it: a dispute (`like_undone`),
    // made here by hand, as a lost-and-resent Undo would.
    sqlx::query("UPDATE received_likes SET undone_at = 1")
        .execute(p.beta.state.store.pool())
        .await
        .unwrap();
    p.close_and_settle().await;

    let b = origin(&p.beta);
    let a = origin(&p.alpha);
    let beta_seen = peer(&admin_json(&p.alpha, &["peers"]), &b).clone();
    assert_eq!(beta_seen["payable"], "0.00");
    assert_eq!(beta_seen["disputed"], "1.80");
    assert_eq!(beta_seen["periods"][0]["disputed"], "1.80");
    assert_eq!(beta_seen["periods"][0]["payable"], "0.00");
    let alpha_seen = peer(&admin_json(&p.beta, &["peers"]), &a).clone();
    assert_eq!(alpha_seen["receivable"], "0.00");
    assert_eq!(alpha_seen["periods"][0]["disputed_by_us"], "1.80");
    assert_eq!(alpha_seen["periods"][0]["receivable"], "0.00");
    for (instance, peer, direction) in [(&p.alpha, &b, "sent"), (&p.beta, &a, "received")] {
        let statements = admin_json(instance, &["statements", "--peer", peer]);
        let statement = statements
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["direction"] == direction)
            .unwrap();
        assert_eq!(statement["disputed"], "1.80");
        let disputes = &statement["disputes"];
        assert_eq!(disputes[0]["reason"], "like_undone", "{statements}");
        assert_eq!(disputes[0]["amount"], "1.80");
    }
}

#[tokio::test]
async fn only_an_admin_may_see_the_admin_routes() {
    let p = pair().await;
    for path in ["/api/v1/admin/peers", "/api/v1/admin/statements"] {
        let (status, code, _) = error_of(p.alpha.get(path, Some(&p.alice)).await).await;
        assert_eq!((status, code.as_str()), (403, "forbidden"), "{path}");
        let (status, code, _) = error_of(p.alpha.get(path, None).await).await;
        assert_eq!((status, code.as_str()), (401, "unauthorized"), "{path}");
    }
    let admin = admin_token(&p.alpha, "root").await;
    assert_eq!(
        p.alpha.get_json("/api/v1/admin/peers", Some(&admin)).await,
        Value::Array(vec![])
    );
    let (status, code, _) = error_of(
        p.alpha
            .get("/api/v1/admin/statements?peer=not-an-origin", Some(&admin))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (422, "invalid_parameters"));
}
