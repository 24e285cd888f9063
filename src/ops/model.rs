//! `whisperengine model fetch|list|path|remove`: the local model's file, and the sentence
//! encoder's folder of local embeddings (`all-minilm-l6-v2`), fetched on request only.

use crate::config::Settings;
use crate::models::catalogue::{self, CatalogueEncoder, ENCODER};
use crate::models::fetch::{self, FetchError};
use crate::models::{CatalogueModel, LocalModelChoice, DEFAULT_MODEL};
use clap::Subcommand;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `whisperengine model …`.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download a catalogue model (the one LOCAL_MODEL names, else the default) into MODEL_DIR:
    /// resumable, verified by SHA-256.
    Fetch {
        /// A catalogue name (see `model list`); `all-minilm-l6-v2` is the sentence encoder of
        /// local embeddings.
        name: Option<String>,
        /// Take the file from this path instead of the model hub (checked the same way); for the
        /// encoder, a folder holding its files.
        #[arg(long)]
        from_file: Option<PathBuf>,
    },
    /// The catalogue, which models are fetched, and the one LOCAL_MODEL picks.
    List,
    /// Print the path of the model file LOCAL_MODEL picks (exit 1 when it is not there).
    Path,
    /// Delete a fetched model (and any unfinished download of it).
    Remove {
        /// A catalogue name; the one LOCAL_MODEL names when absent.
        name: Option<String>,
    },
}

/// Runs a `model` command; returns the exit code.
pub async fn run(settings: Settings, command: ModelCommand) -> anyhow::Result<i32> {
    match command {
        ModelCommand::Fetch { name, from_file } => fetch_command(&settings, name, from_file).await,
        ModelCommand::List => Ok(list(&settings)),
        ModelCommand::Path => Ok(path(&settings)),
        ModelCommand::Remove { name } => remove(&settings, name),
    }
}

/// The catalogue model `name` names, or the one LOCAL_MODEL names, or the default.
fn chosen(settings: &Settings, name: Option<&str>) -> Result<&'static CatalogueModel, String> {
    match name {
        Some(name) => catalogue::find(name).ok_or_else(|| {
            format!(
                "no model called `{name}`; the catalogue has {} and the sentence encoder {}",
                catalogue::names().join(", "),
                ENCODER.name
            )
        }),
        None => Ok(match &settings.local_model {
            LocalModelChoice::Named(model) => model,
            _ => DEFAULT_MODEL,
        }),
    }
}

/// [`chosen`], or `None` after saying on stderr why there is none.
fn chosen_or_say_why(settings: &Settings, name: Option<&str>) -> Option<&'static CatalogueModel> {
    chosen(settings, name)
        .map_err(|message| eprintln!("error: {message}"))
        .ok()
}

/// Whether `name` is the sentence encoder's.
fn is_encoder(name: Option<&str>) -> bool {
    name.is_some_and(|name| name.trim().eq_ignore_ascii_case(ENCODER.name))
}

fn hub_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(Duration::from_secs(60))
        .build()
}

/// Fetches (or copies from `from_folder`) each file of `encoder` into its folder in MODEL_DIR.
async fn fetch_encoder(
    settings: &Settings,
    encoder: &CatalogueEncoder,
    from_folder: Option<PathBuf>,
) -> anyhow::Result<i32> {
    let folder = settings.model_dir.path().join(encoder.folder);
    let client = hub_client()?;
    let mut fetched_bytes = 0;
    for file in encoder.files {
        let dest = folder.join(file.name);
        let result = match &from_folder {
            Some(source) => import(&source.join(file.name), &dest, Some(file.sha256)),
            None => {
                let url = match settings
                    .model_hub_url
                    .join(&format!("{}{}", encoder.hub_path, file.name))
                {
                    Ok(url) => url,
                    Err(error) => {
                        eprintln!("error: MODEL_HUB_URL cannot take the model's path: {error}");
                        return Ok(2);
                    }
                };
                eprintln!("fetching {} {} from {url}", encoder.name, file.name);
                let mut bar = ProgressLine::new();
                let result = fetch::fetch(
                    &client,
                    &url,
                    &dest,
                    Some(file.sha256),
                    &mut |done, total| bar.show(done, total),
                )
                .await;
                bar.finish();
                result
            }
        };
        match result {
            Ok(fetched) => fetched_bytes += fetched.bytes,
            Err(error) => {
                eprintln!("error: {}: {error}", file.name);
                return Ok(1);
            }
        }
    }
    println!(
        "{} fetched: {} ({} MB, SHA-256 verified)",
        encoder.name,
        folder.display(),
        fetched_bytes / 1_000_000
    );
    if settings.local_embeddings.as_deref() != Some(folder.as_path()) {
        println!(
            "To use it: DEPLOYMENT_MODE=desktop finds it by itself, or LOCAL_EMBEDDINGS={}",
            folder.display()
        );
    }
    Ok(0)
}

