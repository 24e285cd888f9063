//! doctor (in progress)
