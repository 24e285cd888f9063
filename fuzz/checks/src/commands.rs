//! Chat commands as people type them (`/link ABCD-EF2345`, `prefs set tone warm`, `admin link
//! slack:T1/U2 discord:3`) through the shared parser: words first, then the core's command parser,
//! which must answer every input with a command or a usage line.
//!
//! Input: the command text.

use whisperengine::core::commands::parse::parse;
use whisperengine_contract::CommandInvocation;

/// Runs one input; panics when a property does not hold.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((name, args)) = CommandInvocation::parse_text(text) else {
        return;
    };
    match parse(&name, &args) {
        Ok(command) => {
            let _ = command.is_admin();
            let _ = command.metric_name();
        }
        Err(usage) => assert!(!usage.trim().is_empty(), "a refusal without a message"),
    }
}