async fn fetch_command(
    settings: &Settings,
    name: Option<String>,
    from_file: Option<PathBuf>,
) -> anyhow::Result<i32> {
    if is_encoder(name.as_deref()) {
        return fetch_encoder(settings, &ENCODER, from_file).await;
    }
    let Some(model) = chosen_or_say_why(settings, name.as_deref()) else {
        return Ok(2);
    };
    let dest = settings.model_dir.file(model);
    let result = match from_file {
        Some(source) => import(&source, &dest, model.sha256),
        None => {
            let url = match settings.model_hub_url.join(model.hub_path) {
                Ok(url) => url,
                Err(error) => {
                    eprintln!("error: MODEL_HUB_URL cannot take the model's path: {error}");
                    return Ok(2);
                }
            };
            eprintln!("fetching {} from {}", model.name, url);
            let client = hub_client()?;
            let mut bar = ProgressLine::new();
            let result = fetch::fetch(&client, &url, &dest, model.sha256, &mut |done, total| {
                bar.show(done, total)
            })
            .await;
            bar.finish();
            result
        }
    };
    match result {
        Ok(fetched) => {
            let verified = if fetched.verified {
                "SHA-256 verified"
            } else {
                "no SHA-256 known to check against"
            };
            if fetched.already_there {
                println!(
                    "{} is already fetched: {} ({verified})",
                    model.name,
                    fetched.path.display()
                );
            } else {
                println!(
                    "{} fetched: {} ({} MB, {verified}{})",
                    model.name,
                    fetched.path.display(),
                    fetched.bytes / 1_000_000,
                    if fetched.resumed_from > 0 {
                        format!(", continued from {} MB", fetched.resumed_from / 1_000_000)
                    } else {
                        String::new()
                    }
                );
            }
            if !matches!(&settings.local_model, LocalModelChoice::Named(chosen) if chosen.name == model.name)
            {
                println!("To use it: LOCAL_MODEL={}", model.name);
            }
            Ok(0)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(1)
        }
    }
}

/// Copies a local file into place, checking the pinned SHA-256.
fn import(source: &Path, dest: &Path, pinned: Option<&str>) -> Result<fetch::Fetched, FetchError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |error: std::io::Error| FetchError::Io {
            path: path.clone(),
            message: error.to_string(),
        }
    };
    let (bytes, sha256) = fetch::hash_file(source).map_err(io(source))?;
    if let Some(pinned) = pinned {
        if !pinned.eq_ignore_ascii_case(&sha256) {
            return Err(FetchError::ChecksumMismatch {
                expected: pinned.to_string(),
                actual: sha256,
            });
        }
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let part = fetch::part_path(dest);
    std::fs::copy(source, &part).map_err(io(&part))?;
    std::fs::rename(&part, dest).map_err(io(dest))?;
    Ok(fetch::Fetched {
        path: dest.to_path_buf(),
        bytes,
        sha256,
        resumed_from: 0,
        verified: pinned.is_some(),
        already_there: false,
    })
}

