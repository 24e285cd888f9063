//! Who may use the dashboard: the token check (constant time), sessions behind an HttpOnly,
//! SameSite=Strict cookie, the per-session CSRF token every action must carry, and the lock-out
//! after repeated wrong tokens from one client address.
//!
//! Everything here is in-process: sessions do not survive a restart and are not shared between
//! host processes (log in again on the other process, or use sticky sessions behind a balancer).

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "we_admin_session";
/// Wrong tokens allowed from one address within [`LOCKOUT_WINDOW`] before it is locked out.
pub const MAX_FAILURES: usize = 5;
/// How long failures count (and so how long a lock-out lasts).
pub const LOCKOUT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// A session ends this long after login, used or not.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);
/// Most sessions kept at once; the oldest goes first when a new one would exceed it.
const MAX_SESSIONS: usize = 256;
/// Most client addresses whose failures are remembered (oldest entries are dropped first).
const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// A one-time message shown on the next page of a session (the core's reply to an action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub is_error: bool,
}

struct Session {
    csrf_token: String,
    expires: Instant,
    flash: Option<Flash>,
}

/// What a request learns about its valid session.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The session id as the cookie carries it.
    pub id: String,
    /// The token forms must send back in their hidden `csrf` field.
    pub csrf_token: String,
}

/// The dashboard's gate: the admin token, live sessions and recent failures per address.
pub struct Gatekeeper {
    token_digest: [u8; 32],
    cookie_is_secure: bool,
    /// Keyed by the SHA-256 of the session id, so lookups reveal nothing through timing.
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether the session cookie is `Secure`: when ADMIN_COOKIE_SECURE says so, and always when the
/// host is reached over https (PUBLIC_URL), where a cookie sent over plain http would leak.
pub fn is_cookie_secure(explicit: bool, public_url: Option<&url::Url>) -> bool {
    explicit || public_url.is_some_and(|url| url.scheme() == "https")
}

impl Gatekeeper {
    /// A gate for `token`; `cookie_is_secure` adds `Secure` to the session cookie.
    pub fn new(token: &SecretString, cookie_is_secure: bool) -> Gatekeeper {
        Gatekeeper {
            token_digest: digest(token.expose_secret()),
            cookie_is_secure,
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `candidate` is the admin token. Both sides are hashed first, so the comparison
    /// takes the same time whatever the candidate's length and content.
    pub fn is_admin_token(&self, candidate: &str) -> bool {
        bool::from(digest(candidate).ct_eq(&self.token_digest))
    }

    /// Whether `address` has had [`MAX_FAILURES`] wrong tokens within [`LOCKOUT_WINDOW`].
    pub fn is_locked_out(&self, address: IpAddr) -> bool {
        let mut failures = lock(&self.failures);
        match failures.get_mut(&address) {
            Some(times) => {
                forget_old_failures(times);
                times.len() >= MAX_FAILURES
            }
            None => false,
        }
    }

    /// Counts a wrong token from `address`.
    pub fn record_failure(&self, address: IpAddr) {
        let mut failures = lock(&self.failures);
        if failures.len() >= MAX_TRACKED_ADDRESSES && !failures.contains_key(&address) {
            failures.retain(|_, times| {
                forget_old_failures(times);
                !times.is_empty()
            });
            if failures.len() >= MAX_TRACKED_ADDRESSES {
                // Still full of live entries: drop one rather than grow without bound.
                if let Some(first) = failures.keys().next().copied() {
                    failures.remove(&first);
                }
            }
        }
        let times = failures.entry(address).or_default();
        forget_old_failures(times);
        times.push_back(Instant::now());
    }

    /// Forgets the failures of `address` (after a successful login).
    pub fn clear_failures(&self, address: IpAddr) {
        lock(&self.failures).remove(&address);
    }

    /// Starts a session and returns it.
    pub fn open_session(&self) -> SessionView {
        let id = random_token();
        let csrf_token = random_token();
        let mut sessions = lock(&self.sessions);
        let now = Instant::now();
        sessions.retain(|_, session| session.expires > now);
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, session)| session.expires)
                .map(|(key, _)| *key)
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            digest(&id),
            Session {
                csrf_token: csrf_token.clone(),
                expires: now + SESSION_TTL,
                flash: None,
            },
        );
        SessionView { id, csrf_token }
    }

