//! Load, memory and disk at the start of a run ([`SystemContext`]): two
//! small `/proc` reads and one `statvfs`.
//!
//! It must never fail or block a run: what the platform does not say
//! (non-Linux, an unreadable file system) is `None`.

use std::fs;
use std::path::Path;

/// Load, memory and disk at the start of a run. `None` when the platform
/// does not say (non-Linux for load and memory, or an unreadable file system).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SystemContext {
    /// 1-minute load average (`/proc/loadavg`).
    pub load_avg_1m: Option<f64>,
    /// Memory available for new work, MiB (`MemAvailable` in `/proc/meminfo`).
    pub mem_available_mb: Option<f64>,
    /// Space available to unprivileged users on the working directory's
    /// file system, MiB (`statvfs`).
    pub disk_free_mb: Option<f64>,
}

/// Reads [`SystemContext`] for a run in `cwd`: two small `/proc` reads and
/// one `statvfs`. Never fails; missing data is `None`.
pub fn system_context(cwd: &Path) -> SystemContext {
    SystemContext {
        load_avg_1m: fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| parse_loadavg(&text)),
        mem_available_mb: fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| parse_mem_available_mb(&text)),
        disk_free_mb: disk_free_mb(cwd),
    }
}

const BYTES_PER_MIB: f64 = 1024.0 * 1024.0;

/// The first field of `/proc/loadavg` (`0.52 0.58 0.59 1/467 12345`).
fn parse_loadavg(text: &str) -> Option<f64> {
    text.split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// `MemAvailable:   12345678 kB` in `/proc/meminfo`, as MiB.
fn parse_mem_available_mb(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let value: f64 = fields.next()?.parse().ok()?;
    let scale = match fields.next() {
        Some("kB") | None => 1024.0,
        Some("mB" | "MB") => BYTES_PER_MIB,
        Some(_) => return None,
    };
    Some(value * scale / BYTES_PER_MIB)
}

fn disk_free_mb(cwd: &Path) -> Option<f64> {
    let stat = rustix::fs::statvfs(cwd).ok()?;
    let block = if stat.f_frsize != 0 {
        stat.f_frsize
    } else {
        stat.f_bsize
    };
    Some(stat.f_bavail as f64 * block as f64 / BYTES_PER_MIB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_parsed() {
        assert_eq!(parse_loadavg("0.52 0.58 0.59 1/467 12345\n"), Some(0.52));
        assert_eq!(parse_loadavg(""), None);
        assert_eq!(parse_loadavg("nan 1 1"), None);
        let meminfo =
            "MemTotal:       16384000 kB\nMemFree:  100 kB\nMemAvailable:    2097152 kB\n";
        assert_eq!(parse_mem_available_mb(meminfo), Some(2048.0));
        assert_eq!(parse_mem_available_mb("MemTotal: 1 kB\n"), None);
        assert_eq!(parse_mem_available_mb("MemAvailable: lots kB\n"), None);
    }

    #[test]
    fn system_context_reports_disk_and_never_fails() {
        let dir = tempfile::tempdir().unwrap();
        let context = system_context(dir.path());
        assert!(context.disk_free_mb.is_some_and(|mb| mb >= 0.0));
        if Path::new("/proc/loadavg").exists() {
            assert!(context.load_avg_1m.is_some());
            assert!(context.mem_available_mb.is_some_and(|mb| mb > 0.0));
        }
        let missing = system_context(Path::new("/nonexistent/earlyexit"));
        assert_eq!(missing.disk_free_mb, None);
    }
}
