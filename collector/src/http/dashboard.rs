//! `GET /`: the dashboard, one server-rendered HTML page with inline CSS
//! and inline SVG charts: nothing is loaded from anywhere else (no CDN, no
//! font, no script), so it works on an air-gapped network and under the
//! strict content policy the router sets.
//!
//! Every figure comes from the same store queries as the JSON API, for
//! the caller's org and the window `?since=` (default 7 days). Sections
//! whose data the collector does not have yet say so ("no data yet").
//! Elements that carry a figure have an `id` (`total-runs`, …) so tests
//! and scripts can find them.

use std::fmt::Write as _;
use std::time::{Duration, Instant, UNIX_EPOCH};

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::AppState;
use super::api::{MAX_LIMIT, bucket_ms, parse_window};
use super::auth::PageCaller;
use crate::store::{
    AgentSeen, BundleInfo, BundleUse, CommandOrder, CommandStats, ReasonCount, Summary, TimeSaved,
};

/// Rows per table on the page.
const TABLE_ROWS: i64 = 10;

/// HTML-escapes text for element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Seconds as people read them: `850 ms`, `12.5 s`, `3 m 12 s`, `2 h 05 m`.
pub fn duration_text(s: f64) -> String {
    if !s.is_finite() || s <= 0.0 {
        return "0 s".into();
    }
    if s < 1.0 {
        return format!("{:.0} ms", s * 1e3);
    }
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    let whole = s.round() as u64;
    if whole < 3600 {
        return format!("{} m {:02} s", whole / 60, whole % 60);
    }
    format!("{} h {:02} m", whole / 3600, (whole % 3600) / 60)
}

fn time_text(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned()
        + " UTC"
}

/// The colour of an exit reason in charts.
fn reason_colour(reason: &str) -> &'static str {
    match reason {
        "completed" => "#3a9a5b",
        "match" => "#d9822b",
        "success_pattern" => "#2e86c1",
        "timeout_overall" | "timeout_idle" | "timeout_first_output" => "#c0392b",
        "stuck" => "#8e44ad",
        "error" => "#596275",
        "interrupted" => "#a4abb6",
        _ => "#c8ccd2",
    }
}

/// Everything the page shows.
#[derive(Debug, Default)]
pub struct PageData {
    /// Org name.
    pub org: String,
    /// The window.
    pub since: Duration,
    /// Its start.
    pub since_ms: i64,
    /// Totals.
    pub summary: Summary,
    /// Runs per bucket and reason.
    pub over_time: Vec<ReasonCount>,
    /// Bucket width.
    pub bucket_ms: i64,
    /// Slowest commands.
    pub slowest: Vec<CommandStats>,
    /// Most failing commands.
    pub failing: Vec<CommandStats>,
    /// Time saved.
    pub saved: Vec<TimeSaved>,
    /// Agents.
    pub agents: Vec<AgentSeen>,
    /// Published bundles.
    pub bundles: Vec<BundleInfo>,
    /// Bundle versions runs named.
    pub bundle_use: Vec<BundleUse>,
}

/// `GET /`.
pub async fn page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    RawQuery(q): RawQuery,
) -> Response {
    let started = Instant::now();
    let w = match parse_window(q.as_deref()) {
        Ok(w) => w,
        Err(why) => return (StatusCode::BAD_REQUEST, Html(escape(&why))).into_response(),
    };
    let org = caller.org.id;
    let s = &state.store;
    let bucket = bucket_ms(w.since);
    let loaded = tokio::try_join!(
        s.summary(org, w.since_ms),
        s.runs_over_time(org, w.since_ms, bucket),
        s.commands(org, w.since_ms, CommandOrder::Slowest, TABLE_ROWS),
        s.commands(org, w.since_ms, CommandOrder::MostFailing, TABLE_ROWS),
        s.time_saved(org, w.since_ms, MAX_LIMIT),
        s.agents_seen(org, w.since_ms, MAX_LIMIT),
        s.list_bundles(org),
        s.bundle_use(org, w.since_ms, TABLE_ROWS),
    );
    let (summary, over_time, slowest, failing, saved, agents, bundles, bundle_use) = match loaded {
        Ok(all) => all,
        Err(e) => {
            state.health.call_failed(&e).await;
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Html("The collector's store is not available right now; try again shortly."),
            )
                .into_response();
        }
    };
    let data = PageData {
        org: caller.org.name,
        since: w.since,
        since_ms: w.since_ms,
        summary,
        over_time,
        bucket_ms: bucket,
        slowest,
        failing,
        saved,
        agents,
        bundles,
        bundle_use,
    };
    let query_ms = started.elapsed();
    Html(render(&data, query_ms)).into_response()
}

