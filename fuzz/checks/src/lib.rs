//! What every fuzz target checks, one module per target: each `check` feeds one input through the
//! same functions the host uses and panics when a property besides "no panic" does not hold.
//!
//! Two callers: the cargo-fuzz binaries in `fuzz/fuzz_targets/` (nightly, `cargo fuzz run …`,
//! see docs/fuzzing.md), and this crate's tests, which replay every committed seed
//! (`fuzz/corpus/<target>/`) and every input that once crashed (`fuzz/regressions/<target>/`) on
//! the stable toolchain with the rest of the test suite.

pub mod commands;
pub mod config;
pub mod discord_payloads;
pub mod markdown;
pub mod slack_commands;
pub mod slack_events;
mod slack_signed;
pub mod split;
pub mod teams_activity;
pub mod teams_jwt;

/// A target's check: runs one input, panics when a property does not hold.
pub type Check = fn(&[u8]);

/// Every target by its cargo-fuzz name, with its check.
pub const TARGETS: [(&str, Check); 9] = [
    ("commands", commands::check),
    ("config", config::check),
    ("discord_payloads", discord_payloads::check),
    ("markdown", markdown::check),
    ("slack_commands", slack_commands::check),
    ("slack_events", slack_events::check),
    ("split", split::check),
    ("teams_activity", teams_activity::check),
    ("teams_jwt", teams_jwt::check),
];

#[cfg(test)]
mod tests {
    use super::TARGETS;
    use std::path::{Path, PathBuf};

    /// The committed inputs of `target`: its seeds and its regression inputs, by path.
    fn inputs(target: &str) -> Vec<PathBuf> {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut inputs = Vec::new();
        for folder in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(folder).join(target)) else {
                continue;
            };
            inputs.extend(entries.filter_map(|entry| Some(entry.ok()?.path())));
        }
        inputs.sort();
        inputs
    }

    fn replay(target: &str) {
        let (_, check) = TARGETS
            .iter()
            .find(|(name, _)| *name == target)
            .expect("a target of that name");
        let inputs = inputs(target);
        assert!(!inputs.is_empty(), "{target} has no committed inputs");
        for path in inputs {
            let data = std::fs::read(&path).expect("a readable input");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target} fails on {}", path.display());
        }
    }

    #[test]
    fn every_target_is_a_cargo_fuzz_binary_with_committed_seeds() {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
        for (target, _) in TARGETS {
            assert!(
                manifest.contains(&format!("path = \"fuzz_targets/{target}.rs\"")),
                "{target} is not declared in fuzz/Cargo.toml"
            );
            let source = std::fs::read_to_string(fuzz.join(format!("fuzz_targets/{target}.rs")))
                .expect("the target's source");
            assert!(
                source.contains(&format!("whisperengine_fuzz_checks::{target}::check")),
                "fuzz_targets/{target}.rs does not run this crate's check"
            );
            assert!(
                std::fs::read_dir(fuzz.join("corpus").join(target)).is_ok(),
                "{target} has no seed corpus"
            );
        }
    }

    #[test]
    fn commands_hold_on_every_committed_input() {
        replay("commands");
    }

    #[test]
    fn config_holds_on_every_committed_input() {
        replay("config");
    }

    #[test]
    fn discord_payloads_hold_on_every_committed_input() {
        replay("discord_payloads");
    }

    #[test]
    fn markdown_holds_on_every_committed_input() {
        replay("markdown");
    }

    #[test]
    fn slack_commands_hold_on_every_committed_input() {
        replay("slack_commands");
    }

    #[test]
    fn slack_events_hold_on_every_committed_input() {
        replay("slack_events");
    }

    #[test]
    fn split_holds_on_every_committed_input() {
        replay("split");
    }

    #[test]
    fn teams_activity_holds_on_every_committed_input() {
        replay("teams_activity");
    }

    #[test]
    fn teams_jwt_holds_on_every_committed_input() {
        replay("teams_jwt");
    }
}
