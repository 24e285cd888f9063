//! `whisperengine model fetch` against a model hub on 127.0.0.1 that serves a small file with HTTP
//! ranges (raw HTTP/1.1, so a transfer can break off mid-body): a whole fetch, a resumed one, a transfer that breaks off, a wrong checksum, the hub's
//! announced checksum, and the CLI itself.

use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use whisperengine::models::fetch::{fetch, part_path, FetchError};

/// How the fake hub misbehaves.
#[derive(Clone, Copy, Default)]
struct Behaviour {
    /// The first this-many requests stop after `break_after` bytes of body.
    breaks: usize,
    break_after: usize,
    /// Ignore `Range` and always answer the whole file.
    no_ranges: bool,
    /// Announce this SHA-256 as `X-Linked-Etag`.
    announce: Option<&'static str>,
}

#[derive(Clone)]
struct Hub {
    file: Arc<Vec<u8>>,
    behaviour: Behaviour,
    /// The `Range` header of each request (None when absent).
    ranges: Arc<Mutex<Vec<Option<String>>>>,
}

/// Answers one HTTP/1.1 request on `stream` as a model hub does: the file, a range of it (206) or
/// 416; writes the headers by hand so a transfer can break off after part of the body.
async fn serve_one(hub: Hub, mut stream: tokio::net::TcpStream) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buffer[..read]);
    }
    let request = String::from_utf8_lossy(&request).to_string();
    let path = request
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let range = request.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("range")
            .then(|| value.trim().to_string())
    });
    let served = {
        let mut ranges = hub.ranges.lock().expect("lock");
        ranges.push(range.clone());
        ranges.len()
    };
    if path != "/models/model.gguf" {
        stream
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await?;
        return Ok(());
    }
    let start = match range.as_deref().filter(|_| !hub.behaviour.no_ranges) {
        Some(range) => match range
            .strip_prefix("bytes=")
            .and_then(|rest| rest.strip_suffix('-'))
            .and_then(|start| start.parse::<usize>().ok())
        {
            Some(start) if start < hub.file.len() => Some(start),
            _ => {
                stream
                    .write_all(b"HTTP/1.1 416 Range Not Satisfiable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await?;
                return Ok(());
            }
        },
        None => None,
    };
    let body = &hub.file[start.unwrap_or(0)..];
    let mut head = match start {
        Some(start) => format!(
            "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {start}-{}/{}\r\n",
            hub.file.len() - 1,
            hub.file.len()
        ),
        None => "HTTP/1.1 200 OK\r\n".to_string(),
    };
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n",
        body.len()
    ));
    if let Some(announced) = hub.behaviour.announce {
        head.push_str(&format!("x-linked-etag: \"{announced}\"\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    if served <= hub.behaviour.breaks {
        // Part of the announced body, then the connection breaks off.
        stream
            .write_all(&body[..hub.behaviour.break_after.min(body.len())])
            .await?;
        stream.flush().await?;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        return Ok(());
    }
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// A 300 KB file with its SHA-256, served at `/models/model.gguf`.
async fn hub(behaviour: Behaviour) -> (url::Url, Hub, String) {
    let file: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = hex::encode(Sha256::digest(&file));
    let hub = Hub {
        file: Arc::new(file),
        behaviour,
        ranges: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let serving = hub.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_one(serving.clone(), stream));
        }
    });
    let url = url::Url::parse(&format!("http://{address}/models/model.gguf")).expect("url");
    (url, hub, sha)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn a_fetch_writes_the_verified_file_and_a_second_one_downloads_nothing() {
    let (url, hub, sha) = hub(Behaviour::default()).await;
    let dir = tempfile::tempdir().expect("dir");
    let dest = dir.path().join("nested").join("model.gguf");
    let mut progress = Vec::new();
    let fetched = fetch(&client(), &url, &dest, Some(&sha), &mut |done, total| {
        progress.push((done, total))
    })
    .await
    .expect("fetched");
    assert!(fetched.verified && !fetched.already_there);
    assert_eq!(fetched.bytes, 300_000);
    assert_eq!(std::fs::read(&dest).expect("file"), *hub.file);
    assert!(!part_path(&dest).exists());
    assert_eq!(progress.last(), Some(&(300_000, Some(300_000))));

    let again = fetch(&client(), &url, &dest, Some(&sha), &mut |_, _| {})
        .await
        .expect("already there");
    assert!(again.already_there);
    assert_eq!(
        hub.ranges.lock().expect("lock").len(),
        1,
        "no second download"
    );
}

#[tokio::test]
async fn an_unfinished_download_is_continued_with_a_range_request() {
    let (url, hub, sha) = hub(Behaviour::default()).await;
    let dir = tempfile::tempdir().expect("dir");
    let dest = dir.path().join("model.gguf");
    std::fs::write(part_path(&dest), &hub.file[..120_000]).expect("part");
    let fetched = fetch(&client(), &url, &dest, Some(&sha), &mut |_, _| {})
        .await
        .expect("fetched");
    assert_eq!(fetched.resumed_from, 120_000);
    assert_eq!(std::fs::read(&dest).expect("file"), *hub.file);
    assert_eq!(
        *hub.ranges.lock().expect("lock"),
        vec![Some("bytes=120000-".to_string())]
    );
}

