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
) -> Result<Vec<u8>, HttpError> {
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
    let body = resp.bytes().await.map_err(err)?.to_vec();
    // One event per request: `HERMIT_LOG=hermit=debug` counts what a command asked the network.
    tracing::debug!(
        url,
        bytes = body.len(),
        ms = started.elapsed().as_millis() as u64,
        "GET"
    );
    Ok(body)
}
