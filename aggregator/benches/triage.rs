//! Triage of a 40,000-line log (goal: ≤ 100 ms), cold and with a passing
//! log of the same size as history.
//!
//! Run: `cargo bench -p earlyexit-aggregator --bench triage`.

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use earlyexit_aggregator::triage::Triage;

/// A CI-like log of `n` lines: compile and download noise, test lines,
/// progress bars with bare CRs, and (when `fail`) a few errors and a trace.
fn log(n: usize, fail: bool) -> String {
    let mut s = String::new();
    for i in 0..n {
        let line = match i % 9 {
            0 => format!("   Compiling crate{} v0.{}.{}", i % 97, i % 13, i % 31),
            1 => format!(
                "Downloading https://files.example.org/pkg-{i}.tar.gz ({} kB)",
                i % 900
            ),
            2 => format!("test tests::case_{i} ... ok"),
            3 => format!(
                "2024-05-01T12:00:{:02}.1234567Z [INFO] step {i} took {}ms",
                i % 60,
                i % 999
            ),
            4 => format!("Progress: {}%\rProgress: 100%", i % 100),
            5 => format!("warning: unused variable: `v{}`", i % 50),
            6 => format!("gcc -O2 -Werror=format-security -c src/f{}.c", i % 200),
            7 => String::new(),
            _ => format!("npm WARN deprecated pkg{}@1.{}.0", i % 40, i % 9),
        };
        s.push_str(&line);
        s.push('\n');
        if fail && i % 10_000 == 9_999 {
            s.push_str("error[E0308]: mismatched types\n --> src/main.rs:2:5\n");
            s.push_str("Exception in thread \"main\" java.lang.IllegalStateException: boom\n");
            for k in 0..20 {
                s.push_str(&format!("\tat com.example.A.f{k}(A.java:{k})\n"));
            }
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let fail = log(40_000, true);
    let pass = log(40_000, false);
    let lines = earlyexit_aggregator::triage::split_lines(&fail).len();
    eprintln!("failing log: {lines} lines");
    let cold = Triage::new().unwrap();
    c.bench_function("triage 40k lines, cold", |b| b.iter(|| cold.run(&fail)));
    let mut warm = Triage::new().unwrap();
    warm.add_history(&pass);
    c.bench_function("triage 40k lines, 40k-line history", |b| {
        b.iter(|| warm.run(&fail))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