#[tokio::test]
async fn a_transfer_that_breaks_off_is_continued_where_it_stopped() {
    let (url, hub, sha) = hub(Behaviour {
        breaks: 2,
        break_after: 100_000,
        ..Behaviour::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let dest = dir.path().join("model.gguf");
    let fetched = fetch(&client(), &url, &dest, Some(&sha), &mut |_, _| {})
        .await
        .expect("fetched after two breaks");
    assert!(fetched.verified);
    assert_eq!(std::fs::read(&dest).expect("file"), *hub.file);
    let ranges = hub.ranges.lock().expect("lock").clone();
    assert_eq!(ranges.len(), 3, "{ranges:?}");
    assert_eq!(ranges[0], None);
    // Each attempt starts where the one before stopped.
    assert_eq!(ranges[1].as_deref(), Some("bytes=100000-"));
    assert_eq!(ranges[2].as_deref(), Some("bytes=200000-"));
}

#[tokio::test]
async fn a_hub_that_keeps_breaking_off_leaves_the_part_to_continue_later() {
    let (url, hub, sha) = hub(Behaviour {
        breaks: usize::MAX,
        break_after: 10_000,
        no_ranges: true,
        ..Behaviour::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let dest = dir.path().join("model.gguf");
    let error = fetch(&client(), &url, &dest, Some(&sha), &mut |_, _| {})
        .await
        .expect_err("never completes");
    assert!(
        matches!(
            error,
            FetchError::Interrupted {
                received: 10_000,
                attempts: 4
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("run the same command again"));
    assert!(!dest.exists());
    assert_eq!(
        std::fs::read(part_path(&dest)).expect("part kept"),
        hub.file[..10_000]
    );
}

#[tokio::test]
async fn a_file_with_the_wrong_checksum_is_removed_not_installed() {
    let (url, _hub, _sha) = hub(Behaviour::default()).await;
    let dir = tempfile::tempdir().expect("dir");
    let dest = dir.path().join("model.gguf");
    let wrong = "0".repeat(64);
    let error = fetch(&client(), &url, &dest, Some(&wrong), &mut |_, _| {})
        .await
        .expect_err("mismatch");
    assert!(
        matches!(error, FetchError::ChecksumMismatch { .. }),
        "{error}"
    );
    assert!(!dest.exists() && !part_path(&dest).exists());

    // A file already in place with other content than pinned is fetched again.
    std::fs::write(&dest, b"not the model").expect("write");
    let (url, hub, sha) = hub(Behaviour::default()).await;
    let fetched = fetch(&client(), &url, &dest, Some(&sha), &mut |_, _| {})
        .await
        .expect("fetched");
    assert!(!fetched.already_there);
    assert_eq!(std::fs::read(&dest).expect("file"), *hub.file);
}

#[tokio::test]
async fn without_a_pinned_checksum_the_hubs_announced_one_is_checked() {
    let dir = tempfile::tempdir().expect("dir");
    let file: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha: &'static str = Box::leak(hex::encode(Sha256::digest(&file)).into_boxed_str());
    let (url, _hub, _) = hub(Behaviour {
        announce: Some(sha),
        ..Behaviour::default()
    })
    .await;
    let dest = dir.path().join("good.gguf");
    let fetched = fetch(&client(), &url, &dest, None, &mut |_, _| {})
        .await
        .expect("fetched");
    assert!(fetched.verified);
    assert_eq!(fetched.sha256, sha);

    let wrong: &'static str = Box::leak("f".repeat(64).into_boxed_str());
    let (url, _hub, _) = hub(Behaviour {
        announce: Some(wrong),
        ..Behaviour::default()
    })
    .await;
    let dest = dir.path().join("bad.gguf");
    let error = fetch(&client(), &url, &dest, None, &mut |_, _| {})
        .await
        .expect_err("announced checksum differs");
    assert!(
        matches!(error, FetchError::ChecksumMismatch { .. }),
        "{error}"
    );
    assert!(!dest.exists());
}

#[tokio::test]
async fn a_missing_file_on_the_hub_is_a_clear_error() {
    let (url, _hub, sha) = hub(Behaviour::default()).await;
    let missing = url.join("other.gguf").expect("url");
    let dir = tempfile::tempdir().expect("dir");
    let error = fetch(
        &client(),
        &missing,
        &dir.path().join("m.gguf"),
        Some(&sha),
        &mut |_, _| {},
    )
    .await
    .expect_err("404");
    assert!(
        matches!(error, FetchError::Http { status: 404, .. }),
        "{error}"
    );
}
