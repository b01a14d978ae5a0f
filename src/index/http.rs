//! The one HTTP client hermit uses on the host (never inside a build): rustls with the platform
//! verifier, so the system CA bundle (`SSL_CERT_FILE`) is trusted, as a private mirror or an
//! intercepting proxy needs. Proxies come from the usual environment variables.

use std::sync::Once;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("could not set up the HTTP client: {0}")]
    Setup(#[source] reqwest::Error),
    #[error("GET {url} failed: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("GET {url} sent more than {limit} bytes, more than such a file can be; refused")]
    TooLarge { url: String, limit: u64 },
}

/// Upper bounds on what one response may hold: what the server sends is read in chunks and
/// refused past the bound, so a hostile or broken mirror cannot exhaust memory.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// A simple-index page or a Debian `InRelease`/`Packages.xz`.
    Index,
    /// PEP 658 core metadata.
    Metadata,
    /// A wheel, an sdist or a `.deb`: no more than hermit would inflate from one archive.
    File,
}

impl Limit {
    fn bytes(self) -> u64 {
        match self {
            Self::Index => 256 << 20,
            Self::Metadata => 16 << 20,
            Self::File => crate::archive::INFLATE_LIMIT,
        }
    }
}

/// Builds a client. Cheap enough to call once per command.
pub fn client() -> Result<reqwest::Client, HttpError> {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Fails only when another provider was installed first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .user_agent(concat!("hermit/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .build()
        .map_err(HttpError::Setup)
}

/// GETs `url` and returns the whole body; any status but 2xx is an error.
pub async fn get_bytes(
    client: &reqwest::Client,
    url: &str,
    accept: Option<&str>,
    limit: Limit,
) -> Result<Vec<u8>, HttpError> {
    let limit = limit.bytes();
    let mut req = client.get(url);
    if let Some(accept) = accept {
        req = req.header(reqwest::header::ACCEPT, accept);
    }
    let err = |source| HttpError::Request {
        url: url.to_owned(),
        source,
    };
    let started = std::time::Instant::now();
    let resp = req.send().await.map_err(err)?;
    let status = resp.status();
    if !status.is_success() {
        tracing::debug!(url, status = status.as_u16(), "GET refused");
        return Err(HttpError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    let too_large = || HttpError::TooLarge {
        url: url.to_owned(),
        limit,
    };
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut resp = resp;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(err)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    // One event per request: `HERMIT_LOG=hermit=debug` counts what a command asked the network.
    tracing::debug!(
        url,
        bytes = body.len(),
        ms = started.elapsed().as_millis() as u64,
        "GET"
    );
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_response_past_its_bound_is_refused() {
        let big = vec![b'x'; (16 << 20) + 1];
        let server = crate::lock::test_index::serve(vec![
            ("/big".into(), big),
            ("/small".into(), b"ok".to_vec()),
        ])
        .await;
        let c = client().unwrap();
        let url = format!("{}/big", server.url);
        let err = get_bytes(&c, &url, None, Limit::Metadata)
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::TooLarge { .. }), "{err}");
        let ok = get_bytes(&c, &format!("{}/small", server.url), None, Limit::Metadata)
            .await
            .unwrap();
        assert_eq!(ok, b"ok");
    }
}
