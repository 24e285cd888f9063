//! Slack's request signature: `X-Slack-Signature` is `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`
//! under the signing secret, checked in constant time by slack-morphism over the raw body, with
//! the timestamp within 5 minutes of now. Both Slack routes ([`crate::http`]) check it before
//! anything is parsed; Socket Mode needs none (the connection itself is authenticated).

use slack_morphism::signature_verifier::{
    SlackEventSignatureVerifier, SlackEventSignatureVerifierError,
};

/// The signature check of both routes, apart from the HTTP types: `signature` and `timestamp` are
/// the `X-Slack-Signature` and `X-Slack-Request-Timestamp` header values. Returns the body as
/// text, or the refusal's `reason` label (the label of the rejection metric).
pub fn check_signature<'b>(
    verifier: Option<&SlackEventSignatureVerifier>,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &'b [u8],
) -> Result<&'b str, &'static str> {
    let Some(verifier) = verifier else {
        return Err("no_signing_secret");
    };
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err("missing_signature");
    };
    // slack-morphism subtracts the timestamp from the clock without an overflow check (a panic in
    // debug builds for a timestamp near i64::MIN): timestamps outside the window stop here.
    if !is_recent(timestamp) {
        return Err("stale_timestamp");
    }
    // Slack signs UTF-8 text; other bytes cannot carry a valid signature.
    let Ok(text) = std::str::from_utf8(body) else {
        return Err("bad_signature");
    };
    match verifier.verify(signature, text, timestamp) {
        Ok(()) => Ok(text),
        Err(error) => Err(match error {
            SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_) => {
                "stale_timestamp"
            }
            SlackEventSignatureVerifierError::AbsentSignatureError(_) => "missing_signature",
            SlackEventSignatureVerifierError::CryptoInitError(_) => "no_signing_secret",
            SlackEventSignatureVerifierError::WrongSignatureError(_) => "bad_signature",
        }),
    }
}

/// Whether `timestamp` (Unix seconds) is within Slack's 5-minute window of now.
fn is_recent(timestamp: &str) -> bool {
    const WINDOW_SECONDS: i64 = 5 * 60;
    let Ok(sent_at) = timestamp.parse::<i64>() else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        });
    now.checked_sub(sent_at)
        .and_then(i64::checked_abs)
        .is_some_and(|age| age <= WINDOW_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use slack_morphism::prelude::SlackSigningSecret;

    fn signed(secret: &str, timestamp: &str, body: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("v0:{timestamp}:{body}").as_bytes());
        format!("v0={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn signed_bodies_with_timestamps_outside_the_window_are_refused_as_stale() {
        let verifier = SlackEventSignatureVerifier::new(&SlackSigningSecret::new("secret".into()));
        let body = r#"{"type":"url_verification","challenge":"c"}"#;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        let check = |timestamp: &str| {
            let signature = signed("secret", timestamp, body);
            check_signature(
                Some(&verifier),
                Some(&signature),
                Some(timestamp),
                body.as_bytes(),
            )
        };
        assert_eq!(check(&now), Ok(body));
        for timestamp in [
            "-9223372036854775808",
            "9223372036854775807",
            "1500000000",
            "soon",
        ] {
            assert_eq!(check(timestamp), Err("stale_timestamp"), "{timestamp}");
        }
    }

    /// Inputs in the `slack_events` / `slack_commands` fuzz formats that panicked before (timestamp line,
    /// then the body), signed the way the targets sign them: each gets a clear refusal.
    #[test]
    fn fuzz_regressions_are_refused_without_a_panic() {
        let verifier = SlackEventSignatureVerifier::new(&SlackSigningSecret::new("secret".into()));
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
        let mut checked = 0;
        for target in ["slack_events", "slack_commands"] {
            for entry in std::fs::read_dir(root.join(target)).unwrap() {
                let input = std::fs::read(entry.unwrap().path()).unwrap();
                let newline = input.iter().position(|byte| *byte == b'\n').unwrap();
                let timestamp = std::str::from_utf8(&input[..newline]).unwrap();
                let body = &input[newline + 1..];
                let signature = signed("secret", timestamp, std::str::from_utf8(body).unwrap());
                let outcome =
                    check_signature(Some(&verifier), Some(&signature), Some(timestamp), body);
                assert_eq!(outcome, Err("stale_timestamp"), "{target}: {timestamp}");
                checked += 1;
            }
        }
        assert!(checked >= 2, "the regression inputs were found");
    }
}
