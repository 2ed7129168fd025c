//! The `fedflattr admin` commands, run as the real binary against a test instance's database.

use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn fedflattr(app: &TestApp, args: &[&str]) -> Output {
    let mut command = in_empty_directory(args);
    command.env("FEDFLATTR_DATABASE_URL", &app.database_url);
    command.output().expect("run fedflattr")
}

/// The binary run in a fresh directory (so no ./fedflattr.toml is read) with no setting from
/// the environment; the directory lives as long as the process needs it (the test's).
fn in_empty_directory(args: &[&str]) -> Command {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut command = Command::new(env!("CARGO_BIN_EXE_fedflattr"));
    command.args(args).current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("FEDFLATTR_") {
            command.env_remove(name);
        }
    }
    command
}

fn stderr_of(output: &Output) -> String {
    assert!(!output.status.success(), "the command should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

#[tokio::test]
async fn an_admin_creates_users_deposits_closes_audits_and_pays_out_from_the_command_line() {
    let app = spawn_app().await;
    let created = json_of(&fedflattr(
        &app,
        &["admin", "--json", "user", "create", "Alice"],
    ));
    assert_eq!(created["username"], "alice");
    let password = created["password"]
        .as_str()
        .expect("a generated password is printed");
    let login = app
        .post(
            "/api/v1/tokens",
            None,
            &json!({"username": "alice", "password": password}),
        )
        .await;
    assert_eq!(login.status(), 201);
    let alice = login.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    json_of(&fedflattr(
        &app,
        &[
            "admin",
            "user",
            "create",
            "bob",
            "--password",
            "correct horse",
            "--json",
        ],
    ));
    let bob = app
        .post(
            "/api/v1/tokens",
            None,
            &json!({"username": "bob", "password": "correct horse"}),
        )
        .await;
    let bob = bob.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let deposit = json_of(&fedflattr(
        &app,
        &[
            "admin",
            "deposit",
            "alice",
            "100.00",
            "--reference",
            "bank-1",
            "--json",
        ],
    ));
    assert_eq!(deposit["wallet"], "100.00");
    let repeated = json_of(&fedflattr(
        &app,
        &[
            "admin",
            "deposit",
            "alice",
            "100.00",
            "--reference",
            "bank-1",
            "--json",
        ],
    ));
    assert_eq!(repeated["duplicate"], true);
    assert_eq!(
        repeated["wallet"], "100.00",
        "the same bank reference counts once"
    );

    app.patch("/api/v1/user", &alice, &json!({"budget": "20.00"}))
        .await;
    let thing = app.create_thing(&bob, "https://bob.example/1", "One").await;
    assert_eq!(app.flattr(&alice, thing).await.status(), 201);

    // The test instance's clock says 2026-10; the binary's real clock is past it.
    let closed = json_of(&fedflattr(&app, &["admin", "close", "2026-10", "--json"]));
    assert_eq!(closed["spent"], "20.00");
    assert_eq!(closed["paid_to_creators"], "18.00");
    let again = json_of(&fedflattr(&app, &["admin", "close", "2026-10", "--json"]));
    assert_eq!(again["already_closed"], true);

    let audit = fedflattr(&app, &["admin", "audit"]);
    assert!(audit.status.success());
    assert!(String::from_utf8_lossy(&audit.stdout).contains("the books balance"));

    app.set_time("2026-11-02T00:00:00Z");
    assert_eq!(
        app.post("/api/v1/user/payouts", Some(&bob), &json!({}))
            .await
            .status(),
        201
    );
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("payouts.csv");
    let export = fedflattr(
        &app,
        &[
            "admin",
            "payouts",
            "export",
            "--output",
            csv_path.to_str().unwrap(),
        ],
    );
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "payout_id,username,amount,currency,requested_at,batch"
    );
    assert_eq!(lines.len(), 2);
    assert!(lines[1].contains(",bob,18.00,EUR,"), "{}", lines[1]);

    let confirmed = json_of(&fedflattr(&app, &["admin", "payouts", "confirm", "--json"]));
    assert_eq!(confirmed["total"], "18.00");
    let audit = json_of(&fedflattr(&app, &["admin", "audit", "--json"]));
    assert_eq!(audit["ok"], true);
}

#[tokio::test]
async fn the_audit_fails_and_names_the_account_when_a_balance_disagrees_with_its_postings() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    app.deposit("alice", "10.00").await;
    let alice = app.user_id("alice").await;
    sqlx::query("UPDATE accounts SET balance = balance + 1 WHERE name = $1")
        .bind(format!("wallet:{alice}"))
        .execute(app.state.store.pool())
        .await
        .unwrap();
    let audit = fedflattr(&app, &["admin", "audit"]);
    assert!(!audit.status.success());
    let text = String::from_utf8_lossy(&audit.stdout);
    assert!(
        text.contains(&format!(
            "account wallet:{alice} has balance 100001 but postings of 100000"
        )),
        "{text}"
    );
    assert!(text.contains("the books do NOT balance"));
}

