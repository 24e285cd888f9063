//! Per-identity rate limit (RATE_LIMIT_PER_MINUTE messages per minute, 0 = off): counted in Redis
//! across processes when it is there, in this process otherwise (and whenever Redis does not answer).

use crate::store::cache::SharedCache;
use crate::store::ids::IdentityId;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

pub struct RateLimiter {
    per_minute: u32,
    cache: Option<SharedCache>,
    local: Mutex<LruCache<IdentityId, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32, cache: Option<SharedCache>) -> RateLimiter {
        RateLimiter {
            per_minute,
            cache,
            local: Mutex::new(LruCache::new(
                NonZeroUsize::new(100_000).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// Counts one message; false when the identity is over its limit.
    pub async fn allow(&self, identity: IdentityId) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        if let Some(cache) = &self.cache {
            match cache
                .count_in_window(&format!("identity:{identity}"), WINDOW)
                .await
            {
                Ok(count) => return count <= u64::from(self.per_minute),
                Err(error) => tracing::debug!(%error, "rate limit falls back to this process"),
            }
        }
        self.allow_locally(identity, Instant::now())
    }

    fn allow_locally(&self, identity: IdentityId, now: Instant) -> bool {
        let mut local = self
            .local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = local.get_or_insert_mut(identity, || (now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_window_allows_the_limit_then_refuses_until_it_resets() {
        let limiter = RateLimiter::new(3, None);
        let someone = IdentityId::random();
        let start = Instant::now();
        assert!((0..3).all(|_| limiter.allow_locally(someone, start)));
        assert!(!limiter.allow_locally(someone, start));
        assert!(
            limiter.allow_locally(IdentityId::random(), start),
            "others are not affected"
        );
        assert!(limiter.allow_locally(someone, start + WINDOW));
    }
}
