//! Where hermit reaches the outside world: the Python package index and the Debian mirror.
//! Nothing here is a constant in the code. Each endpoint is looked up the way a user behind a
//! mirror would expect, and every answer says where it came from so `hermit doctor` can show it.
//!
//! Package index: `--index-url`, then `HERMIT_INDEX_URL`, then pip's own settings
//! (`PIP_INDEX_URL`, then pip's config files), then the default compiled into the host's pip.
//! Debian mirror: `--debian-mirror`, then `HERMIT_DEBIAN_MIRROR`, then the host's apt sources.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Base URL without a trailing slash.
    pub url: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag(&'static str),
    Env(&'static str),
    File(PathBuf),
    PipDefault,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::PipDefault => write!(f, "the host's pip default"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error(
        "no package index configured: pass --index-url URL (or set HERMIT_INDEX_URL, PIP_INDEX_URL or index-url in pip.conf)"
    )]
    NoIndex,
    #[error(
        "no Debian mirror configured: pass --debian-mirror URL (or set HERMIT_DEBIAN_MIRROR, or add a deb source to /etc/apt/sources.list.d)"
    )]
    NoMirror,
}

fn endpoint(url: &str, origin: Origin) -> Endpoint {
    Endpoint {
        url: url.trim().trim_end_matches('/').to_owned(),
        origin,
    }
}

fn env_nonempty(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// The package index's simple API base URL (PEP 503/691).
pub fn index_url(flag: Option<&str>) -> Result<Endpoint, EndpointError> {
    if let Some(url) = flag {
        return Ok(endpoint(url, Origin::Flag("--index-url")));
    }
    for var in ["HERMIT_INDEX_URL", "PIP_INDEX_URL"] {
        if let Some(url) = env_nonempty(var) {
            let var: &'static str = if var == "HERMIT_INDEX_URL" {
                "HERMIT_INDEX_URL"
            } else {
                "PIP_INDEX_URL"
            };
            return Ok(endpoint(&url, Origin::Env(var)));
        }
    }
    for file in pip_config_files() {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some(url) = pip_config_index_url(&text)
        {
            return Ok(endpoint(&url, Origin::File(file)));
        }
    }
    pip_default_index()
        .map(|url| endpoint(&url, Origin::PipDefault))
        .ok_or(EndpointError::NoIndex)
}

/// pip's config files, lowest priority last (pip reads them the other way round and lets later
/// ones win; hermit takes the first that names an index, which is the same answer).
fn pip_config_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(f) = env_nonempty("PIP_CONFIG_FILE") {
        files.push(PathBuf::from(f));
    }
    if let Some(venv) = env_nonempty("VIRTUAL_ENV") {
        files.push(Path::new(&venv).join("pip.conf"));
    }
    let home = env_nonempty("HOME").map(PathBuf::from);
    let xdg_config = env_nonempty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    if let Some(x) = xdg_config {
        files.push(x.join("pip/pip.conf"));
    }
    if let Some(h) = home {
        files.push(h.join(".pip/pip.conf"));
    }
    let xdg_dirs = env_nonempty("XDG_CONFIG_DIRS").unwrap_or_else(|| "/etc/xdg".into());
    for dir in xdg_dirs.split(':').filter(|d| !d.is_empty()) {
        files.push(Path::new(dir).join("pip/pip.conf"));
    }
    files.push(PathBuf::from("/etc/pip.conf"));
    files
}

/// `index-url` from an INI pip config, looking in `[install]`, `[download]`, then `[global]`.
pub fn pip_config_index_url(text: &str) -> Option<String> {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_lowercase();
            continue;
        }
        if let Some((key, value)) = line.split_once(['=', ':']) {
            let key = key.trim().to_lowercase().replace('_', "-");
            if key == "index-url" {
                found.push((section.clone(), value.trim().to_owned()));
            }
        }
    }
    ["install", "download", "global"].iter().find_map(|s| {
        found
            .iter()
            .find(|(sec, _)| sec == s)
            .map(|(_, v)| v.clone())
    })
}

/// Asks the host's pip for its compiled-in default index, so hermit never hard-codes one.
fn pip_default_index() -> Option<String> {
    for python in ["python3", "python"] {
        let out = Command::new(python)
            .args([
                "-c",
                "from pip._internal.models.index import PyPI; print(PyPI.simple_url)",
            ])
            .output();
        if let Ok(out) = out
            && out.status.success()
        {
            let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if url.starts_with("http") {
                return Some(url);
            }
        }
    }
    None
}

/// The Debian archive base URL (the directory holding `dists/` and `pool/`).
pub fn debian_mirror(flag: Option<&str>) -> Result<Endpoint, EndpointError> {
    if let Some(url) = flag {
        return Ok(endpoint(url, Origin::Flag("--debian-mirror")));
    }
    if let Some(url) = env_nonempty("HERMIT_DEBIAN_MIRROR") {
        return Ok(endpoint(&url, Origin::Env("HERMIT_DEBIAN_MIRROR")));
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let name = file.to_string_lossy();
        let found = if name.ends_with(".sources") {
            apt_deb822_mirror(&text)
        } else if name.ends_with(".list") {
            apt_one_line_mirror(&text)
        } else {
            None
        };
        if let Some(url) = found {
            return Ok(endpoint(&url, Origin::File(file)));
        }
    }
    Err(EndpointError::NoMirror)
}

/// The first `deb` URI in deb822 format that is the main archive (not a security archive).
pub fn apt_deb822_mirror(text: &str) -> Option<String> {
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_owned())
            })
        };
        let types = field("Types").unwrap_or_default();
        if !types.split_whitespace().any(|t| t == "deb") {
            continue;
        }
        let enabled = field("Enabled").is_none_or(|e| e != "no");
        if let (Some(uris), true) = (field("URIs"), enabled) {
            for uri in uris.split_whitespace() {
                if !uri.contains("security") {
                    return Some(uri.to_owned());
                }
            }
        }
    }
    None
}

/// The first `deb URL suite …` line that is not a security archive.
pub fn apt_one_line_mirror(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace().peekable();
        if words.next()? != "deb" {
            return None;
        }
        if words.peek()?.starts_with('[') {
            for w in words.by_ref() {
                if w.ends_with(']') {
                    break;
                }
            }
        }
        let uri = words.next()?;
        (uri.starts_with("http") && !uri.contains("security")).then(|| uri.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins() {
        let e = index_url(Some("http://127.0.0.1:9/simple/")).unwrap();
        assert_eq!(e.url, "http://127.0.0.1:9/simple");
        assert_eq!(e.origin, Origin::Flag("--index-url"));
    }

    #[test]
    fn reads_pip_config_sections_in_pip_order() {
        let text = "[global]\nindex-url = http://g.example/simple\n[install]\nindex_url=http://i.example/simple\n";
        assert_eq!(
            pip_config_index_url(text).as_deref(),
            Some("http://i.example/simple")
        );
        assert_eq!(pip_config_index_url("[global]\ncert = x\n"), None);
    }

    #[test]
    fn reads_apt_sources() {
        let deb822 = "Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie\n\nTypes: deb\nURIs: http://mirror.example/debian-security\n";
        assert_eq!(
            apt_deb822_mirror(deb822).as_deref(),
            Some("http://mirror.example/debian")
        );
        let list = "# c\ndeb-src http://x/debian trixie main\ndeb [arch=amd64 signed-by=/k] http://m.example/debian trixie main\n";
        assert_eq!(
            apt_one_line_mirror(list).as_deref(),
            Some("http://m.example/debian")
        );
    }
}
