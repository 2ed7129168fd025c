//! A database nobody else uses, for one test: a new SQLite file in the test's temporary
//! directory, or — when FEDFLATTR_TEST_DATABASE_URL names a PostgreSQL server — a new database
//! created on it for this test alone.

use rand::RngCore;

/// The variable that moves every test onto PostgreSQL: the URL of a server (any database on
/// it) where the tests may create their own `fedflattr_test_*` databases.
pub const TEST_DATABASE_VAR: &str = "FEDFLATTR_TEST_DATABASE_URL";

/// The PostgreSQL server the tests run on, if FEDFLATTR_TEST_DATABASE_URL names one.
pub fn postgres_server() -> Option<String> {
    std::env::var(TEST_DATABASE_VAR)
        .ok()
        .filter(|url| !url.is_empty())
}

/// A fresh database for one test: on the PostgreSQL server of FEDFLATTR_TEST_DATABASE_URL,
/// else a SQLite file in `dir`.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    fresh_database_on(postgres_server().as_deref(), dir).await
}

/// A fresh database: a new `fedflattr_test_*` database on the PostgreSQL server `server`
/// names, or a new SQLite file in `dir` when there is none.
pub async fn fresh_database_on(server: Option<&str>, dir: &std::path::Path) -> String {
    let Some(admin_url) = server else {
        return format!("sqlite://{}", dir.join("fedflattr.db").display());
    };
    use sqlx::Connection;
    let mut bytes = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let name = format!("fedflattr_test_{}", hex::encode(bytes));
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("reach PostgreSQL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(admin_url).expect("the PostgreSQL server's URL parses");
    url.set_path(&name);
    url.to_string()
}

/// Drops a `fedflattr_test_*` database made by [`fresh_database_on`] on `server`: the
/// benches, whose databases hold millions of rows, drop theirs when a run is done.
pub async fn drop_database(server: &str, url: &str) {
    use sqlx::Connection;
    let name = url.rsplit('/').next().unwrap_or_default();
    assert!(
        name.starts_with("fedflattr_test_"),
        "not a test database: {url}"
    );
    let mut conn = sqlx::PgConnection::connect(server)
        .await
        .expect("reach PostgreSQL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("drop the test database");
}

/// A PostgreSQL server on this machine that tests may use when the environment names none.
pub const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL server of FEDFLATTR_TEST_DATABASE_URL, else [`LOCAL_POSTGRES`] when it
/// answers within two seconds: for a test that puts one of its instances on PostgreSQL
/// whichever backend the run is on (the other instances follow the environment).
pub async fn reachable_postgres() -> Option<String> {
    if let Some(server) = postgres_server() {
        return Some(server);
    }
    use sqlx::Connection;
    let attempt = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        sqlx::PgConnection::connect(LOCAL_POSTGRES),
    )
    .await;
    matches!(attempt, Ok(Ok(_))).then(|| LOCAL_POSTGRES.to_owned())
}
