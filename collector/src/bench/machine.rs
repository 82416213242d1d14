//! What else the machine was doing while a phase ran, measured rather than
//! guessed: the load average before and after, the CPU the whole machine
//! used minus what the bench, the collector and (for PostgreSQL) the
//! database server used, the time CPUs sat waiting for the disk, and the
//! bytes written to the disks by others than those three (a neighbour's
//! writeback slows our syncs even when the CPUs are idle). Linux `/proc` only; elsewhere every figure is
//! missing (NaN) and the phases still run.

use std::time::Instant;

/// Clock ticks per second in `/proc/stat` and `/proc/PID/stat` (USER_HZ).
/// Linux reports these in 1/100 s on every architecture it runs on.
const TICKS_PER_SEC: f64 = 100.0;

/// Bytes per sector in `/proc/diskstats`, whatever the device's own.
const SECTOR_BYTES: f64 = 512.0;

/// The process name PostgreSQL's server processes run under.
const POSTGRES_COMM: &str = "postgres";

/// CPU counters at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    at: Instant,
    load_1m: f64,
    /// Ticks all CPUs spent busy (everything but idle and iowait).
    machine_busy: f64,
    /// Ticks of this process (the load generator).
    bench: f64,
    /// Ticks of the collector child.
    collector: f64,
    /// Ticks of the database server's processes (PostgreSQL only).
    database: f64,
    /// Ticks all CPUs spent idle with I/O outstanding.
    iowait: f64,
    /// Bytes written to the machine's disks.
    disk_written: f64,
    /// Bytes the bench, the collector and the database server wrote.
    ours_written: f64,
}

/// Where the machine's CPU went over one phase, in cores (1.0 = one core
/// busy for the whole phase).
#[derive(Debug, Clone, Copy)]
pub struct Neighbours {
    /// 1-minute load average at the phase's start.
    pub load_before: f64,
    /// 1-minute load average at the phase's end.
    pub load_after: f64,
    /// Cores in use on the whole machine.
    pub machine: f64,
    /// Cores used by the bench process (load generator).
    pub bench: f64,
    /// Cores used by the collector.
    pub collector: f64,
    /// Cores used by PostgreSQL's processes (0 for SQLite). Other users of
    /// the same server are counted here too.
    pub database: f64,
    /// Everything else: the busy neighbour.
    pub others: f64,
    /// Cores' worth of time spent waiting for the disk.
    pub iowait: f64,
    /// MB/s written to the disks by other processes (and the kernel).
    pub others_written_mb_s: f64,
}

impl Snapshot {
    /// Reads the counters now; `collector` is the child's pid, `database`
    /// whether to count PostgreSQL's server processes.
    pub fn take(collector: Option<u32>, database: bool) -> Snapshot {
        let (machine_busy, iowait) = machine_ticks().unwrap_or((f64::NAN, f64::NAN));
        let written = |pid: &str| written_bytes(pid).unwrap_or(0.0);
        let ours_written = written("self")
            + collector.map_or(0.0, |pid| written(&pid.to_string()))
            + if database {
                pids_named(POSTGRES_COMM).iter().map(|p| written(p)).sum()
            } else {
                0.0
            };
        Snapshot {
            at: Instant::now(),
            load_1m: load_1m().unwrap_or(f64::NAN),
            machine_busy,
            iowait,
            disk_written: disk_written_bytes().unwrap_or(f64::NAN),
            ours_written,
            bench: process_ticks("self").unwrap_or(f64::NAN),
            collector: collector
                .map(|pid| process_ticks(&pid.to_string()).unwrap_or(f64::NAN))
                .unwrap_or(0.0),
            database: if database {
                pids_named(POSTGRES_COMM)
                    .iter()
                    .filter_map(|p| process_ticks(p))
                    .sum()
            } else {
                0.0
            },
        }
    }

    /// The CPU used between `self` and `later`, per user.
    pub fn until(&self, later: &Snapshot) -> Neighbours {
        let secs = later.at.duration_since(self.at).as_secs_f64().max(1e-3);
        let cores = |a: f64, b: f64| (b - a).max(0.0) / TICKS_PER_SEC / secs;
        let machine = cores(self.machine_busy, later.machine_busy);
        let bench = cores(self.bench, later.bench);
        let collector = cores(self.collector, later.collector);
        let database = cores(self.database, later.database);
        Neighbours {
            load_before: self.load_1m,
            load_after: later.load_1m,
            machine,
            bench,
            collector,
            database,
            others: (machine - bench - collector - database).max(0.0),
            iowait: cores(self.iowait, later.iowait),
            others_written_mb_s: ((later.disk_written - self.disk_written)
                - (later.ours_written - self.ours_written))
                .max(0.0)
                / 1e6
                / secs,
        }
    }
}

/// CPUs this machine has online, for the report.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn load_1m() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Busy and iowait ticks of all CPUs, from the `cpu` line of `/proc/stat`:
/// busy is everything but idle and iowait (guest time is already inside
/// user and nice).
fn machine_ticks() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|t| t.parse().unwrap_or(0.0))
        .collect();
    let total: f64 = ticks.iter().sum();
    let (idle, iowait) = (*ticks.get(3)?, *ticks.get(4)?);
    Some((total - idle - iowait, iowait))
}

/// Bytes written to whole disks (`/proc/diskstats` rows that are a block
/// device of their own in `/sys/block`, so partitions are not counted
/// twice; loop and RAM devices are left out).
fn disk_written_bytes() -> Option<f64> {
    let stats = std::fs::read_to_string("/proc/diskstats").ok()?;
    let sectors = stats
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let name = *f.get(2)?;
            let whole = std::path::Path::new("/sys/block").join(name).exists();
            let virtual_device = name.starts_with("loop") || name.starts_with("ram");
            (whole && !virtual_device).then(|| f.get(9)?.parse::<f64>().ok())?
        })
        .sum::<f64>();
    Some(sectors * SECTOR_BYTES)
}

/// Bytes process `pid` (or `self`) caused to be written to storage.
fn written_bytes(pid: &str) -> Option<f64> {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))?
        .trim()
        .parse()
        .ok()
}

/// User + system ticks of process `pid` (or `self`).
fn process_ticks(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which may hold spaces, in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?)
}

/// The pids of every process whose command name is `comm`.
fn pids_named(comm: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == comm)
        })
        .collect()
}

/// The collector's peak resident memory so far, MB (`VmHWM`).
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The collector's user + system CPU seconds so far.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    process_ticks(&pid.to_string()).map(|t| t / TICKS_PER_SEC)
}
