//! Databases for tests of this crate and of the agent: a SQLite file in a
//! folder the test owns, and a fresh PostgreSQL database per test when
//! `EARLYEXIT_TEST_DATABASE_URL` is set (skipped, with the reason printed,
//! when it is not). Lets one test body run against both backends.

use std::path::Path;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::store::{Backend, Store, StoreError};

/// The variable naming the PostgreSQL server tests may create databases on.
pub const DATABASE_URL_VAR: &str = "EARLYEXIT_TEST_DATABASE_URL";

/// A database made for one test.
#[derive(Debug)]
pub struct TestDb {
    /// The store URL to give the collector.
    pub url: String,
    /// Which backend.
    pub backend: Backend,
    /// For PostgreSQL: the server URL and the database to drop afterwards.
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A SQLite file in `dir`.
    pub fn sqlite(dir: &Path) -> TestDb {
        TestDb {
            url: format!("sqlite://{}", dir.join("collector.db").display()),
            backend: Backend::Sqlite,
            postgres: None,
        }
    }

    /// A new, empty PostgreSQL database, or `None` (with a line on stderr
    /// saying why) when `EARLYEXIT_TEST_DATABASE_URL` is unset.
    pub async fn postgres(test: &str) -> Result<Option<TestDb>, StoreError> {
        let Some(server) = std::env::var(DATABASE_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
        else {
            eprintln!(
                "{test}: PostgreSQL part skipped: {DATABASE_URL_VAR} is not set (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            return Ok(None);
        };
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).map_err(|e| StoreError::Random(e.to_string()))?;
        let name = format!(
            "ee_test_{}",
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let mut admin = PgConnection::connect(&server)
            .await
            .map_err(|e| StoreError::Connect(crate::store::redact_url(&server), e.to_string()))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        let _ = admin.close().await;
        Ok(Some(TestDb {
            url: with_database(&server, &name),
            backend: Backend::Postgres,
            postgres: Some((server, name)),
        }))
    }

    /// SQLite in `dir`, then PostgreSQL when configured.
    pub async fn all(dir: &Path, test: &str) -> Result<Vec<TestDb>, StoreError> {
        let mut dbs = vec![TestDb::sqlite(dir)];
        dbs.extend(TestDb::postgres(test).await?);
        Ok(dbs)
    }

    /// Opens the store (migrating it).
    pub async fn store(&self) -> Result<Store, StoreError> {
        Store::connect(&self.url).await
    }

    /// Drops a PostgreSQL database (SQLite files go with their folder).
    pub async fn cleanup(self) {
        if let Some((server, name)) = self.postgres
            && let Ok(mut admin) = PgConnection::connect(&server).await
        {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await;
            let _ = admin.close().await;
        }
    }
}

/// `postgres://u@h:5432/test?x=y` with the database replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://h:5432?sslmode=disable", "x"),
            "postgres://h:5432/x?sslmode=disable"
        );
    }
}
