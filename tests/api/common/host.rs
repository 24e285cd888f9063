//! A host process started from the real binary (`whisperengine serve`), configured through its
//! environment only and asked through its local chat API; killed when dropped.

use std::io::BufRead;
use std::time::Duration;

pub struct HostProcess {
    child: std::process::Child,
    /// `host:port` of its HTTP listener.
    pub address: String,
}

impl HostProcess {
    /// Starts `serve` with an empty environment plus `PATH`, a loopback listener on a free port,
    /// no rate limit, warnings only in its log, the local chat API behind [`super::LOCAL_API_TOKEN`],
    /// and `env` (which may override those); waits up to
    /// 60 s for it to print its address.
    pub fn spawn(env: &[(&str, String)]) -> HostProcess {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_whisperengine"));
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HTTP_BIND", "127.0.0.1:0")
            .env("RATE_LIMIT_PER_MINUTE", "0")
            .env("RUST_LOG", "warn")
            .env("LOCAL_API_TOKEN", super::LOCAL_API_TOKEN)
            .current_dir(std::env::temp_dir())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the host binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.trim().strip_prefix("local chat: http://") {
                    let _ = sender.send(rest.trim_end_matches('/').to_string());
                }
            }
        });
        let address = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("the host prints its address");
        HostProcess { child, address }
    }

    /// Sends `text` as the local-chat user `user` and returns the reply.
    pub async fn ask(&self, client: &reqwest::Client, user: &str, text: &str) -> String {
        let response = client
            .post(format!("http://{}/api/chat", self.address))
            .bearer_auth(super::LOCAL_API_TOKEN)
            .json(&serde_json::json!({ "text": text, "user": user }))
            .send()
            .await
            .expect("the host answers");
        assert!(response.status().is_success(), "{}", response.status());
        let body: serde_json::Value = response.json().await.expect("a JSON reply");
        body["reply"].as_str().unwrap_or_default().to_string()
    }
}

impl HostProcess {
    /// Sends SIGTERM and waits (at most 60 s) for the process to exit; returns its status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        terminate(&mut self.child, String::new)
    }
}

/// Sends SIGTERM to `child` and waits (at most 60 s) for it to exit; returns its status. A child
/// still running after that fails the test with `context()` (say, its log) in the message.
pub fn terminate(
    child: &mut std::process::Child,
    context: impl Fn() -> String,
) -> std::process::ExitStatus {
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success(), "kill -TERM {} failed", child.id());
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited on") {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the host did not exit within 60 s of SIGTERM:\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
