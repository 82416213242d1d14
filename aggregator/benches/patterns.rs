//! Throughput of the pattern-library matcher on generated CI output (a mix
//! of cargo, pytest, go, npm and runner lines, 1 in 25 a failure line),
//! beside the naive regex `(?i)error|fail|exception|fatal|panic` on the same
//! lines. Criterion prints lines/s for each; the ratio is ours / naive.

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use earlyexit_aggregator::patterns::Library;
use std::hint::black_box;

fn ci_output(lines: usize) -> Vec<String> {
    let crates = ["serde", "tokio", "regex", "clap", "anyhow", "hyper"];
    (0..lines)
        .map(|i| {
            let c = crates[i % crates.len()];
            match i % 25 {
                0 => format!(
                    "\x1b[0m\x1b[1m\x1b[32m   Compiling\x1b[0m {c} v1.{}.{}",
                    i % 40,
                    i % 7
                ),
                1 => format!("test {c}::tests::error_case_{i} ... ok"),
                2 => format!(
                    "2024-05-06T14:02:{:02}.1234567Z INFO {c}::server: handled request in {} ms",
                    i % 60,
                    i % 97
                ),
                3 => format!(
                    "tests/test_{c}.py::test_fail_path_{i} PASSED                [ {:>2}%]",
                    i % 100
                ),
                4 => format!(
                    "ok  \tgithub.com/x/{c}\t0.{:03}s\tcoverage: {}.0% of statements",
                    i % 1000,
                    i % 100
                ),
                5 => format!("npm WARN deprecated {c}@1.{}.0: use something else", i % 9),
                6 => format!(
                    "    at Object.<anonymous> (/src/{c}.test.js:{}:11)",
                    i % 300
                ),
                7 => format!(
                    "[INFO] Tests run: {}, Failures: 0, Errors: 0, Skipped: 0",
                    i % 50
                ),
                8 => format!("##[group]Run cargo test -p {c}"),
                9 => format!(
                    "  Downloaded {c} v0.{}.{} from registry `crates-io`",
                    i % 30,
                    i % 9
                ),
                10 => format!("test result: ok. {} passed; 0 failed; 0 ignored", i % 90),
                11 => format!("=== RUN   TestHandlesError{i}"),
                12 => format!("--- PASS: TestHandlesError{i} (0.00s)"),
                13 => format!(
                    "    {c}_test.go:{}: retry after error: connection reset",
                    i % 200
                ),
                14 => "error[E0425]: cannot find value `x` in this scope".to_string(),
                _ => format!("   {c}: step {i} done in {}.{}s", i % 90, i % 10),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = ci_output(20_000);
    let all = Library::builtin().matcher().expect("library compiles");
    let cargo = Library::builtin()
        .for_command(&["cargo", "test"])
        .matcher()
        .expect("compiles");
    let naive = regex::Regex::new(r"(?i)error|fail|exception|fatal|panic").expect("valid");
    let mut g = c.benchmark_group("patterns");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("library_all_entries", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| all.first_hit(black_box(l)).is_some())
                .count()
        })
    });
    g.bench_function("library_cargo_test", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| cargo.first_hit(black_box(l)).is_some())
                .count()
        })
    });
    g.bench_function("naive_regex", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| naive.is_match(black_box(l)))
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
