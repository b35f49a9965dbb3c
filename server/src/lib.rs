//! The kubecs server library.