fn list(settings: &Settings) -> i32 {
    println!("models in {}:", settings.model_dir.path().display());
    for model in &catalogue::CATALOGUE {
        let picked = matches!(&settings.local_model, LocalModelChoice::Named(chosen) if chosen.name == model.name);
        let fetched = settings.model_dir.file(model).is_file();
        println!(
            "{} {:<14} {:<11} {}",
            if picked { "*" } else { " " },
            model.name,
            if fetched { "fetched" } else { "not fetched" },
            model.summary
        );
    }
    let encoder_folder = settings.model_dir.path().join(ENCODER.folder);
    let encoder_fetched = ENCODER.missing_in(&encoder_folder).is_empty();
    println!(
        "{} {:<14} {:<11} {}",
        if settings.local_embeddings.as_deref() == Some(encoder_folder.as_path()) {
            "*"
        } else {
            " "
        },
        ENCODER.name,
        if encoder_fetched {
            "fetched"
        } else {
            "not fetched"
        },
        ENCODER.summary
    );
    match &settings.local_model {
        LocalModelChoice::Off => println!("LOCAL_MODEL=off: no local model runs"),
        LocalModelChoice::File(path) => println!("LOCAL_MODEL picks the file {}", path.display()),
        LocalModelChoice::Named(_) => println!("* = the model LOCAL_MODEL picks"),
    }
    if settings.llm_base_url.is_some() {
        println!("LLM_BASE_URL is set: replies come from that endpoint, not a local model");
    }
    0
}

fn path(settings: &Settings) -> i32 {
    match settings.local_model.path_in(&settings.model_dir) {
        Some(path) if path.is_file() => {
            println!("{}", path.display());
            0
        }
        Some(path) => {
            eprintln!(
                "{} is not there; `whisperengine model fetch` downloads it",
                path.display()
            );
            1
        }
        None => {
            eprintln!("LOCAL_MODEL=off: no local model");
            1
        }
    }
}

fn remove(settings: &Settings, name: Option<String>) -> anyhow::Result<i32> {
    let (label, files) = if is_encoder(name.as_deref()) {
        let folder = settings.model_dir.path().join(ENCODER.folder);
        let files: Vec<PathBuf> = ENCODER
            .files
            .iter()
            .map(|file| folder.join(file.name))
            .collect();
        (ENCODER.name, files)
    } else {
        let Some(model) = chosen_or_say_why(settings, name.as_deref()) else {
            return Ok(2);
        };
        (model.name, vec![settings.model_dir.file(model)])
    };
    let mut removed = false;
    for dest in files {
        for path in [fetch::part_path(&dest), dest] {
            if path.exists() {
                std::fs::remove_file(&path)?;
                println!("removed {}", path.display());
                removed = true;
            }
        }
    }
    if !removed {
        println!("{label} is not fetched");
    }
    Ok(0)
}

/// A one-line progress bar on a terminal, a line per tenth otherwise.
struct ProgressLine {
    terminal: bool,
    started: Instant,
    last_drawn: Option<Instant>,
    last_tenth: u64,
}

impl ProgressLine {
    fn new() -> ProgressLine {
        ProgressLine {
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_drawn: None,
            last_tenth: 0,
        }
    }

    fn show(&mut self, done: u64, total: Option<u64>) {
        let megabytes = done as f64 / 1e6;
        let rate = megabytes / self.started.elapsed().as_secs_f64().max(0.001);
        if self.terminal {
            if self
                .last_drawn
                .is_some_and(|at| at.elapsed() < Duration::from_millis(100))
            {
                return;
            }
            self.last_drawn = Some(Instant::now());
            let line = match total {
                Some(total) if total > 0 => {
                    let share = done as f64 / total as f64;
                    let filled = (share * 30.0) as usize;
                    format!(
                        "\r[{}{}] {:>5.1}% {megabytes:.1}/{:.1} MB {rate:.1} MB/s",
                        "#".repeat(filled.min(30)),
                        " ".repeat(30 - filled.min(30)),
                        share * 100.0,
                        total as f64 / 1e6
                    )
                }
                _ => format!("\r{megabytes:.1} MB {rate:.1} MB/s"),
            };
            let mut stderr = std::io::stderr();
            let _ = stderr.write_all(line.as_bytes());
            let _ = stderr.flush();
        } else if let Some(total) = total.filter(|total| *total > 0) {
            let tenth = done * 10 / total;
            if tenth > self.last_tenth {
                self.last_tenth = tenth;
                eprintln!("{}% ({megabytes:.1} MB)", tenth * 10);
            }
        }
    }

    fn finish(&self) {
        if self.terminal && self.last_drawn.is_some() {
            eprintln!();
        }
    }
}