#[tokio::test]
async fn the_ledger_refuses_to_rewrite_history() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    app.deposit("alice", "10.00").await;
    let update = sqlx::query("UPDATE postings SET amount = amount + 1")
        .execute(app.state.store.pool())
        .await;
    assert!(update.is_err());
    let delete = sqlx::query("DELETE FROM postings")
        .execute(app.state.store.pool())
        .await;
    assert!(delete.is_err());
}

#[tokio::test]
async fn closing_an_open_period_or_a_malformed_one_fails_with_a_message() {
    let app = spawn_app().await;
    for (period, message) in [("2999-01", "has not ended"), ("2026-13", "is not a period")] {
        let output = fedflattr(&app, &["admin", "close", period]);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{stderr}");
    }
}

#[tokio::test]
async fn a_deposit_to_nobody_or_of_a_negative_or_zero_amount_fails_with_a_message_and_changes_nothing()
 {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    for (user, amount, message) in [
        ("nobody", "5.00", "user not found"),
        ("alice", "-5", "amount: must not be negative"),
        ("alice", "0", "the amount must be positive"),
        ("alice", "1.001", "amount: at most 2 decimal places"),
    ] {
        let output = fedflattr(&app, &["admin", "deposit", user, amount]);
        assert!(!output.status.success(), "deposit of {amount} to {user}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(message),
            "deposit of {amount} to {user}: {stderr}"
        );
    }
    assert_eq!(app.wallet("alice").await, 0);
    assert_eq!(app.ledger_lines().await, vec![]);
}

