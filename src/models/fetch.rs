//! Downloading a model file: resumable (a `.part` file continued with an HTTP `Range` request,
//! also after the transfer broke off), verified by SHA-256 before it takes the file's name, with
//! progress reported as it goes.

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// Attempts per fetch: a transfer that breaks off is continued where it stopped.
const ATTEMPTS: u32 = 4;
/// The wait after a broken-off attempt, times the attempt's number.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Why a fetch failed. The `.part` file is kept when resuming can help and removed when its
/// content is wrong.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the model hub answered HTTP {status} for {url}")]
    Http { status: u16, url: String },
    #[error("could not reach the model hub: {0}")]
    Transport(String),
    #[error("the transfer broke off after {received} bytes ({attempts} attempts); run the same command again to continue from there")]
    Interrupted { received: u64, attempts: u32 },
    #[error("the downloaded file's SHA-256 is {actual}, not {expected}: it was removed; run the same command again")]
    ChecksumMismatch { expected: String, actual: String },
    #[error("cannot write {path}: {message}")]
    Io { path: String, message: String },
}

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    /// Bytes that were already there from an earlier, broken-off transfer.
    pub resumed_from: u64,
    /// Whether the SHA-256 was checked against a known one (pinned or announced by the hub).
    pub verified: bool,
    /// The file was already there (and matched its pinned SHA-256): nothing was downloaded.
    pub already_there: bool,
}

/// Progress of a transfer: bytes so far and, when known, in all.
pub type OnProgress<'a> = &'a mut (dyn FnMut(u64, Option<u64>) + Send);

/// The `.part` file a transfer to `dest` writes into.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest
        .file_name()
        .map(|name| name.to_os_string())
        .unwrap_or_default();
    name.push(".part");
    dest.with_file_name(name)
}

/// Fetches `url` into `dest`, checking the SHA-256 against `pinned` or, without one, the hub's
/// `X-Linked-Etag` (the SHA-256 the Hugging Face hub announces for large files).
pub async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    dest: &Path,
    pinned: Option<&str>,
    on_progress: OnProgress<'_>,
) -> Result<Fetched, FetchError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |error: std::io::Error| FetchError::Io {
            path: path.clone(),
            message: error.to_string(),
        }
    };
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    if dest.exists() {
        let (bytes, sha256) = hash_file(dest).map_err(io(dest))?;
        let matches = pinned.is_none_or(|pinned| pinned.eq_ignore_ascii_case(&sha256));
        if matches {
            return Ok(Fetched {
                path: dest.to_path_buf(),
                bytes,
                sha256,
                resumed_from: 0,
                verified: pinned.is_some(),
                already_there: true,
            });
        }
        // A file of the right name with the wrong content is fetched again.
        std::fs::remove_file(dest).map_err(io(dest))?;
    }
    let part = part_path(dest);
    let mut first_offset = None;
    let mut last_error = None;
    for attempt in 1..=ATTEMPTS {
        let offset = std::fs::metadata(&part).map(|meta| meta.len()).unwrap_or(0);
        first_offset.get_or_insert(offset);
        match transfer(client, url, &part, offset, pinned, on_progress).await {
            Ok(Transfer::Complete { expected }) => {
                let (bytes, sha256) = hash_file(&part).map_err(io(&part))?;
                if let Some(expected) = &expected {
                    if !expected.eq_ignore_ascii_case(&sha256) {
                        let _ = std::fs::remove_file(&part);
                        return Err(FetchError::ChecksumMismatch {
                            expected: expected.clone(),
                            actual: sha256,
                        });
                    }
                }
                std::fs::rename(&part, dest).map_err(io(dest))?;
                return Ok(Fetched {
                    path: dest.to_path_buf(),
                    bytes,
                    sha256,
                    resumed_from: first_offset.unwrap_or(0),
                    verified: expected.is_some(),
                    already_there: false,
                });
            }
            Ok(Transfer::BrokeOff) => {
                last_error = None;
                tokio::time::sleep(RETRY_PAUSE * attempt).await;
            }
            Err(error @ (FetchError::Transport(_) | FetchError::Http { status: 500.., .. })) => {
                last_error = Some(error);
                tokio::time::sleep(RETRY_PAUSE * attempt).await;
            }
            Err(error) => return Err(error),
        }
    }
    let received = std::fs::metadata(&part).map(|meta| meta.len()).unwrap_or(0);
    match last_error {
        Some(error) if received == 0 => Err(error),
        _ => Err(FetchError::Interrupted {
            received,
            attempts: ATTEMPTS,
        }),
    }
}

enum Transfer {
    /// Everything announced arrived; `expected` is the SHA-256 to check, when known.
    Complete { expected: Option<String> },
    /// The body stopped short: continue with another attempt.
    BrokeOff,
}

/// One request: continues `part` from `offset` when the server honours the range, starts over
/// when it answers the whole file.
async fn transfer(
    client: &reqwest::Client,
    url: &Url,
    part: &Path,
    offset: u64,
    pinned: Option<&str>,
    on_progress: OnProgress<'_>,
) -> Result<Transfer, FetchError> {
    let io = |error: std::io::Error| FetchError::Io {
        path: part.display().to_string(),
        message: error.to_string(),
    };
    let mut request = client.get(url.clone());
    if offset > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={offset}-"));
    }
    let response = request
        .send()
        .await
        .map_err(|error| FetchError::Transport(error.without_url().to_string()))?;
    let status = response.status();
    let resumes = status == reqwest::StatusCode::PARTIAL_CONTENT
        && response
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|range| range.starts_with(&format!("bytes {offset}-")));
    if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE {
        // The part is as long as the file or longer: start over.
        std::fs::remove_file(part).map_err(io)?;
        return Ok(Transfer::BrokeOff);
    }
    if !status.is_success() {
        return Err(FetchError::Http {
            status: status.as_u16(),
            url: shown_url(url),
        });
    }
    let expected = pinned.map(str::to_string).or_else(|| {
        response
            .headers()
            .get("x-linked-etag")
            .and_then(|value| value.to_str().ok())
            .map(|etag| {
                etag.trim()
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .to_string()
            })
            .filter(|etag| etag.len() == 64 && etag.chars().all(|c| c.is_ascii_hexdigit()))
    });
    let start = if resumes { offset } else { 0 };
    let total = response.content_length().map(|length| length + start);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumes)
        .truncate(!resumes)
        .open(part)
        .map_err(io)?;
    let mut received = start;
    on_progress(received, total);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                file.write_all(&chunk).map_err(io)?;
                received += chunk.len() as u64;
                on_progress(received, total);
            }
            Err(_) => {
                file.flush().map_err(io)?;
                return Ok(Transfer::BrokeOff);
            }
        }
    }
    file.flush().map_err(io)?;
    file.sync_all().map_err(io)?;
    if total.is_some_and(|total| received < total) {
        return Ok(Transfer::BrokeOff);
    }
    Ok(Transfer::Complete { expected })
}

/// The size and SHA-256 (lowercase hex) of a file.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        bytes += read as u64;
    }
    Ok((bytes, hex::encode(hasher.finalize())))
}

/// The URL without user info or query, for messages.
fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.to_string()
}
