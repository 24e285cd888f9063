//! `/readyz` for the host: the store answers and the work queue takes events.

use crate::core::turn::workers::Workers;
use crate::http::ReadinessProbe;
use crate::store::Store;
use async_trait::async_trait;
use std::sync::Arc;

/// Ready when the store answers (within [`READINESS_TIMEOUT`]) and the workers take events (not
/// while shutting down).
pub(super) struct StoreReadiness(pub(super) Store, pub(super) Arc<Workers>);

/// A probe must answer quickly: a database that does not answer within this is unreachable.
const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

#[async_trait]
impl ReadinessProbe for StoreReadiness {
    async fn check(&self) -> Result<(), String> {
        if !self.1.is_accepting() {
            return Err("shutting down".into());
        }
        tokio::time::timeout(READINESS_TIMEOUT, self.0.check_ready())
            .await
            .unwrap_or_else(|_| Err("database unreachable: no answer within 2 s".into()))
    }

    async fn degraded(&self) -> Vec<String> {
        let redis = tokio::time::timeout(READINESS_TIMEOUT, self.0.check_redis())
            .await
            .unwrap_or_else(|_| Err("redis unreachable: no answer within 2 s".into()));
        redis
            .err()
            .map(|reason| {
                format!("{reason} (other processes see changes through the SQL change feed)")
            })
            .into_iter()
            .collect()
    }
}
