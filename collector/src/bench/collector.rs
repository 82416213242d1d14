//! The collector under test, as a child process (`earlyexit-collector
//! serve --insecure` on 127.0.0.1:0), so its CPU and memory are its own.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

/// The collector child process; killed on drop if still running.
pub struct Collector {
    child: Child,
    /// Its gRPC address, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Collector {
    /// Starts this program's `serve` on `store` and waits for its address.
    pub async fn start(store: &str) -> Result<Collector> {
        let exe: PathBuf = std::env::current_exe().context("cannot find this program")?;
        let mut child = Command::new(exe)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--insecure",
                "--store",
                store,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the collector")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await??;
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .with_context(|| format!("the collector did not start: {line:?}"))?
            .to_owned();
        Ok(Collector { child, url })
    }

    /// The child's pid, for `/proc` readings.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it with SIGTERM (a graceful drain) and checks it exited 0.
    pub fn stop(&mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the collector exited with {status}");
        }
        Ok(())
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