#[test]
fn admin_commands_on_a_missing_database_fail_and_name_it_instead_of_creating_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["admin", "deposit", "alice", "5.00"][..],
        &["admin", "user", "create", "bob"][..],
        &["admin", "audit"][..],
    ] {
        let output = in_empty_directory(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = stderr_of(&output);
        let expected = dir.path().join("data/fedflattr.db");
        assert!(
            stderr.contains(&expected.display().to_string())
                && stderr.contains("fedflattr migrate"),
            "{stderr}"
        );
        assert!(
            !dir.path().join("data").exists(),
            "{args:?} created a database"
        );
    }
    // `migrate` (like `serve`) is what creates it.
    let migrate = in_empty_directory(&["migrate"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let audit = in_empty_directory(&["admin", "audit"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stderr)
    );
}

#[test]
fn a_configuration_file_named_but_missing_is_an_error() {
    let missing = std::env::temp_dir().join("no-such-dir-fedflattr/fedflattr.toml");
    let output = in_empty_directory(&["--config", missing.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(&missing.display().to_string()) && stderr.contains("does not exist"),
        "{stderr}"
    );
    let output = in_empty_directory(&["admin", "audit"])
        .env("FEDFLATTR_CONFIG", &missing)
        .output()
        .unwrap();
    assert!(stderr_of(&output).contains("does not exist"));
}

#[test]
fn a_bad_configuration_value_names_the_setting_the_value_and_where_it_came_from() {
    let output = in_empty_directory(&["migrate"])
        .env("FEDFLATTR_FEE_RATE", "abc")
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("fee_rate = \"abc\"") && stderr.contains("FEDFLATTR_FEE_RATE"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("BTreeMap") && !stderr.contains("default."),
        "{stderr}"
    );

    let output = in_empty_directory(&["migrate"])
        .env("FEDFLATTR_PORT", "eighty")
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("port = \"eighty\"") && stderr.contains("FEDFLATTR_PORT"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fedflattr.toml");
    std::fs::write(&file, "min_budget = \"two\"\n").unwrap();
    let output = in_empty_directory(&["--config", file.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("min_budget = \"two\"") && stderr.contains(&file.display().to_string()),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_bank_reference_used_again_with_another_amount_or_user_is_an_error() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    app.sign_up("bob").await;
    let deposit = |user: &'static str, amount: &'static str| {
        fedflattr(
            &app,
            &[
                "admin",
                "deposit",
                user,
                amount,
                "--reference",
                "bank-7",
                "--json",
            ],
        )
    };
    assert_eq!(json_of(&deposit("alice", "10.00"))["wallet"], "10.00");
    let again = json_of(&deposit("alice", "10.00"));
    assert_eq!(
        again["duplicate"], true,
        "the same payment twice counts once"
    );

    let stderr = stderr_of(&deposit("alice", "12.00"));
    assert!(
        stderr.contains("bank-7") && stderr.contains("10.00 for alice"),
        "{stderr}"
    );
    let stderr = stderr_of(&deposit("bob", "10.00"));
    assert!(stderr.contains("10.00 for alice"), "{stderr}");

    let alice = app.user_id("alice").await;
    let bob = app.user_id("bob").await;
    assert_eq!(app.balance(&format!("wallet:{alice}")).await, 100_000);
    assert_eq!(app.balance(&format!("wallet:{bob}")).await, 0);
    app.assert_books_balance().await;
}

#[tokio::test]
async fn an_admin_vouches_for_a_member_s_domain_and_nobody_else_can_have_it() {
    let app = spawn_app().await;
    let bob = app.sign_up("bob").await;
    app.sign_up("carol").await;
    let unproven = app
        .create_unproven_thing(&bob, "https://bobs.example/post", "Post")
        .await;
    let vouched = json_of(&fedflattr(
        &app,
        &["admin", "--json", "domain", "verify", "bob", "Bobs.Example"],
    ));
    assert_eq!(
        vouched,
        json!({"username": "bob", "domain": "bobs.example", "verified_by": "admin", "verified": true})
    );
    let thing = app
        .get_json(&format!("/api/v1/things/{unproven}"), None)
        .await;
    assert_eq!(thing["proof"], "verified_domain");
    let listed = app.get_json("/api/v1/user/domains", Some(&bob)).await;
    assert_eq!(listed[0]["verified_by"], "admin");

    let taken = stderr_of(&fedflattr(
        &app,
        &["admin", "domain", "verify", "carol", "bobs.example"],
    ));
    assert!(
        taken.contains("bobs.example is verified by another user"),
        "{taken}"
    );
    let bad = stderr_of(&fedflattr(
        &app,
        &["admin", "domain", "verify", "carol", "127.0.0.1"],
    ));
    assert!(bad.contains("domain"), "{bad}");
}

#[tokio::test]
async fn an_admin_disables_and_enables_a_user_from_the_command_line_and_a_second_run_changes_nothing()
 {
    let app = spawn_app().await;
    let reader = app.sign_up("reader").await;
    json_of(&fedflattr(
        &app,
        &["admin", "user", "create", "root", "--admin", "--json"],
    ));

    let disabled = json_of(&fedflattr(
        &app,
        &["admin", "--json", "user", "disable", "Reader"],
    ));
    assert_eq!(disabled["username"], "reader");
    assert_eq!(disabled["disabled"], true);
    assert_eq!(disabled["changed"], true);
    assert_eq!(app.get("/api/v1/user", Some(&reader)).await.status(), 401);
    let log_in = app
        .post(
            "/api/v1/tokens",
            None,
            &json!({"username": "reader", "password": crate::common::users::PASSWORD}),
        )
        .await;
    assert_eq!(
        crate::common::error_code(log_in).await,
        (403, "account_disabled".into())
    );
    let since = app
        .count("SELECT disabled_at FROM users WHERE username = 'reader'")
        .await;

    // Again: nothing changes, the moment of disabling included, and it says so.
    let again = fedflattr(&app, &["admin", "user", "disable", "reader"]);
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "reader was already disabled; nothing changed"
    );
    assert_eq!(
        app.count("SELECT disabled_at FROM users WHERE username = 'reader'")
            .await,
        since
    );

    let enabled = json_of(&fedflattr(
        &app,
        &["admin", "--json", "user", "enable", "reader"],
    ));
    assert_eq!(enabled["disabled"], false);
    assert_eq!(enabled["changed"], true);
    assert_eq!(app.get("/api/v1/user", Some(&reader)).await.status(), 200);
    let again = json_of(&fedflattr(
        &app,
        &["admin", "--json", "user", "enable", "reader"],
    ));
    assert_eq!(again["changed"], false);

    // An unknown name and an admin: clear refusals, nothing changed.
    let unknown = stderr_of(&fedflattr(&app, &["admin", "user", "disable", "nobody"]));
    assert!(unknown.contains("no user is named nobody"), "{unknown}");
    let admin = stderr_of(&fedflattr(&app, &["admin", "user", "disable", "root"]));
    assert!(admin.contains("an admin cannot be disabled"), "{admin}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE disabled_at IS NOT NULL")
            .await,
        0
    );
}
