//! What the logs never hold, even at `RUST_LOG=trace`: the text of a message, the companion's reply,
//! and the token of an export link (its path is logged as `/export/…`). Driven against the real
//! binary (`whisperengine serve`) in desktop mode, with everything it prints on stdout and stderr
//! collected.

use crate::common::{self, TestDb};
use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A host process whose stdout and stderr are both kept.
struct LoggedHost {
    child: std::process::Child,
    address: String,
    output: Arc<Mutex<String>>,
}

impl LoggedHost {
    fn spawn(db: &TestDb) -> LoggedHost {
        let personalities =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("personalities");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_whisperengine"));
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DEPLOYMENT_MODE", "desktop")
            .env("HTTP_BIND", "127.0.0.1:0")
            .env("RATE_LIMIT_PER_MINUTE", "0")
            .env("RUST_LOG", "trace")
            .env("DATABASE_URL", &db.url)
            .env("PERSONALITIES_DIR", personalities)
            .current_dir(std::env::temp_dir())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if db.name == "postgres" {
            if let Some(url) = common::redis_url() {
                command.env("REDIS_URL", url);
                command.env("REDIS_KEY_PREFIX", format!("{}:", common::unique_prefix()));
            }
        }
        let mut child = command.spawn().expect("the host binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        let (address_found, address) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        for (stream, sender) in [
            (
                Box::new(stdout) as Box<dyn std::io::Read + Send>,
                Some(address_found),
            ),
            (Box::new(stderr), None),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let (Some(sender), Some(rest)) =
                        (&sender, line.trim().strip_prefix("local chat: http://"))
                    {
                        let _ = sender.send(rest.trim_end_matches('/').to_string());
                    }
                    let mut output = output.lock().expect("output lock");
                    output.push_str(&line);
                    output.push('\n');
                }
            });
        }
        let address = address
            .recv_timeout(Duration::from_secs(60))
            .expect("the host prints its address");
        LoggedHost {
            child,
            address,
            output,
        }
    }

    async fn ask(&self, client: &reqwest::Client, text: &str) -> String {
        let response = client
            .post(format!("http://{}/api/chat", self.address))
            .json(&serde_json::json!({ "text": text, "user": "logreader" }))
            .send()
            .await
            .expect("the host answers");
        assert!(response.status().is_success(), "{}", response.status());
        let body: serde_json::Value = response.json().await.expect("a JSON reply");
        body["reply"].as_str().unwrap_or_default().to_string()
    }

    /// Stops the process and returns everything it printed.
    fn stop(mut self) -> String {
        common::host::terminate(&mut self.child, String::new);
        // The reader threads get the last lines once the pipes close.
        let started = Instant::now();
        let mut last = 0;
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let length = self.output.lock().expect("output lock").len();
            if length == last || started.elapsed() > Duration::from_secs(5) {
                break;
            }
            last = length;
        }
        let output = self.output.lock().expect("output lock").clone();
        output
    }
}

impl Drop for LoggedHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn no_message_text_reply_or_export_token_reaches_the_logs_even_at_trace() {
    for (db, _) in common::test_setups().await {
        let host = LoggedHost::spawn(&db);
        let client = reqwest::Client::new();
        let marker = format!("zebracorn{:08x}", rand::random::<u32>());
        let reply = host
            .ask(&client, &format!("My secret word is {marker}, remember it"))
            .await;
        assert!(!reply.is_empty(), "{}: answered", db.name);
        let recalled = host
            .ask(&client, "What is my secret word? Please tell me")
            .await;
        let export = host.ask(&client, "/export").await;
        let token: String = export
            .split("/export/")
            .nth(1)
            .map(|rest| rest.chars().take_while(char::is_ascii_hexdigit).collect())
            .unwrap_or_default();
        assert_eq!(token.len(), 64, "{}: a link in {export}", db.name);
        let download = client
            .get(format!("http://{}/export/{token}", host.address))
            .send()
            .await
            .expect("the host answers");
        assert_eq!(download.status(), 200, "{}", db.name);
        let document = download.text().await.expect("a body");
        assert!(
            document.contains(&marker),
            "{}: the export holds the message",
            db.name
        );

        let logs = host.stop();
        assert!(
            logs.contains("/export/…"),
            "{}: the download was logged, its token redacted (trace is on):\n{}",
            db.name,
            tail(&logs)
        );
        assert!(
            !logs.contains(&marker),
            "{}: the message text was logged:\n{}",
            db.name,
            lines_with(&logs, &marker)
        );
        assert!(
            !logs.contains(&token),
            "{}: the export token was logged:\n{}",
            db.name,
            lines_with(&logs, &token)
        );
        for said in [&reply, &recalled] {
            let sample: String = said.chars().take(40).collect();
            if sample.len() >= 20 {
                assert!(
                    !logs.contains(&sample),
                    "{}: a reply was logged:\n{}",
                    db.name,
                    lines_with(&logs, &sample)
                );
            }
        }
    }
}

fn lines_with(logs: &str, needle: &str) -> String {
    logs.lines()
        .filter(|line| line.contains(needle))
        .take(5)
        .collect::<Vec<_>>()
        .join("\n")
}

fn tail(logs: &str) -> String {
    let lines: Vec<&str> = logs.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
