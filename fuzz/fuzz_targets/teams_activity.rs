//! Bot Framework activities through the path `POST /api/messages` takes after the token check: the
//! JSON parse, the `serviceUrl` parse, the mapping to a contract event, the reply URL and the
//! outgoing activities built from it.
//!
//! Input: the activity's JSON body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| whisperengine_fuzz_checks::teams_activity::check(data));
