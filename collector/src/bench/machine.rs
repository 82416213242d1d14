//! What else the machine was doing while a phase ran, measured rather than
//! guessed: the load average before and after, and the CPU the whole
//! machine used minus what the bench, the collector and (for PostgreSQL)
//! the database server used. Linux `/proc` only; elsewhere every figure is
//! missing (NaN) and the phases still run.

use std::time::Instant;

/// Clock ticks per second in `/proc/stat` and `/proc/PID/stat` (USER_HZ).
/// Linux reports these in 1/100 s on every architecture it runs on.
const TICKS_PER_SEC: f64 = 100.0;

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
}

impl Snapshot {
    /// Reads the counters now; `collector` is the child's pid, `database`
    /// whether to count PostgreSQL's server processes.
    pub fn take(collector: Option<u32>, database: bool) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            load_1m: load_1m().unwrap_or(f64::NAN),
            machine_busy: machine_busy_ticks().unwrap_or(f64::NAN),
            bench: process_ticks("self").unwrap_or(f64::NAN),
            collector: collector
                .map(|pid| process_ticks(&pid.to_string()).unwrap_or(f64::NAN))
                .unwrap_or(0.0),
            database: if database {
                ticks_of_processes_named(POSTGRES_COMM)
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

/// Busy ticks of all CPUs: the `cpu` line of `/proc/stat` minus idle and
/// iowait (guest time is already inside user and nice).
fn machine_busy_ticks() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|t| t.parse().unwrap_or(0.0))
        .collect();
    let total: f64 = ticks.iter().sum();
    Some(total - ticks.get(3)? - ticks.get(4)?)
}

/// User + system ticks of process `pid` (or `self`).
fn process_ticks(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which may hold spaces, in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?)
}

/// Summed ticks of every process whose command name is `comm`.
fn ticks_of_processes_named(comm: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return f64::NAN;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == comm)
        })
        .filter_map(|pid| process_ticks(&pid))
        .sum()
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
