//! Reading runs back out: [`RunPages`] pages through `executions` and
//! `match_events` for `export` (a bounded page at a time, so a slow reader
//! never holds the database), and [`Store::runs_by_id`] rebuilds whole
//! [`RunRecord`]s for sync.
//!
//! Read only.

use std::collections::HashMap;

use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, TypeInfo, ValueRef};

use super::{Store, StoreError};
use crate::record::{Execution, RunRecord};

/// Columns of `executions` and `match_events` whose TEXT holds JSON.
const JSON_COLUMNS: &[&str] = &[
    "environment_vars",
    "exclude_patterns",
    "success_patterns",
    "fd_patterns",
    "monitored_fds",
    "match_line_numbers",
];

/// Rows per page when exporting.
const EXPORT_PAGE_SIZE: i64 = 500;

/// How a column's values should be rendered when exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Declared `BOOLEAN`: 0/1 rendered as false/true.
    Boolean,
    /// Declared `REAL`: always rendered as a floating point number.
    Real,
    /// TEXT holding a JSON document.
    Json,
    /// Anything else: rendered as stored.
    Plain,
}

/// A column of an exported table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column name.
    pub name: String,
    /// How to render it.
    pub kind: ColumnKind,
}

/// One stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// A `BOOLEAN` column's value.
    Bool(bool),
    /// An INTEGER.
    Integer(i64),
    /// A REAL.
    Real(f64),
    /// TEXT (BLOBs are decoded lossily).
    Text(String),
}

/// One run as exported: its `executions` row and its `match_events` rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedRun {
    /// Values in the order of [`RunPages::execution_columns`].
    pub execution: Vec<Cell>,
    /// One entry per match event, values in the order of
    /// [`RunPages::match_columns`], in match order.
    pub match_events: Vec<Vec<Cell>>,
}

impl Cell {
    /// The value as plain JSON (TEXT stays a string, even when it holds JSON).
    fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Null => serde_json::Value::Null,
            Cell::Bool(b) => serde_json::Value::Bool(*b),
            Cell::Integer(i) => serde_json::Value::from(*i),
            Cell::Real(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Cell::Text(t) => serde_json::Value::String(t.clone()),
        }
    }
}

fn row_object(columns: &[Column], cells: &[Cell]) -> serde_json::Value {
    serde_json::Value::Object(
        columns
            .iter()
            .zip(cells)
            .map(|(c, cell)| (c.name.clone(), cell.to_json()))
            .collect(),
    )
}

impl ExportedRun {
    /// The run as a [`RunRecord`] with its execution and match events
    /// (output samples and metrics are not part of an export page: add them
    /// with [`Store::run_samples_and_metrics`]).
    pub fn to_record(&self, pages: &RunPages<'_>) -> Result<RunRecord, serde_json::Error> {
        let execution =
            serde_json::from_value(row_object(pages.execution_columns(), &self.execution))?;
        let matches = self
            .match_events
            .iter()
            .map(|event| serde_json::from_value(row_object(pages.match_columns(), event)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RunRecord {
            execution,
            matches,
            samples: Vec::new(),
            metrics: Vec::new(),
            fp: Default::default(),
        })
    }
}

/// Pages through the runs to export, oldest first, a bounded number at a
/// time (each page is its own short read, so a slow reader of the export
/// never holds the database).
pub struct RunPages<'a> {
    store: &'a Store,
    since_ms: i64,
    after: Option<(i64, String)>,
    execution_columns: Vec<Column>,
    match_columns: Vec<Column>,
    execution_sql: String,
    match_sql: String,
    id_index: usize,
    done: bool,
}

impl RunPages<'_> {
    /// The exported `executions` columns, in table order.
    pub fn execution_columns(&self) -> &[Column] {
        &self.execution_columns
    }

    /// The exported `match_events` columns (all but `execution_id`).
    pub fn match_columns(&self) -> &[Column] {
        &self.match_columns
    }

    /// The next page of runs; `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ExportedRun>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let path = &self.store.path;
        let err = |e| StoreError::from_sqlx(path, e);
        let (after_ms, after_id) = self.after.clone().unwrap_or((i64::MIN, String::new()));
        let rows = sqlx::query(AssertSqlSafe(self.execution_sql.as_str()))
            .bind(self.since_ms)
            .bind(after_ms)
            .bind(after_id)
            .bind(EXPORT_PAGE_SIZE)
            .fetch_all(&self.store.pool)
            .await
            .map_err(err)?;
        if rows.len() < EXPORT_PAGE_SIZE as usize {
            self.done = true;
        }
        if rows.is_empty() {
            return Ok(None);
        }
        let mut runs = Vec::with_capacity(rows.len());
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let cells = row_cells(row, &self.execution_columns).map_err(err)?;
            ids.push(text_cell(&cells[self.id_index]).to_string());
            runs.push(ExportedRun {
                execution: cells,
                match_events: Vec::new(),
            });
        }
        if let (Some(last), Some(last_id)) = (rows.last(), ids.last()) {
            self.after = Some((last.try_get("started_at_ms").map_err(err)?, last_id.clone()));
        }
        let id_list = serde_json::to_string(&ids).unwrap_or_default();
        let event_rows = sqlx::query(AssertSqlSafe(self.match_sql.as_str()))
            .bind(id_list)
            .fetch_all(&self.store.pool)
            .await
            .map_err(err)?;
        let position: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        for row in &event_rows {
            let id: String = row.try_get("execution_id").map_err(err)?;
            if let Some(&i) = position.get(id.as_str()) {
                runs[i]
                    .match_events
                    .push(row_cells(row, &self.match_columns).map_err(err)?);
            }
        }
        Ok(Some(runs))
    }
}

