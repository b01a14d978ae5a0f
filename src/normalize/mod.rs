//! Rewriting artifacts into canonical form, or keeping them when already clean.
