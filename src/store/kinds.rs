//! The closed sets of values some columns hold, as enums: who said a stored turn
//! ([`MemoryRole`]), where a sync conflict stands ([`ConflictStatus`]) and how an audited action
//! ended ([`AuditOutcome`]). The columns keep their text; these bind directly in queries
//! (`Column::Role.eq(MemoryRole::User)`) and are what the code compares against.

use sea_orm::Value;
use std::fmt;

macro_rules! stored_kind {
    ($(#[$meta:meta])* $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            /// The text stored in the column.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Reads the stored text; `None` for anything else.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$name> for Value {
            fn from(kind: $name) -> Value {
                Value::from(kind.as_str())
            }
        }

        impl From<$name> for String {
            fn from(kind: $name) -> String {
                kind.as_str().to_string()
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, kind: &$name) -> bool {
                self == kind.as_str()
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, kind: &$name) -> bool {
                self == kind.as_str()
            }
        }
    };
}

stored_kind! {
    /// Who said a stored turn (`memory.role`).
    MemoryRole {
        /// The person.
        User => "user",
        /// The companion's reply.
        Companion => "companion",
    }
}

stored_kind! {
    /// What a sync conflict is about (`sync_conflict.kind`).
    ConflictKind {
        /// A preference two accounts set differently.
        Preference => "preference",
        /// A fact told differently on two platforms.
        Fact => "fact",
    }
}

stored_kind! {
    /// Where a sync conflict stands (`sync_conflict.status`).
    ConflictStatus {
        /// Waiting for the person (`conflicts resolve`) under the manual strategy.
        Open => "open",
        /// Decided, by the strategy or by the person.
        Resolved => "resolved",
    }
}

stored_kind! {
    /// How an audited action ended (`audit_log.outcome`).
    AuditOutcome {
        Ok => "ok",
        Refused => "refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_reads_back_what_it_stores() {
        for role in [MemoryRole::User, MemoryRole::Companion] {
            assert_eq!(MemoryRole::parse(role.as_str()), Some(role));
        }
        for status in [ConflictStatus::Open, ConflictStatus::Resolved] {
            assert_eq!(ConflictStatus::parse(&status.to_string()), Some(status));
        }
        assert_eq!(AuditOutcome::parse("refused"), Some(AuditOutcome::Refused));
        assert_eq!(AuditOutcome::parse("maybe"), None);
        assert_eq!(Value::from(MemoryRole::User), Value::from("user"));
        let stored = String::from("open");
        assert!(stored == ConflictStatus::Open);
    }
}
