//! The SQLite and PostgreSQL schemas must not drift apart: same tables, same columns.

use std::collections::BTreeSet;

use fedflattr::store::{Backend, Store};

async fn sqlite_columns() -> BTreeSet<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("s.db").display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.into_iter().collect()
}

#[tokio::test]
async fn both_backends_have_the_same_tables_and_columns() {
    let sqlite = sqlite_columns().await;
    assert!(sqlite.contains(&("postings".into(), "amount".into())));
    let Ok(admin) = std::env::var("FEDFLATTR_TEST_DATABASE_URL") else {
        // Only the PostgreSQL run of the suite can compare; the SQLite run checks its half.
        return;
    };
    if admin.is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database_url(dir.path()).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let postgres: BTreeSet<(String, String)> = rows.into_iter().collect();
    assert_eq!(sqlite, postgres);
}

#[tokio::test]
async fn the_suite_runs_on_the_backend_the_environment_names() {
    let app = crate::helpers::spawn_app().await;
    let backend = app.state.store.backend();
    if crate::common::database::postgres_server().is_some() {
        // FEDFLATTR_TEST_DATABASE_URL is set: every instance must be on a PostgreSQL database
        // of its own, or the "PostgreSQL pass" of CI proves nothing about PostgreSQL.
        assert_eq!(backend, Backend::Postgres, "{}", app.database_url);
        let name: String = sqlx::query_scalar("SELECT CAST(current_database() AS TEXT)")
            .fetch_one(app.state.store.pool())
            .await
            .unwrap();
        assert!(name.starts_with("fedflattr_test_"), "{name}");
    } else {
        assert_eq!(backend, Backend::Sqlite, "{}", app.database_url);
    }
}