const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f4f5f7;color:#1d2330}\
header{background:#1d2330;color:#fff;padding:.8em 1.5em;display:flex;gap:1.5em;align-items:center;flex-wrap:wrap}\
header h1{font-size:1.15em;margin:0;flex:1}header a{color:#c9d6ff;margin-right:.6em}\
header a.on{color:#fff;font-weight:600;text-decoration:none}\
header button{background:none;border:1px solid #c9d6ff;color:#c9d6ff;border-radius:4px;padding:.2em .8em;font:inherit}\
main{padding:1em 1.5em;display:grid;gap:1em;grid-template-columns:repeat(auto-fit,minmax(min(34em,100%),1fr))}\
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002;padding:1em 1.2em;overflow-x:auto}\
section.wide{grid-column:1/-1}h2{font-size:1.05em;margin:0 0 .6em}\
.tiles{display:flex;gap:1em;flex-wrap:wrap}.tile{flex:1;min-width:9em;background:#f4f5f7;border-radius:6px;padding:.6em .9em}\
.tile b{display:block;font-size:1.6em}.tile span{color:#596275}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #e4e6ea;white-space:nowrap}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.none{color:#596275;font-style:italic}\
.legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;width:.8em;height:.8em;margin-right:.3em;border-radius:2px}\
footer{color:#596275;padding:0 1.5em 1.5em;font-size:.9em}";

/// The page for `data`; `query` is how long the store queries took.
pub fn render(data: &PageData, query: Duration) -> String {
    let started = Instant::now();
    let mut h = String::with_capacity(32 * 1024);
    let s = &data.summary;
    let saved_s: f64 = data.saved.iter().map(|t| t.saved_s).sum();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>earlyexit fleet: {org}</title><style>{STYLE}</style></head><body>\
         <header><h1>earlyexit fleet · <span id=\"org\">{org}</span></h1><nav>",
        org = escape(&data.org)
    );
    for (label, secs) in [
        ("24 h", 86_400),
        ("7 days", 7 * 86_400),
        ("30 days", 30 * 86_400),
    ] {
        let on = if data.since.as_secs() == secs {
            " class=\"on\""
        } else {
            ""
        };
        let _ = write!(h, "<a{on} href=\"/?since={}d\">{label}</a>", secs / 86_400);
    }
    let _ = write!(
        h,
        "</nav><form method=\"post\" action=\"/logout\"><button>Log out</button></form></header><main>"
    );

    // Totals.
    let _ = write!(
        h,
        "<section class=\"wide\"><h2>Since {since}</h2><div class=\"tiles\">\
         <div class=\"tile\"><b id=\"total-runs\">{runs}</b><span>runs</span></div>\
         <div class=\"tile\"><b id=\"failed-runs\">{failed}</b><span>failed</span></div>\
         <div class=\"tile\"><b id=\"early-exits\">{early}</b><span>stopped early on an error</span></div>\
         <div class=\"tile\"><b id=\"time-saved\">{saved}</b><span>saved by early exits (estimate)</span></div>\
         <div class=\"tile\"><b id=\"agent-count\">{agents}</b><span>agents</span></div>\
         <div class=\"tile\"><b id=\"total-runtime\">{runtime}</b><span>run time in all</span></div>\
         </div></section>",
        since = time_text(data.since_ms),
        runs = s.runs,
        failed = s.failed,
        early = s.early_exits,
        saved = duration_text(saved_s),
        agents = s.agents,
        runtime = duration_text(s.runtime_s),
    );

    // Runs over time.
    h.push_str("<section class=\"wide\"><h2>Runs over time, by exit reason</h2>");
    if data.over_time.is_empty() {
        h.push_str("<p class=\"none\">No runs in this window yet.</p>");
    } else {
        chart(&mut h, data);
    }
    h.push_str("</section>");

    // Slowest commands.
    h.push_str("<section><h2>Slowest commands (mean run time)</h2>");
    command_table(&mut h, &data.slowest, "slowest", |c| c.mean_runtime_s);
    h.push_str("</section><section><h2>Most failing commands</h2>");
    command_table(&mut h, &data.failing, "failing", |c| c.failed as f64);
    h.push_str("</section>");

    // Time saved.
    h.push_str("<section><h2>Time saved by early exits</h2>");
    if data.saved.is_empty() {
        h.push_str(
            "<p class=\"none\">No run was stopped early on an error pattern in this window.</p>",
        );
    } else {
        h.push_str(
            "<table id=\"time-saved-table\"><tr><th>program</th><th>category</th><th class=\"n\">early exits</th><th class=\"n\">saved</th></tr>",
        );
        for t in data
            .saved
            .iter()
            .take(usize::try_from(TABLE_ROWS).unwrap_or(10))
        {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(&t.program),
                escape(&t.command_category),
                t.early_exits,
                duration_text(t.saved_s)
            );
        }
        h.push_str("</table><p class=\"none\">Per command: its early exits times the mean run time of its completed runs, minus the early exits' own run time; never below zero, zero for a command with no completed run.</p>");
    }
    h.push_str("</section>");

    // Agents.
    h.push_str("<section><h2>Agents</h2>");
    if data.agents.is_empty() {
        h.push_str("<p class=\"none\">No agent sent runs in this window.</p>");
    } else {
        h.push_str("<table id=\"agents-table\"><tr><th>agent</th><th>last seen</th><th>version</th><th class=\"n\">runs</th><th>backlog</th></tr>");
        for a in &data.agents {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"none\">not reported</td></tr>",
                escape(&a.agent_id),
                time_text(a.last_seen_ms),
                escape(a.version.as_deref().unwrap_or("unknown")),
                a.runs
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");

    // Bundles.
    h.push_str("<section><h2>Bundles</h2>");
    if data.bundles.is_empty() {
        h.push_str("<p class=\"none\">No bundle published yet (<code>earlyexit-collector bundle publish</code>).</p>");
    } else {
        h.push_str("<table id=\"bundles-table\"><tr><th>kind</th><th class=\"n\">version</th><th>published</th><th>state</th><th>sha256</th></tr>");
        for b in &data.bundles {
            let state = b.retired_at_ms.map_or_else(
                || "served".to_owned(),
                |at| format!("retired {}", time_text(at)),
            );
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                escape(&b.kind),
                b.version,
                time_text(b.published_at_ms),
                state,
                escape(&b.sha256[..b.sha256.len().min(12)])
            );
        }
        h.push_str("</table>");
    }
    if data.bundle_use.is_empty() {
        h.push_str(
            "<p class=\"none\">No run in this window names the bundles it ran with yet.</p>",
        );
    } else {
        h.push_str("<h2>Bundle versions runs named</h2><table id=\"bundle-use-table\"><tr><th>bundles</th><th class=\"n\">runs</th><th class=\"n\">failed</th></tr>");
        for u in &data.bundle_use {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(&u.bundle_version),
                u.runs,
                u.failed
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");

    // What the collector does not have yet.
    h.push_str(
        "<section><h2>Pattern effectiveness</h2><p class=\"none\" id=\"patterns-none\">No data yet: agents do not send per-pattern outcomes (true exits, false positives, misses) to the collector yet.</p></section>\
         <section><h2>Anomalies</h2><p class=\"none\" id=\"anomalies-none\">No data yet: no anomaly detector reports to the collector yet.</p></section>\
         <section><h2>Canary, rollback and audit log</h2><p class=\"none\" id=\"canary-none\">No data yet: bundles are published to every agent of the org at once; retired bundles show under Bundles.</p></section>",
    );

    let _ = write!(
        h,
        "</main><footer>Store queries <span id=\"query-ms\">{:.1}</span> ms, page rendered in <span id=\"render-ms\">{:.1}</span> ms. Times in UTC.</footer></body></html>",
        query.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e3
    );
    h
}

/// A table of commands with a bar per row, scaled by `value`.
fn command_table(h: &mut String, rows: &[CommandStats], id: &str, value: fn(&CommandStats) -> f64) {
    if rows.is_empty() {
        h.push_str("<p class=\"none\">No data in this window.</p>");
        return;
    }
    let max = rows
        .iter()
        .map(value)
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let _ = write!(
        h,
        "<table id=\"{id}-table\"><tr><th>program</th><th>category</th><th class=\"n\">runs</th><th class=\"n\">failed</th><th class=\"n\">mean</th><th class=\"n\">longest</th><th></th></tr>"
    );
    for c in rows {
        let width = (value(c) / max * 120.0).clamp(1.0, 120.0);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td><svg width=\"120\" height=\"10\" role=\"img\"><rect width=\"{width:.1}\" height=\"10\" rx=\"2\" fill=\"#2856c5\"/></svg></td></tr>",
            escape(&c.program),
            escape(&c.command_category),
            c.runs,
            c.failed,
            duration_text(c.mean_runtime_s),
            duration_text(c.max_runtime_s)
        );
    }
    h.push_str("</table>");
}

/// The stacked bar chart of runs per bucket and exit reason.
fn chart(h: &mut String, data: &PageData) {
    let bucket = data.bucket_ms.max(1);
    let first = (data.since_ms / bucket) * bucket;
    let last = data
        .over_time
        .iter()
        .map(|r| r.bucket_ms)
        .max()
        .unwrap_or(first)
        .max(first);
    let n = usize::try_from((last - first) / bucket + 1)
        .unwrap_or(1)
        .clamp(1, 400);
    let mut reasons: Vec<&str> = data
        .over_time
        .iter()
        .map(|r| r.exit_reason.as_str())
        .collect();
    reasons.sort_unstable();
    reasons.dedup();
    let mut counts = vec![vec![0_i64; reasons.len()]; n];
    for r in &data.over_time {
        let Ok(i) = usize::try_from((r.bucket_ms - first) / bucket) else {
            continue;
        };
        if let (Some(row), Ok(j)) = (
            counts.get_mut(i),
            reasons.binary_search(&r.exit_reason.as_str()),
        ) {
            row[j] += r.runs;
        }
    }
    let max = counts
        .iter()
        .map(|c| c.iter().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, ht, left, bottom) = (760.0_f64, 180.0_f64, 44.0_f64, 22.0_f64);
    let plot_w = w - left - 4.0;
    let plot_h = ht - bottom - 6.0;
    let bar = plot_w / n as f64;
    let _ = write!(
        h,
        "<svg id=\"runs-chart\" viewBox=\"0 0 {w} {ht}\" width=\"100%\" role=\"img\" aria-label=\"runs over time by exit reason\">\
         <line x1=\"{left}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"#999\"/>\
         <text x=\"{tx}\" y=\"12\" font-size=\"11\" text-anchor=\"end\">{max}</text>\
         <text x=\"{tx}\" y=\"{y0}\" font-size=\"11\" text-anchor=\"end\">0</text>",
        y0 = ht - bottom,
        x1 = w - 4.0,
        tx = left - 6.0,
    );
    for (i, row) in counts.iter().enumerate() {
        let x = left + i as f64 * bar;
        let mut y = ht - bottom;
        for (j, &c) in row.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let bh = c as f64 / max as f64 * plot_h;
            y -= bh;
            let _ = write!(
                h,
                "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{bw:.2}\" height=\"{bh:.2}\" fill=\"{}\"><title>{}: {c} {}</title></rect>",
                reason_colour(reasons[j]),
                time_text(first + i as i64 * bucket),
                escape(reasons[j]),
                bw = (bar - 1.0).max(0.5),
            );
        }
    }
    for i in [0, n / 2, n - 1] {
        let x = left + (i as f64 + 0.5) * bar;
        let label = time_text(first + i as i64 * bucket);
        let label = if bucket >= 86_400_000 {
            label[..10].to_owned()
        } else {
            label[5..16].to_owned()
        };
        let _ = write!(
            h,
            "<text x=\"{x:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{label}</text>",
            ht - 6.0
        );
    }
    h.push_str("</svg><p class=\"legend\">");
    for r in &reasons {
        let total: i64 = data
            .over_time
            .iter()
            .filter(|c| c.exit_reason == *r)
            .map(|c| c.runs)
            .sum();
        let _ = write!(
            h,
            "<span><i style=\"background:{}\"></i>{} <b data-reason=\"{}\">{total}</b></span>",
            reason_colour(r),
            escape(r),
            escape(r)
        );
    }
    h.push_str("</p>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_durations_read_well() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(duration_text(0.25), "250 ms");
        assert_eq!(duration_text(12.46), "12.5 s");
        assert_eq!(duration_text(192.0), "3 m 12 s");
        assert_eq!(duration_text(7500.0), "2 h 05 m");
        assert_eq!(time_text(0), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn an_empty_page_says_so_and_loads_nothing_from_elsewhere() {
        let data = PageData {
            org: "a<b".into(),
            since: Duration::from_secs(7 * 86_400),
            bucket_ms: 86_400_000,
            ..PageData::default()
        };
        let html = render(&data, Duration::ZERO);
        assert!(html.contains("earlyexit fleet · <span id=\"org\">a&lt;b</span>"));
        assert!(html.contains("No runs in this window yet."));
        assert!(html.contains("id=\"patterns-none\""));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no outside URL"
        );
        assert!(!html.contains("<script"), "no script");
    }
}
