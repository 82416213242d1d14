//! Rebuilds the crate when a schema migration changes (`sqlx::migrate!`
//! embeds `migrations/` at compile time), and links the binaries with packed
//! relative relocations where the toolchain and C library support them.
//!
//! A position-independent executable carries one relocation per pointer in
//! its static data (every `&'static str` of the pattern library, every
//! vtable); the dynamic loader reads that table at every start. Packed
//! (`DT_RELR`, glibc ≥ 2.36, binutils ≥ 2.38 or lld) it is a few kilobytes
//! instead of hundreds, which is measurable in earlyexit's startup budget
//! (docs/BENCHMARKS.md). The probe links and runs a tiny C program with the
//! flag, so an older linker or C library simply gets the usual table.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=EARLYEXIT_NO_RELR");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.ends_with("-linux-gnu")
        && std::env::var_os("EARLYEXIT_NO_RELR").is_none()
        && relr_works()
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether `cc` links a program with `-z pack-relative-relocs` that then runs.
fn relr_works() -> bool {
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return false;
    };
    let src = out.join("relr_probe.c");
    let exe = out.join("relr_probe");
    if std::fs::write(&src, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let linked = Command::new(&cc)
        .arg("-Wl,-z,pack-relative-relocs")
        .arg("-fPIE")
        .arg("-pie")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success() && o.stderr.is_empty());
    linked && Command::new(&exe).status().is_ok_and(|s| s.success())
}
