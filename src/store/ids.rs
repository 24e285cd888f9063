//! The ids the host passes around, as types of their own so an account id is never taken for an
//! identity id (or a row id of something else): [`IdentityId`] (a person, whom every linked account
//! points at) and [`AccountId`] (one platform account). Rows keep the plain column types; these
//! convert to and from them and bind directly in queries (`Column::IdentityId.eq(id)`).

use sea_orm::Value;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A person: the identity every linked account points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdentityId(Uuid);

impl IdentityId {
    /// A new, random identity id.
    pub fn random() -> IdentityId {
        IdentityId(Uuid::new_v4())
    }

    pub fn as_uuid(self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for IdentityId {
    fn from(id: Uuid) -> IdentityId {
        IdentityId(id)
    }
}

impl From<IdentityId> for Uuid {
    fn from(id: IdentityId) -> Uuid {
        id.0
    }
}

impl From<IdentityId> for Value {
    fn from(id: IdentityId) -> Value {
        Value::Uuid(Some(id.0))
    }
}

impl fmt::Display for IdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for IdentityId {
    type Err = uuid::Error;

    fn from_str(text: &str) -> Result<IdentityId, uuid::Error> {
        Uuid::parse_str(text).map(IdentityId)
    }
}

/// One platform account (the `platform_account` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(i64);

impl AccountId {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl From<i64> for AccountId {
    fn from(id: i64) -> AccountId {
        AccountId(id)
    }
}

impl From<AccountId> for i64 {
    fn from(id: AccountId) -> i64 {
        id.0
    }
}

impl From<AccountId> for Value {
    fn from(id: AccountId) -> Value {
        Value::BigInt(Some(id.0))
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_bind_as_their_column_types_and_print_as_before() {
        let uuid = Uuid::new_v4();
        let identity = IdentityId::from(uuid);
        assert_eq!(Value::from(identity), Value::from(uuid));
        assert_eq!(identity.to_string(), uuid.to_string());
        assert_eq!(
            identity.to_string().parse::<IdentityId>().ok(),
            Some(identity)
        );
        assert_eq!(Value::from(AccountId::from(7)), Value::from(7_i64));
        assert_eq!(
            serde_json::to_string(&AccountId::from(7)).ok().as_deref(),
            Some("7")
        );
    }
}
