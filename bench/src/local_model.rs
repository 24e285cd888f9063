//! `bench --local-model`: the in-process model on this machine — load time, time to the first
//! token, tokens per second, reply time for a 60-token reply, resident memory — on a short prompt
//! and on the host's own prompt (the personality, memories and facts; its start kept between
//! replies as the host keeps it).

use anyhow::Context;
use serde::Serialize;
use std::time::{Duration, Instant};
use whisperengine::config::Settings;
use whisperengine_contract::Platform;
use whisperengine_local_model::{GenerateOptions, Message, Model, Role};

/// What one run measured.
#[derive(Debug, Serialize)]
pub struct LocalModelReport {
    pub machine: super::report::Machine,
    pub model: String,
    pub file: String,
    pub load_ms: f64,
    /// Resident memory with the model loaded, and its peak after the replies.
    pub resident_mb: f64,
    pub peak_resident_mb: f64,
    pub rows: Vec<LocalModelRow>,
}

/// Replies to one kind of prompt.
#[derive(Debug, Serialize)]
pub struct LocalModelRow {
    pub prompt: String,
    pub replies: usize,
    pub prompt_tokens: usize,
    /// Prompt tokens read from the kept prompt start (the median over the replies).
    pub reused_tokens: usize,
    pub first_token_p50_ms: f64,
    pub first_token_p99_ms: f64,
    pub tokens_per_second: f64,
    pub reply_p50_ms: f64,
    pub reply_p99_ms: f64,
}

const REPLY_TOKENS: usize = 60;

/// Runs the bench on the model the settings pick.
pub fn run(settings: &Settings, replies: usize) -> anyhow::Result<LocalModelReport> {
    let path = settings
        .local_model
        .path_in(&settings.model_dir)
        .filter(|path| path.is_file())
        .context("no local model file: `whisperengine model fetch` downloads it (or set LOCAL_MODEL to a GGUF file)")?;
    let started = Instant::now();
    let model = Model::load(&path).with_context(|| format!("loading {}", path.display()))?;
    let load_ms = millis(started.elapsed());
    let resident_mb = resident("VmRSS");
    let personality = whisperengine::personality::Personality::load(
        &settings.personalities_dir,
        &settings.personality,
    )
    .context("PERSONALITY")?;
    let short = model.chat_prompt(&[
        Message {
            role: Role::System,
            content: format!("You are {}, a friendly companion.", personality.name),
        },
        Message {
            role: Role::User,
            content: "Tell me something nice about the sea.".into(),
        },
    ]);
    let system = personality.system_prompt(Platform::Discord, true);
    let host_prompt = |index: usize| {
        model.chat_prompt(&[
            Message {
                role: Role::System,
                content: format!(
                    "{system}\n\nContext for this reply:\n- You are talking with Ana on discord.\n\nWhat Ana told you before:\n- on slack, 2 days ago: My cat is called Miso and she opens doors\n- on discord (here), last week: I work as a nurse in Porto\n\nWhat you know about Ana:\n- your cat is called Miso (said on slack)"
                ),
            },
            Message {
                role: Role::User,
                content: format!("Question {index}: what do you remember about my cat?"),
            },
        ])
    };
    let forget = || {
        model.forget();
        Ok(())
    };
    // As the host runs: the personality's prompt is read once at start-up and kept.
    let persona_kept = || {
        model.forget();
        model.warm(&system).map(|_| ())
    };
    let keep_going = || Ok(());
    let mut rows = Vec::new();
    rows.push(measure(
        &model,
        "short prompt, read whole",
        replies,
        &forget,
        |_| short.clone(),
    )?);
    rows.push(measure(
        &model,
        "host prompt, read whole",
        1,
        &forget,
        host_prompt,
    )?);
    // What follows the personality (the person, memories, facts, the message) is new each time.
    rows.push(measure(
        &model,
        "host prompt, personality kept",
        replies,
        &persona_kept,
        host_prompt,
    )?);
    // The same person again with the same memories: all but their new message is kept.
    rows.push(measure(
        &model,
        "host prompt, same person again",
        replies,
        &keep_going,
        |index| host_prompt(index + 1),
    )?);
    Ok(LocalModelReport {
        machine: super::report::Machine::describe(),
        model: format!(
            "{}{}",
            model.info().name,
            model
                .info()
                .size
                .as_deref()
                .map(|size| format!(" {size}"))
                .unwrap_or_default()
        ),
        file: path.display().to_string(),
        load_ms,
        resident_mb,
        peak_resident_mb: resident("VmHWM"),
        rows,
    })
}

