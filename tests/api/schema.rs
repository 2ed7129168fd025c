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

/// Every place in the OpenAPI document that lacks a description: operations, their responses,
/// their parameters, and the properties of every schema (nested ones included).
fn undescribed(openapi: &serde_json::Value) -> Vec<String> {
    fn properties(at: &str, schema: &serde_json::Value, missing: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
            for (name, prop) in props {
                let described = prop.get("description").is_some_and(|d| d != "");
                // A field whose type is another named schema is a bare `$ref`, which OpenAPI 3.1
                // lets carry no description of its own; that schema is checked by itself.
                if !described && prop.get("$ref").is_none() {
                    missing.push(format!("{at}.{name}"));
                }
                properties(&format!("{at}.{name}"), prop, missing);
            }
        }
        for key in ["items", "allOf", "oneOf", "anyOf"] {
            match schema.get(key) {
                Some(serde_json::Value::Array(parts)) => {
                    for part in parts {
                        properties(at, part, missing);
                    }
                }
                Some(part @ serde_json::Value::Object(_)) => properties(at, part, missing),
                _ => {}
            }
        }
    }
    let mut missing = Vec::new();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{} {path}", method.to_uppercase());
            if op.get("summary").is_none() && op.get("description").is_none() {
                missing.push(format!("{at}: the operation"));
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                if response.get("description").is_none_or(|d| d == "") {
                    missing.push(format!("{at}: response {status}"));
                }
            }
            for param in op
                .get("parameters")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
            {
                if param.get("description").is_none_or(|d| d == "") {
                    missing.push(format!("{at}: parameter {}", param["name"]));
                }
            }
        }
    }
    for (name, schema) in openapi["components"]["schemas"].as_object().unwrap() {
        properties(name, schema, &mut missing);
    }
    missing
}

#[test]
fn every_api_operation_response_parameter_and_field_is_described() {
    let (_, openapi) = fedflattr::http::api();
    let openapi = serde_json::to_value(openapi).unwrap();
    let missing = undescribed(&openapi);
    assert!(
        missing.is_empty(),
        "{} places in the OpenAPI document lack a description:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
