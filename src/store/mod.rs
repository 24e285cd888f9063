//! store (in progress)
pub mod entities;
