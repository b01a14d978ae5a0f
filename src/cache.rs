//! Content-addressed store of downloaded files, keyed by sha256.
