//! Client for the package index simple API (PEP 691 JSON, PEP 503 HTML).
//!
//! hermit asks for JSON and accepts HTML, because a mirror or a plain directory served over HTTP
//! (one `index.html` per project) is a valid simple index too. Only what locking and fetching need
//! is kept: file name, absolute URL, sha256, requires-python, yanked, PEP 658 metadata.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::index::endpoints::Endpoint;
use crate::index::http::{self, HttpError};
use crate::record::digest::Sha256;

const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, text/html;q=0.1";

/// A project name normalized per PEP 503: runs of `-`, `_`, `.` become one `-`, lowercase.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid package name (letters, digits, `-`, `_`, `.`)")]
pub struct BadName(pub String);

impl PackageName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PackageName {
    type Err = BadName;
    fn from_str(s: &str) -> Result<Self, BadName> {
        let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        let s_trim = s.trim();
        if s_trim.is_empty()
            || !s_trim.chars().all(ok)
            || !s_trim.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !s_trim.ends_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Err(BadName(s.to_owned()));
        }
        let mut out = String::with_capacity(s_trim.len());
        let mut in_sep = false;
        for c in s_trim.chars() {
            if matches!(c, '-' | '_' | '.') {
                if !in_sep {
                    out.push('-');
                }
                in_sep = true;
            } else {
                out.push(c.to_ascii_lowercase());
                in_sep = false;
            }
        }
        Ok(Self(out))
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PackageName({})", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub files: Vec<IndexFile>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub filename: String,
    /// Absolute, without the `#sha256=` fragment.
    pub url: String,
    pub sha256: Option<Sha256>,
    pub requires_python: Option<String>,
    pub yanked: bool,
    /// The index serves PEP 658 metadata at `url + ".metadata"`.
    pub core_metadata: bool,
    pub upload_time: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("`{name}` is not on the package index ({url} answered HTTP 404)")]
    NotFound { name: String, url: String },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("the package index page {url} is not valid simple-API JSON: {reason}")]
    BadPage { url: String, reason: String },
}

/// A simple-API client for one index.
#[derive(Debug, Clone)]
pub struct IndexClient {
    endpoint: Endpoint,
    client: reqwest::Client,
}