/// `"a", "b"`: the quoted column names for a SELECT list.
fn column_list(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{}\"", c.name.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The match events (`columns`, and `execution_id`) of the runs whose ids
/// are in a JSON array bound as the one parameter, by run and match number.
fn match_events_sql(columns: &[Column]) -> String {
    format!(
        "SELECT execution_id, {} FROM match_events \
         WHERE execution_id IN (SELECT value FROM json_each(?)) \
         ORDER BY execution_id, match_number",
        column_list(columns)
    )
}

fn text_cell(cell: &Cell) -> &str {
    match cell {
        Cell::Text(text) => text,
        _ => "",
    }
}

/// Decodes the given columns of `row` (by name) into cells.
fn row_cells(row: &SqliteRow, columns: &[Column]) -> Result<Vec<Cell>, sqlx::Error> {
    columns
        .iter()
        .map(|column| {
            let raw = row.try_get_raw(column.name.as_str())?;
            if raw.is_null() {
                return Ok(Cell::Null);
            }
            let cell = match raw.type_info().name() {
                "INTEGER" => {
                    let value: i64 = row.try_get(column.name.as_str())?;
                    match column.kind {
                        ColumnKind::Boolean => Cell::Bool(value != 0),
                        // SQLite may store an integral REAL as an INTEGER.
                        ColumnKind::Real => Cell::Real(value as f64),
                        _ => Cell::Integer(value),
                    }
                }
                "REAL" => Cell::Real(row.try_get(column.name.as_str())?),
                "TEXT" => Cell::Text(row.try_get(column.name.as_str())?),
                _ => {
                    let bytes: Vec<u8> = row.try_get(column.name.as_str())?;
                    Cell::Text(String::from_utf8_lossy(&bytes).into_owned())
                }
            };
            Ok(cell)
        })
        .collect()
}

impl Store {
    /// The output samples and performance metrics of one run, in the order
    /// they were recorded (for [`ExportedRun::to_record`] users that need
    /// the whole run, such as `export --as-sent`).
    pub async fn run_samples_and_metrics(
        &self,
        execution_id: &str,
    ) -> Result<
        (
            Vec<crate::record::OutputSample>,
            Vec<crate::record::PerformanceMetric>,
        ),
        StoreError,
    > {
        let id_list = serde_json::to_string(&[execution_id]).unwrap_or_default();
        let (samples, metrics) = self.samples_and_metrics_of(&id_list).await?;
        Ok((
            samples.into_iter().map(|(_, sample)| sample).collect(),
            metrics.into_iter().map(|(_, metric)| metric).collect(),
        ))
    }

    /// The output samples and metrics of the runs whose ids are in
    /// `id_list` (a JSON array), each with its run's id, in the order they
    /// were recorded.
    #[allow(clippy::type_complexity)]
    async fn samples_and_metrics_of(
        &self,
        id_list: &str,
    ) -> Result<
        (
            Vec<(String, crate::record::OutputSample)>,
            Vec<(String, crate::record::PerformanceMetric)>,
        ),
        StoreError,
    > {
        let samples: Vec<(String, String, String, f64, String, String)> = sqlx::query_as(
            "SELECT execution_id, sample_type, stream_source, timestamp_offset, content, \
             content_hash FROM output_samples \
             WHERE execution_id IN (SELECT value FROM json_each(?)) ORDER BY rowid",
        )
        .bind(id_list)
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())?;
        let metrics: Vec<(String, String, f64, f64)> = sqlx::query_as(
            "SELECT execution_id, metric_name, metric_value, timestamp_offset \
             FROM performance_metrics \
             WHERE execution_id IN (SELECT value FROM json_each(?)) ORDER BY rowid",
        )
        .bind(id_list)
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())?;
        let samples = samples
            .into_iter()
            .map(
                |(id, sample_type, stream_source, timestamp_offset, content, content_hash)| {
                    let sample = crate::record::OutputSample {
                        sample_type,
                        stream_source,
                        timestamp_offset,
                        content,
                        content_hash,
                    };
                    (id, sample)
                },
            )
            .collect();
        let metrics = metrics
            .into_iter()
            .map(|(id, metric_name, metric_value, timestamp_offset)| {
                let metric = crate::record::PerformanceMetric {
                    metric_name,
                    metric_value,
                    timestamp_offset,
                };
                (id, metric)
            })
            .collect();
        Ok((samples, metrics))
    }

    /// Pages through the runs started at or after `since_ms`, oldest first,
    /// with their match events, for export.
    pub async fn export_runs(&self, since_ms: i64) -> Result<RunPages<'_>, StoreError> {
        let (execution_columns, match_columns) = self.export_columns().await?;
        let list = column_list;
        let id_index = execution_columns
            .iter()
            .position(|c| c.name == "execution_id")
            .unwrap_or(0);
        Ok(RunPages {
            store: self,
            since_ms,
            after: None,
            execution_sql: format!(
                "SELECT {} FROM executions WHERE started_at_ms >= ? \
                 AND (started_at_ms, execution_id) > (?, ?) \
                 ORDER BY started_at_ms, execution_id LIMIT ?",
                list(&execution_columns)
            ),
            match_sql: match_events_sql(&match_columns),
            execution_columns,
            match_columns,
            id_index,
            done: false,
        })
    }

    /// The complete recorded runs with these ids — execution, match events,
    /// output samples and metrics, as [`Store::record_run`] stored them — in
    /// the order of `ids`. Ids with no run are left out. One read per table,
    /// whatever the number of ids (the sync path reads a batch at a time).
    pub async fn runs_by_id(&self, ids: &[String]) -> Result<Vec<RunRecord>, StoreError> {
        let err = self.sql_err();
        let decode = |e: serde_json::Error| self.sql_err()(sqlx::Error::Decode(Box::new(e)));
        let (execution_columns, match_columns) = self.export_columns().await?;
        let id_list = serde_json::to_string(ids).unwrap_or_default();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM executions WHERE execution_id IN (SELECT value FROM json_each(?))",
            column_list(&execution_columns)
        )))
        .bind(&id_list)
        .fetch_all(&self.pool)
        .await
        .map_err(&err)?;
        let mut runs: HashMap<String, RunRecord> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let cells = row_cells(row, &execution_columns).map_err(&err)?;
            let execution: Execution =
                serde_json::from_value(row_object(&execution_columns, &cells)).map_err(decode)?;
            runs.insert(
                execution.execution_id.clone(),
                RunRecord {
                    execution,
                    matches: Vec::new(),
                    samples: Vec::new(),
                    metrics: Vec::new(),
                    fp: Default::default(),
                },
            );
        }
        let event_rows = sqlx::query(AssertSqlSafe(match_events_sql(&match_columns)))
            .bind(&id_list)
            .fetch_all(&self.pool)
            .await
            .map_err(&err)?;
        for row in &event_rows {
            let id: String = row.try_get("execution_id").map_err(&err)?;
            if let Some(run) = runs.get_mut(&id) {
                let cells = row_cells(row, &match_columns).map_err(&err)?;
                run.matches.push(
                    serde_json::from_value(row_object(&match_columns, &cells)).map_err(decode)?,
                );
            }
        }
        let (samples, metrics) = self.samples_and_metrics_of(&id_list).await?;
        for (id, sample) in samples {
            if let Some(run) = runs.get_mut(&id) {
                run.samples.push(sample);
            }
        }
        for (id, metric) in metrics {
            if let Some(run) = runs.get_mut(&id) {
                run.metrics.push(metric);
            }
        }
        Ok(ids.iter().filter_map(|id| runs.remove(id)).collect())
    }

    /// The columns of `executions`, and those of `match_events` but its
    /// `execution_id` (implied by the run).
    async fn export_columns(&self) -> Result<(Vec<Column>, Vec<Column>), StoreError> {
        let match_columns = self
            .columns("match_events")
            .await?
            .into_iter()
            .filter(|c| c.name != "execution_id")
            .collect();
        Ok((self.columns("executions").await?, match_columns))
    }

    /// The columns of `table` in order (generated columns included).
    async fn columns(&self, table: &'static str) -> Result<Vec<Column>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, type FROM pragma_table_xinfo(?) ORDER BY cid")
                .bind(table)
                .fetch_all(&self.pool)
                .await
                .map_err(self.sql_err())?;
        Ok(rows
            .into_iter()
            .map(|(name, declared)| {
                let kind = if declared.eq_ignore_ascii_case("BOOLEAN") {
                    ColumnKind::Boolean
                } else if declared.eq_ignore_ascii_case("REAL") {
                    ColumnKind::Real
                } else if JSON_COLUMNS.contains(&name.as_str()) {
                    ColumnKind::Json
                } else {
                    ColumnKind::Plain
                };
                Column { name, kind }
            })
            .collect())
    }
}
