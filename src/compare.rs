//! Member-by-member comparison of two artifacts.
