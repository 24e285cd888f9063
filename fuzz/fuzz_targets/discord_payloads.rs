//! Discord gateway payloads (the `d` of MESSAGE_CREATE, MESSAGE_REACTION_ADD and
//! INTERACTION_CREATE) through serenity's model types into the connector's mapping: a message for
//! the core, a reaction's feedback, a slash command's invocation.
//!
//! Input: one payload's JSON; each kind is tried, as the gateway's `t` would pick one.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| whisperengine_fuzz_checks::discord_payloads::check(data));
