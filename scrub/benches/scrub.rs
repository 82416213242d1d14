//! Throughput of the line scrubber on generated build output (mostly clean,
//! 1 dirty line in 200). Prints MB/s via criterion's throughput.

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use earlyexit_scrub::{LineScrubber, Scrubber};
use std::hint::black_box;

fn build_output(lines: usize) -> String {
    let crates = [
        "serde", "tokio", "regex", "clap", "anyhow", "hyper", "rustls", "sqlx",
    ];
    let mut out = String::new();
    for i in 0..lines {
        let c = crates[i % crates.len()];
        let line = match i % 10 {
            0 => format!(
                "   Compiling {c} v1.{}.{} (/workspace/crates/{c})",
                i % 40,
                i % 7
            ),
            1 => format!("test {c}::tests::case_{i} ... ok"),
            2 => format!(
                "2024-05-06T14:02:{:02}.{:03}Z INFO {c}::server: handled request in {} ms",
                i % 60,
                i % 1000,
                i % 97
            ),
            3 => format!(
                "warning: unused variable: `x{i}` --> src/{c}/mod.rs:{}:{}",
                i % 500,
                i % 80
            ),
            4 => format!(
                "    Finished `release` profile [optimized] target(s) in {}.{}s",
                i % 90,
                i % 10
            ),
            5 => format!(
                "  Downloaded {c} v0.{}.{} from registry `crates-io`",
                i % 30,
                i % 9
            ),
            6 => format!(
                "error[E0425]: cannot find value `cfg{i}` in this scope at /workspace/src/main.rs:{}:5",
                i % 300
            ),
            7 => format!(
                "   Running unittests src/lib.rs (target/debug/deps/{c}-{:016x})",
                i * 2654435761
            ),
            8 => format!(
                "[{:>4}/{}] CXX obj/{c}/file_{i}.o -O2 -Wall -std=c++17",
                i % 1000,
                1000
            ),
            _ => format!(
                "npm WARN deprecated {c}@{}.{}.{}: use {c}-next instead",
                i % 9,
                i % 20,
                i % 5
            ),
        };
        out.push_str(&line);
        out.push('\n');
        if i % 200 == 199 {
            out.push_str("+ curl -H 'Authorization: Bearer efacb84d66ead7e0e30817463c42f462d9e22985' https://api.acme-corp.io/v2 from 45.17.51.84\n");
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let text = build_output(20_000);
    let scrubber = Scrubber::default();
    let mut group = c.benchmark_group("scrub");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("build_output_lines", |b| {
        b.iter(|| {
            let mut ls = LineScrubber::new(&scrubber);
            let mut n = 0usize;
            for line in text.lines() {
                n += ls.scrub_line(black_box(line)).len();
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
