//! Hash-locked build requirements.