impl IndexClient {
    pub fn new(endpoint: Endpoint) -> Result<Self, IndexError> {
        Ok(Self {
            endpoint,
            client: http::client()?,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The project's page URL: `{base}/{normalized-name}/`.
    pub fn project_url(&self, name: &PackageName) -> String {
        format!("{}/{}/", self.endpoint.url, name)
    }

    pub async fn project(&self, name: &PackageName) -> Result<Project, IndexError> {
        let url = self.project_url(name);
        let body = match http::get_bytes(&self.client, &url, Some(ACCEPT), http::Limit::Index).await
        {
            Ok(b) => b,
            Err(HttpError::Status { status: 404, .. }) => {
                return Err(IndexError::NotFound {
                    name: name.to_string(),
                    url,
                });
            }
            Err(e) => return Err(e.into()),
        };
        parse_page(&url, &body)
    }

    pub async fn download(&self, file: &IndexFile) -> Result<Vec<u8>, IndexError> {
        Ok(http::get_bytes(&self.client, &file.url, None, http::Limit::File).await?)
    }

    /// The file's core metadata (PEP 658), if the index serves it.
    pub async fn metadata(&self, file: &IndexFile) -> Result<Option<String>, IndexError> {
        if !file.core_metadata {
            return Ok(None);
        }
        let url = format!("{}.metadata", file.url);
        match http::get_bytes(&self.client, &url, None, http::Limit::Metadata).await {
            Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
            Err(HttpError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Parses a project page, JSON or HTML, by its first byte: a static file server labels every
/// page `text/html` or worse, so the body is a better witness than `Content-Type`.
pub fn parse_page(page_url: &str, body: &[u8]) -> Result<Project, IndexError> {
    let text = String::from_utf8_lossy(body);
    if text.trim_start().starts_with('{') {
        parse_json(page_url, &text)
    } else {
        Ok(parse_html(page_url, &text))
    }
}

#[derive(Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
    #[serde(rename = "requires-python", default)]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Option<serde_json::Value>,
    #[serde(rename = "core-metadata", default)]
    core_metadata: Option<serde_json::Value>,
    #[serde(rename = "dist-info-metadata", default)]
    dist_info_metadata: Option<serde_json::Value>,
    #[serde(rename = "upload-time", default)]
    upload_time: Option<String>,
}

/// `false`, absent and `null` mean no; `true`, a reason string or a hash table mean yes.
fn truthy(v: &Option<serde_json::Value>) -> bool {
    !matches!(
        v,
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false))
    )
}

pub fn parse_json(page_url: &str, text: &str) -> Result<Project, IndexError> {
    let page: JsonPage = serde_json::from_str(text).map_err(|e| IndexError::BadPage {
        url: page_url.to_owned(),
        reason: e.to_string(),
    })?;
    let files = page
        .files
        .into_iter()
        .map(|f| {
            let (url, fragment_hash) = resolve(page_url, &f.url);
            let sha256 = f
                .hashes
                .get("sha256")
                .and_then(|h| h.to_ascii_lowercase().parse().ok())
                .or(fragment_hash);
            IndexFile {
                filename: f.filename,
                url,
                sha256,
                requires_python: f.requires_python.filter(|s| !s.trim().is_empty()),
                yanked: truthy(&f.yanked),
                core_metadata: truthy(&f.core_metadata) || truthy(&f.dist_info_metadata),
                upload_time: f.upload_time,
            }
        })
        .collect();
    Ok(Project { files })
}

/// Makes `href` absolute against the page and splits off a `#sha256=` fragment.
fn resolve(page_url: &str, href: &str) -> (String, Option<Sha256>) {
    let absolute = reqwest::Url::parse(page_url)
        .and_then(|base| base.join(href))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| href.to_owned());
    match absolute.split_once('#') {
        Some((url, frag)) => {
            let hash = frag
                .strip_prefix("sha256=")
                .and_then(|h| h.to_ascii_lowercase().parse().ok());
            (url.to_owned(), hash)
        }
        None => (absolute, None),
    }
}

/// PEP 503: every `<a>` on the page is a file; attributes carry the rest.
pub fn parse_html(page_url: &str, text: &str) -> Project {
    let mut files = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(start) = find_anchor(&lower, pos) {
        let Some(tag_end) = lower[start..].find('>').map(|i| start + i) else {
            break;
        };
        let attrs = parse_attributes(&text[start + 2..tag_end]);
        let close = lower[tag_end..]
            .find("</a")
            .map(|i| tag_end + i)
            .unwrap_or(text.len());
        let label = unescape(text[tag_end + 1..close].trim());
        pos = close;
        let Some(href) = attrs.iter().find(|(k, _)| k == "href").map(|(_, v)| v) else {
            continue;
        };
        let attr = |name: &str| attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let (url, sha256) = resolve(page_url, href);
        let filename = if label.is_empty() {
            url.rsplit('/').next().unwrap_or_default().to_owned()
        } else {
            label
        };
        let metadata = |name: &str| attr(name).is_some_and(|v| v != "false");
        files.push(IndexFile {
            filename,
            url,
            sha256,
            requires_python: attr("data-requires-python")
                .filter(|v| !v.trim().is_empty())
                .cloned(),
            yanked: attr("data-yanked").is_some(),
            core_metadata: metadata("data-core-metadata") || metadata("data-dist-info-metadata"),
            upload_time: None,
        });
    }
    Project { files }
}

fn find_anchor(lower: &str, from: usize) -> Option<usize> {
    let mut pos = from;
    while let Some(i) = lower[pos..].find("<a") {
        let at = pos + i;
        match lower.as_bytes().get(at + 2) {
            Some(b) if b.is_ascii_whitespace() => return Some(at),
            _ => pos = at + 2,
        }
    }
    None
}

/// `name="v"`, `name='v'`, `name=v` and bare `name`; names lowercased, values unescaped.
fn parse_attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let name_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' {
            i += 1;
        }
        if name_start == i {
            break;
        }
        let name = s[name_start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            out.push((name, String::new()));
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
            let quote = b[i];
            let start = i + 1;
            let end = b[start..]
                .iter()
                .position(|&c| c == quote)
                .map_or(b.len(), |p| start + p);
            i = (end + 1).min(b.len());
            &s[start..end]
        } else {
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            &s[start..i]
        };
        out.push((name, unescape(value)));
    }
    out
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        // An entity is short: looking further for its `;` makes a page of bare `&` quadratic.
        let Some(semi) = rest.bytes().take(11).position(|b| b == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const H2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    /// A page of bare `&` once took time quadratic in its size (minutes for 1 MB); the index
    /// client reads pages of several MB.
    #[test]
    fn bare_ampersands_unescape_in_linear_time() {
        let text = "&".repeat(1 << 20) + ";&amp;";
        let out = unescape(&text);
        assert_eq!(out.len(), (1 << 20) + 2);
        assert!(out.ends_with(";&"));
    }

    #[test]
    fn normalizes_names() {
        let n: PackageName = "Flit_Core".parse().unwrap();
        assert_eq!(n.as_str(), "flit-core");
        assert_eq!(
            "zope..interface-_x"
                .parse::<PackageName>()
                .unwrap()
                .as_str(),
            "zope-interface-x"
        );
        assert!("".parse::<PackageName>().is_err());
        assert!("a b".parse::<PackageName>().is_err());
        assert!("-a".parse::<PackageName>().is_err());
    }

    #[test]
    fn parses_html_page() {
        let html = format!(
            r#"<!DOCTYPE html><html><body><h1>Links for demo</h1>
<a href="../../files/demo-1.0-py3-none-any.whl#sha256={H1}" data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256={H2}">demo-1.0-py3-none-any.whl</a><br/>
<A HREF='https://files.example/demo-0.9.tar.gz#sha256={H2}' data-yanked="">demo-0.9.tar.gz</A>
<a href="demo-0.8-py3-none-any.whl">demo-0.8-py3-none-any.whl</a>
<abbr>not a link</abbr>
</body></html>"#
        );
        let p = parse_page("http://127.0.0.1:8000/simple/demo/", html.as_bytes()).unwrap();
        assert_eq!(p.files.len(), 3);
        let f = &p.files[0];
        assert_eq!(f.filename, "demo-1.0-py3-none-any.whl");
        assert_eq!(
            f.url,
            "http://127.0.0.1:8000/files/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(f.sha256, Some(H1.parse().unwrap()));
        assert_eq!(f.requires_python.as_deref(), Some(">=3.8"));
        assert!(f.core_metadata && !f.yanked);
        let g = &p.files[1];
        assert!(g.yanked && !g.core_metadata);
        assert_eq!(g.url, "https://files.example/demo-0.9.tar.gz");
        assert_eq!(g.sha256, Some(H2.parse().unwrap()));
        let h = &p.files[2];
        assert_eq!(
            h.url,
            "http://127.0.0.1:8000/simple/demo/demo-0.8-py3-none-any.whl"
        );
        assert_eq!(h.sha256, None);
    }

    #[test]
    fn parses_json_page() {
        let json = format!(
            r#"{{"meta":{{"api-version":"1.1"}},"name":"demo","files":[
{{"filename":"demo-1.0-py3-none-any.whl","url":"/files/demo-1.0-py3-none-any.whl","hashes":{{"sha256":"{H1}"}},
 "requires-python":">=3.9","core-metadata":{{"sha256":"{H2}"}},"yanked":false,"upload-time":"2024-01-01T00:00:00Z"}},
{{"filename":"demo-0.9.tar.gz","url":"https://files.example/demo-0.9.tar.gz","hashes":{{}},"yanked":"broken"}}
]}}"#
        );
        let p = parse_page("http://127.0.0.1:8000/simple/demo/", json.as_bytes()).unwrap();
        let f = &p.files[0];
        assert_eq!(
            f.url,
            "http://127.0.0.1:8000/files/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(f.sha256, Some(H1.parse().unwrap()));
        assert_eq!(f.requires_python.as_deref(), Some(">=3.9"));
        assert!(f.core_metadata && !f.yanked);
        assert_eq!(f.upload_time.as_deref(), Some("2024-01-01T00:00:00Z"));
        let g = &p.files[1];
        assert!(g.yanked && !g.core_metadata && g.sha256.is_none());
        assert!(parse_json("u", "{\"nope\":1}").is_err());
    }
}
