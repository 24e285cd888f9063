//! Host processes for the load bench: real child processes of the `whisperengine` executable
//! (`serve`), configured only through their environment, each in its own working folder (no stray
//! `.env` is read), with the time from spawn to the first 200 of `/readyz` and their resident memory
//! from `/proc`.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

/// How long a host may take to become ready before the bench gives up on it.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// One running host process; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct HostProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// Spawn → first 200 from `/readyz`.
    pub ready_after: Duration,
    log: PathBuf,
}

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_mb: f64,
    /// VmHWM: the most that was ever resident.
    pub peak_mb: f64,
}

impl HostProcess {
    /// Spawns `<executable> serve` with exactly `environment` (nothing inherited) in `folder` and
    /// waits for ready.
    pub async fn start(
        executable: &Path,
        environment: &[(String, String)],
        folder: &Path,
        client: &reqwest::Client,
    ) -> anyhow::Result<HostProcess> {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        let log = folder.join("host.log");
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let started = Instant::now();
        let mut child = Command::new(executable)
            .arg("serve")
            .env_clear()
            .envs(environment.iter().map(|(key, value)| (key, value)))
            .current_dir(folder)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting a host process of {}", executable.display()))?;
        let address = read_address(&mut child);
        let mut host = HostProcess {
            child,
            base_url: String::new(),
            ready_after: Duration::ZERO,
            log,
        };
        let address = match tokio::time::timeout(READY_TIMEOUT, address).await {
            Ok(Ok(address)) => address,
            Ok(Err(_)) | Err(_) => {
                bail!("the host printed no address; its log:\n{}", host.log_tail())
            }
        };
        host.base_url = format!("http://{address}");
        let ready = format!("{}/readyz", host.base_url);
        loop {
            let is_ready = client
                .get(&ready)
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if is_ready {
                break;
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!(
                    "the host was not ready within {READY_TIMEOUT:?}; its log:\n{}",
                    host.log_tail()
                );
            }
            if let Ok(Some(status)) = host.child.try_wait() {
                bail!("the host exited ({status}); its log:\n{}", host.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        host.ready_after = started.elapsed();
        Ok(host)
    }

    /// Resident memory now and at its peak.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let field = |name: &str| -> anyhow::Result<f64> {
            status_mb(&status, name).with_context(|| format!("{name} missing in {path}"))
        };
        Ok(Memory {
            rss_mb: field("VmRSS:")?,
            peak_mb: field("VmHWM:")?,
        })
    }

    /// Asks the host to shut down (SIGTERM: it finishes in-flight work and flushes) and waits up
    /// to 15 s, then kills it.
    pub async fn stop(mut self) {
        self.terminate().await;
    }

    async fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last lines of the host's log, for error messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads the child's stdout on a thread until the banner names the listener, and keeps draining it
/// so the host never blocks on a full pipe.
fn read_address(child: &mut Child) -> tokio::sync::oneshot::Receiver<String> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut sender = Some(sender);
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.trim().strip_prefix("local chat: http://") {
                    if let Some(sender) = sender.take() {
                        let _ = sender.send(rest.trim_end_matches('/').to_string());
                    }
                }
            }
        });
    }
    receiver
}

/// A `/proc/<pid>/status` figure (`VmRSS:`, `VmHWM:`, given with its colon) in MB.
pub(crate) fn status_mb(status: &str, name: &str) -> Option<f64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map(|kilobytes| kilobytes / 1024.0)
}