    /// The live session with this id, if any.
    pub fn session(&self, id: &str) -> Option<SessionView> {
        let mut sessions = lock(&self.sessions);
        let key = digest(id);
        match sessions.get(&key) {
            Some(session) if session.expires > Instant::now() => Some(SessionView {
                id: id.to_string(),
                csrf_token: session.csrf_token.clone(),
            }),
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session (logout).
    pub fn close_session(&self, id: &str) {
        lock(&self.sessions).remove(&digest(id));
    }

    /// Leaves `flash` for the session's next page.
    pub fn set_flash(&self, id: &str, flash: Flash) {
        if let Some(session) = lock(&self.sessions).get_mut(&digest(id)) {
            session.flash = Some(flash);
        }
    }

    /// Takes the session's pending message, if any.
    pub fn take_flash(&self, id: &str) -> Option<Flash> {
        lock(&self.sessions)
            .get_mut(&digest(id))
            .and_then(|session| session.flash.take())
    }

    /// The `Set-Cookie` value that starts `session` in the browser.
    pub fn session_cookie(&self, session: &SessionView) -> String {
        format!(
            "{SESSION_COOKIE}={}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={}{}",
            session.id,
            SESSION_TTL.as_secs(),
            if self.cookie_is_secure {
                "; Secure"
            } else {
                ""
            }
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clearing_cookie(&self) -> String {
        format!(
            "{SESSION_COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0{}",
            if self.cookie_is_secure {
                "; Secure"
            } else {
                ""
            }
        )
    }
}

/// Whether the CSRF token a form sent is the session's (constant time).
pub fn csrf_token_matches(session: &SessionView, sent: &str) -> bool {
    !sent.is_empty() && bool::from(digest(sent).ct_eq(&digest(&session.csrf_token)))
}

/// The session id in a `Cookie` header value, if present.
pub fn session_id_from_cookies(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

fn forget_old_failures(times: &mut VecDeque<Instant>) {
    let now = Instant::now();
    while times
        .front()
        .is_some_and(|first| now.duration_since(*first) >= LOCKOUT_WINDOW)
    {
        times.pop_front();
    }
}

/// Locks a mutex, carrying on with the data if another thread panicked while holding it (every
/// update here leaves the maps consistent, so the data is still good).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_secure_whenever_the_host_is_reached_over_https() {
        let https = url::Url::parse("https://whisper.example.org").ok();
        let http = url::Url::parse("http://127.0.0.1:8080").ok();
        assert!(is_cookie_secure(false, https.as_ref()));
        assert!(!is_cookie_secure(false, http.as_ref()));
        assert!(!is_cookie_secure(false, None));
        assert!(is_cookie_secure(true, None));
    }

    fn gate() -> Gatekeeper {
        Gatekeeper::new(&SecretString::from("correct horse battery staple"), false)
    }

    #[test]
    fn only_the_exact_token_is_accepted() {
        let gate = gate();
        assert!(gate.is_admin_token("correct horse battery staple"));
        for wrong in [
            "",
            "correct horse battery stapl",
            "correct horse battery staple ",
            "CORRECT HORSE BATTERY STAPLE",
        ] {
            assert!(!gate.is_admin_token(wrong), "{wrong:?} was accepted");
        }
    }

    #[test]
    fn an_address_is_locked_out_after_the_allowed_failures_only() {
        let gate = gate();
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        for _ in 0..MAX_FAILURES - 1 {
            gate.record_failure(address);
        }
        assert!(!gate.is_locked_out(address));
        gate.record_failure(address);
        assert!(gate.is_locked_out(address));
        assert!(!gate.is_locked_out(other));
        gate.clear_failures(address);
        assert!(!gate.is_locked_out(address));
    }

    #[test]
    fn sessions_carry_their_own_csrf_token_and_end_on_logout() {
        let gate = gate();
        let first = gate.open_session();
        let second = gate.open_session();
        assert_ne!(first.id, second.id);
        assert_ne!(first.csrf_token, second.csrf_token);
        let found = gate.session(&first.id).expect("session is live");
        assert!(csrf_token_matches(&found, &first.csrf_token));
        assert!(!csrf_token_matches(&found, &second.csrf_token));
        assert!(!csrf_token_matches(&found, ""));
        gate.close_session(&first.id);
        assert!(gate.session(&first.id).is_none());
        assert!(gate.session("not-a-session").is_none());
    }

    #[test]
    fn a_flash_is_shown_once() {
        let gate = gate();
        let session = gate.open_session();
        let flash = Flash {
            text: "Linked.".into(),
            is_error: false,
        };
        gate.set_flash(&session.id, flash.clone());
        assert_eq!(gate.take_flash(&session.id), Some(flash));
        assert_eq!(gate.take_flash(&session.id), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_when_configured() {
        let session = gate().open_session();
        let plain = gate().session_cookie(&session);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(plain.contains("Path=/admin") && !plain.contains("Secure"));
        let secure = Gatekeeper::new(&SecretString::from("t"), true).session_cookie(&session);
        assert!(secure.ends_with("; Secure"));
    }

    #[test]
    fn the_session_id_is_read_among_other_cookies() {
        assert_eq!(
            session_id_from_cookies("theme=dark; we_admin_session=abc123; x=y"),
            Some("abc123")
        );
        assert_eq!(session_id_from_cookies("we_admin_session="), None);
        assert_eq!(session_id_from_cookies("other=1"), None);
    }
}
