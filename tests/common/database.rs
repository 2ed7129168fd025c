//! A database nobody else uses, for one test: a new SQLite file in the test's temporary
//! directory, or — when FEDFLATTR_TEST_DATABASE_URL names a PostgreSQL server — a new database
//! created on it for this test alone.

use rand::RngCore;

pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("FEDFLATTR_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            use sqlx::Connection;
            let mut bytes = [0u8; 8];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let name = format!("fedflattr_test_{}", hex::encode(bytes));
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("reach PostgreSQL");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let mut url = url::Url::parse(&admin_url).unwrap();
            url.set_path(&name);
            url.to_string()
        }
        _ => format!("sqlite://{}", dir.join("fedflattr.db").display()),
    }
}
