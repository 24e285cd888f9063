//! The Bot Framework's `Authorization` header through the token checks of `POST /api/messages`.
//!
//! Input: either an `Authorization` header value (`Bearer <jwt>`), read for its token and JWT header
//! and checked against the test key (a forged token must be refused), or — when it starts with `{`
//! — a JWT payload, signed with the test key so that the claim checks (issuer, audience, expiry,
//! the `serviceurl` claim against the activity) are reached.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| whisperengine_fuzz_checks::teams_jwt::check(data));
