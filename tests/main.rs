//! Integration tests against a real engine.
