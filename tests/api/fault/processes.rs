//! The fault test's own services: a private PostgreSQL cluster (initdb into a temporary directory),
//! a private redis-server, and the host binary as a child process with its log in a file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

pub fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A private PostgreSQL cluster in a temporary directory (run as the `postgres` user under root).
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    _dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl Postgres {
    fn bin_dir() -> PathBuf {
        if let Ok(dir) = std::env::var("PG_BIN") {
            return PathBuf::from(dir);
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok())
                    .map(|entry| entry.path().join("bin"))
                    .filter(|bin| bin.join("initdb").exists())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found.pop().expect(
            "the fault test needs PostgreSQL's server binaries (initdb, pg_ctl): install \
             postgresql or set PG_BIN (see DEVELOPERS.md)",
        )
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    pub fn init() -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("we-fault-pg")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        let as_postgres = is_root();
        if as_postgres {
            run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(dir.path()),
                "chown the cluster directory to postgres",
            );
        }
        let postgres = Postgres {
            bin: Self::bin_dir(),
            data,
            _dir: dir,
            port: free_port(),
            as_postgres,
        };
        run(
            postgres
                .command("initdb")
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "-D"])
                .arg(&postgres.data)
                .stdout(Stdio::null()),
            "initdb",
        );
        postgres.start();
        postgres
    }

    fn socket_dir(&self) -> &Path {
        self.data.parent().unwrap()
    }

    pub fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.socket_dir().display()
        );
        run(
            self.command("pg_ctl")
                .args(["-w", "-t", "60", "-D"])
                .arg(&self.data)
                .args(["-o", &options, "-l"])
                .arg(self.socket_dir().join("postgres.log"))
                .arg("start")
                .stdout(Stdio::null()),
            "pg_ctl start",
        );
    }

    pub fn stop(&self) {
        run(
            self.command("pg_ctl")
                .args(["-w", "-t", "60", "-m", "fast", "-D"])
                .arg(&self.data)
                .arg("stop")
                .stdout(Stdio::null()),
            "pg_ctl stop",
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A private redis-server (no persistence: a killed Redis comes back empty).
pub struct Redis {
    child: Option<Child>,
}

impl Redis {
    pub fn start(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the fault test needs redis-server (see DEVELOPERS.md)");
        let redis = Redis { child: Some(child) };
        wait_for_port(port, "redis-server");
        redis
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} is not listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The host binary, `serve`, with its output in a log file.
pub struct Host {
    child: Child,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
}

impl Host {
    pub fn start(env: &[(String, String)], workdir: &Path, generation: usize) -> Host {
        let log = workdir.join(format!("host-{generation}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_whisperengine"))
            .arg("serve")
            .current_dir(workdir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Host { child, log }
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let log = &self.log;
        crate::common::host::terminate(&mut self.child, || tail(log))
    }

    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

/// The warnings, errors and panics in the given logs (at most 60 lines each), to show why a
/// message went missing.
pub fn problems(paths: &[PathBuf]) -> String {
    let mut out = String::new();
    for path in paths {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        out.push_str(&format!("--- {}\n", path.display()));
        for line in text
            .lines()
            .filter(|line| {
                line.contains("WARN") || line.contains("ERROR") || line.contains("panicked")
            })
            .take(60)
        {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The last lines of a log file.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
