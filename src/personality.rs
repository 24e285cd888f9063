//! personality (in progress)
