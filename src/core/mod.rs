//! core (in progress)
