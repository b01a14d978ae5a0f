//! Client for the package index simple API (PEP 691 JSON, PEP 503 HTML).