fn measure(
    model: &Model,
    label: &str,
    replies: usize,
    before_each: &dyn Fn() -> Result<(), whisperengine_local_model::Error>,
    prompt: impl Fn(usize) -> String,
) -> anyhow::Result<LocalModelRow> {
    let mut first = Vec::new();
    let mut totals = Vec::new();
    let mut rates = Vec::new();
    let mut reused = Vec::new();
    let mut prompt_tokens = 0;
    for index in 0..replies {
        let text = prompt(index);
        before_each()?;
        let options = GenerateOptions {
            max_tokens: REPLY_TOKENS,
            temperature: 0.0,
            seed: 7,
            deadline: Instant::now() + Duration::from_secs(600),
        };
        let generation = model.generate(&text, &options, &mut |_| true)?;
        prompt_tokens = generation.prompt_tokens;
        reused.push(generation.reused_tokens);
        first.push(generation.first_token);
        totals.push(generation.total);
        let writing = generation.total.saturating_sub(generation.first_token);
        if generation.reply_tokens > 1 && !writing.is_zero() {
            rates.push((generation.reply_tokens - 1) as f64 / writing.as_secs_f64());
        }
    }
    first.sort();
    totals.sort();
    reused.sort();
    rates.sort_by(f64::total_cmp);
    Ok(LocalModelRow {
        prompt: label.to_string(),
        replies,
        prompt_tokens,
        reused_tokens: reused.get(reused.len() / 2).copied().unwrap_or(0),
        first_token_p50_ms: super::percentile(&first, 0.5),
        first_token_p99_ms: super::percentile(&first, 0.99),
        tokens_per_second: rates.get(rates.len() / 2).copied().unwrap_or(0.0),
        reply_p50_ms: super::percentile(&totals, 0.5),
        reply_p99_ms: super::percentile(&totals, 0.99),
    })
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A `/proc/self/status` figure in MB (0 where there is none).
fn resident(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| super::host::status_mb(&status, &format!("{field}:")))
        .unwrap_or(0.0)
}

impl LocalModelReport {
    /// The report as a table, with each goal as measured/target and met or NOT met.
    pub fn table(&self) -> String {
        let mut out = format!(
            "Local model bench: {} ({})\n{}\nloaded in {:.0} ms; resident {:.0} MB with the model loaded, peak {:.0} MB\n\n",
            self.model, self.file, self.machine.summary, self.load_ms, self.resident_mb, self.peak_resident_mb
        );
        out.push_str(&format!(
            "{:<34} {:>7} {:>7} {:>7} {:>10} {:>10} {:>8} {:>10} {:>10}\n",
            "prompt",
            "replies",
            "tokens",
            "reused",
            "first p50",
            "first p99",
            "tok/s",
            "reply p50",
            "reply p99"
        ));
        for row in &self.rows {
            out.push_str(&format!(
                "{:<34} {:>7} {:>7} {:>7} {:>8.0}ms {:>8.0}ms {:>8.1} {:>8.0}ms {:>8.0}ms\n",
                row.prompt,
                row.replies,
                row.prompt_tokens,
                row.reused_tokens,
                row.first_token_p50_ms,
                row.first_token_p99_ms,
                row.tokens_per_second,
                row.reply_p50_ms,
                row.reply_p99_ms
            ));
        }
        let verdict = |met: bool| if met { "met" } else { "NOT met" };
        let short = &self.rows[0];
        let kept = self.rows.get(2).unwrap_or(short);
        out.push_str(&format!(
            "\ngoals ({REPLY_TOKENS}-token replies):\n  first token, short prompt: {:.0} ms / 300 ms: {}\n  first token, host prompt, personality kept: {:.0} ms / 300 ms: {}\n  writing speed: {:.1} / 20 tokens/s: {}\n  memory with the model loaded: {:.0} / 400 MB: {}\n",
            short.first_token_p50_ms,
            verdict(short.first_token_p50_ms <= 300.0),
            kept.first_token_p50_ms,
            verdict(kept.first_token_p50_ms <= 300.0),
            short.tokens_per_second,
            verdict(short.tokens_per_second >= 20.0),
            self.peak_resident_mb,
            verdict(self.peak_resident_mb <= 400.0),
        ));
        out
    }
}
