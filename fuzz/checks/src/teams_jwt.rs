//! The Bot Framework's `Authorization` header through the token checks of `POST /api/messages`.
//!
//! Input: either an `Authorization` header value (`Bearer <jwt>`), read for its token and JWT header
//! and checked against the test key (a forged token must be refused), or — when it starts with `{`
//! — a JWT payload, signed with the test key so that the claim checks (issuer, audience, expiry,
//! the `serviceurl` claim against the activity) are reached.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use std::sync::OnceLock;
use std::time::Duration;
use url::Url;
use whisperengine_teams::auth::{bearer_token, signing_key_id, Verifier};

const APP_ID: &str = "00000000-aaaa-bbbb-cccc-000000000001";
const KID: &str = "test-key-1";
const SIGNING_KEY: &[u8] = include_bytes!("../../../adapters/teams/tests/keys/bot_framework.der");

struct Keys {
    verifier: Verifier,
    decoding: DecodingKey,
    encoding: EncodingKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        // No key is ever fetched: the targets pass the key to `verify_signed` themselves.
        verifier: Verifier::new(
            reqwest::Client::new(),
            Url::parse("http://127.0.0.1:9/unused").expect("valid URL"),
            APP_ID,
            Some("tenant-0001"),
            Duration::from_secs(300),
        ),
        decoding: Jwk::from_encoding_key(&EncodingKey::from_rsa_der(SIGNING_KEY), Algorithm::RS256)
            .and_then(|jwk| DecodingKey::from_jwk(&jwk))
            .expect("the test key's public half"),
        encoding: EncodingKey::from_rsa_der(SIGNING_KEY),
    })
}

/// Runs one input; panics when a property does not hold.
pub fn check(data: &[u8]) {
    let keys = keys();
    if data.first() == Some(&b'{') {
        let header = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{KID}"}}"#);
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(data)
        );
        let Ok(signature) =
            jsonwebtoken::crypto::sign(message.as_bytes(), &keys.encoding, Algorithm::RS256)
        else {
            return;
        };
        let token = format!("{message}.{signature}");
        assert_eq!(signing_key_id(&token).as_deref(), Ok(KID));
        let endorsements = Some(vec!["msteams".to_string()]);
        if let Ok(verified) = keys
            .verifier
            .verify_signed(&token, &keys.decoding, endorsements)
        {
            let _ = verified.check_activity("https://smba.example/emea/", Some("msteams"));
        }
        return;
    }
    let Ok(authorization) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(token) = bearer_token(Some(authorization)) else {
        return;
    };
    if signing_key_id(token).is_err() {
        return;
    }
    // Not signed with the test key (the fuzzer cannot forge RS256): always refused.
    assert!(
        keys.verifier
            .verify_signed(token, &keys.decoding, None)
            .is_err(),
        "a token not signed with the key was accepted: {token}"
    );
}
