//! Image references that can only name bytes: a build image is given by digest, never by tag,
//! because a tag can point at other bytes tomorrow. `ImageId` is the config digest (what the
//! engine calls the image ID), the one name that survives load, push and pull unchanged.

use std::fmt;
use std::str::FromStr;

use bollard::Docker;
use serde::{Deserialize, Serialize};

use crate::record::digest::Sha256;

/// The sha256 of an image's config blob; shown and parsed as `sha256:HEX`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageId(pub Sha256);

impl ImageId {
    pub fn digest(&self) -> Sha256 {
        self.0
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.prefixed())
    }
}

impl fmt::Debug for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageId({})", self.0.prefixed())
    }
}

impl FromStr for ImageId {
    type Err = RefError;
    fn from_str(s: &str) -> Result<Self, RefError> {
        Sha256::from_prefixed(s)
            .map(ImageId)
            .map_err(|_| RefError::BadId(s.to_owned()))
    }
}

impl TryFrom<String> for ImageId {
    type Error = RefError;
    fn try_from(s: String) -> Result<Self, RefError> {
        s.parse()
    }
}

impl From<ImageId> for String {
    fn from(id: ImageId) -> String {
        id.to_string()
    }
}

/// `NAME@sha256:HEX` (a repository digest) or `sha256:HEX` (an image ID). Nothing else parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub name: Option<String>,
    pub digest: Sha256,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error(
        "`{given}` is a tag, which can point at other bytes tomorrow; pin it as `{name}@sha256:…` (see `docker images --digests`, or `docker inspect --format '{{{{.Id}}}}' {given}` for the image ID `sha256:…`)"
    )]
    Tag { given: String, name: String },
    #[error("`{0}` is not an image ID (want `sha256:` and 64 lowercase hex characters)")]
    BadId(String),
    #[error("`{0}` has a malformed digest (want `NAME@sha256:` and 64 lowercase hex characters)")]
    BadDigest(String),
}

impl FromStr for ImageRef {
    type Err = RefError;
    fn from_str(s: &str) -> Result<Self, RefError> {
        let s = s.trim();
        if s.starts_with("sha256:") {
            let id: ImageId = s.parse()?;
            return Ok(ImageRef {
                name: None,
                digest: id.0,
            });
        }
        if let Some((name, digest)) = s.rsplit_once('@') {
            let digest =
                Sha256::from_prefixed(digest).map_err(|_| RefError::BadDigest(s.to_owned()))?;
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(RefError::BadDigest(s.to_owned()));
            }
            return Ok(ImageRef {
                name: Some(name.to_owned()),
                digest,
            });
        }
        if s.len() == 64 && s.parse::<Sha256>().is_ok() {
            return Err(RefError::BadId(s.to_owned()));
        }
        // Strip a tag (`:x` after the last `/`) so the hint shows the repository name.
        let last_slash = s.rfind('/').map_or(0, |i| i + 1);
        let name = match s[last_slash..].rfind(':') {
            Some(i) => &s[..last_slash + i],
            None => s,
        };
        Err(RefError::Tag {
            given: s.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name}@{}", self.digest.prefixed()),
            None => f.write_str(&self.digest.prefixed()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "the container engine has no image `{0}` and hermit reaches no registry: load it with `docker load`, or leave out `--image` to use the default image"
    )]
    Missing(String),
    #[error("image `{given}` resolved to `{found}`, not the pinned ID")]
    WrongId { given: String, found: String },
    #[error(
        "the engine's image for `{given}` does not list that repository digest (it has: {found}); give its image ID `sha256:…` instead"
    )]
    NoRepoDigest { given: String, found: String },
    #[error("the engine returned no usable ID for `{0}`")]
    NoId(String),
    #[error("could not inspect image `{given}`: {source}")]
    Engine {
        given: String,
        #[source]
        source: bollard::errors::Error,
    },
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Inspects an image by its ID; `Ok(None)` when the engine does not have it.
pub async fn inspect_id(docker: &Docker, id: &ImageId) -> Result<Option<ImageId>, ResolveError> {
    let given = id.to_string();
    match docker.inspect_image(&given).await {
        Ok(info) => {
            let found = info.id.ok_or_else(|| ResolveError::NoId(given.clone()))?;
            let found: ImageId = found
                .parse()
                .map_err(|_| ResolveError::NoId(given.clone()))?;
            if found != *id {
                return Err(ResolveError::WrongId {
                    given,
                    found: found.to_string(),
                });
            }
            Ok(Some(found))
        }
        Err(e) if is_not_found(&e) => Ok(None),
        Err(source) => Err(ResolveError::Engine { given, source }),
    }
}

/// Finds the image a reference names on the engine and returns its ID. A `sha256:` reference
/// must be the image ID itself; `NAME@sha256:` must be among the image's repository digests.
pub async fn resolve(docker: &Docker, reference: &ImageRef) -> Result<ImageId, ResolveError> {
    let given = reference.to_string();
    if reference.name.is_none() {
        let id = ImageId(reference.digest);
        return inspect_id(docker, &id)
            .await?
            .ok_or(ResolveError::Missing(given));
    }
    let info = match docker.inspect_image(&given).await {
        Ok(info) => info,
        Err(e) if is_not_found(&e) => return Err(ResolveError::Missing(given)),
        Err(source) => return Err(ResolveError::Engine { given, source }),
    };
    let digests = info.repo_digests.unwrap_or_default();
    let want = format!("@{}", reference.digest.prefixed());
    if !digests.iter().any(|d| d.ends_with(&want)) {
        return Err(ResolveError::NoRepoDigest {
            given,
            found: if digests.is_empty() {
                "none".to_owned()
            } else {
                digests.join(", ")
            },
        });
    }
    let id = info.id.ok_or_else(|| ResolveError::NoId(given.clone()))?;
    id.parse().map_err(|_| ResolveError::NoId(given))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex() -> String {
        "ab".repeat(32)
    }

    #[test]
    fn accepts_digests() {
        let r: ImageRef = format!("python@sha256:{}", hex()).parse().unwrap();
        assert_eq!(r.name.as_deref(), Some("python"));
        assert_eq!(r.digest.hex(), hex());
        assert_eq!(r.to_string(), format!("python@sha256:{}", hex()));

        let r: ImageRef = format!("localhost:5000/a/b@sha256:{}", hex())
            .parse()
            .unwrap();
        assert_eq!(r.name.as_deref(), Some("localhost:5000/a/b"));

        let r: ImageRef = format!("sha256:{}", hex()).parse().unwrap();
        assert_eq!(r.name, None);
    }

    #[test]
    fn refuses_tags_with_a_hint() {
        let err = "python:3.13".parse::<ImageRef>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`python:3.13` is a tag"), "{msg}");
        assert!(msg.contains("`python@sha256:…`"), "{msg}");

        let err = "localhost:5000/img".parse::<ImageRef>().unwrap_err();
        assert!(
            err.to_string().contains("`localhost:5000/img@sha256:…`"),
            "{err}"
        );
        assert!(matches!(
            "python".parse::<ImageRef>(),
            Err(RefError::Tag { .. })
        ));
    }

    #[test]
    fn refuses_malformed_digests() {
        assert!(matches!(
            "python@sha256:abc".parse::<ImageRef>(),
            Err(RefError::BadDigest(_))
        ));
        assert!(matches!(
            format!("@sha256:{}", hex()).parse::<ImageRef>(),
            Err(RefError::BadDigest(_))
        ));
        assert!(matches!(hex().parse::<ImageRef>(), Err(RefError::BadId(_))));
        assert!(matches!(
            "sha256:XYZ".parse::<ImageRef>(),
            Err(RefError::BadId(_))
        ));
    }

    #[test]
    fn image_id_round_trips() {
        let id: ImageId = format!("sha256:{}", hex()).parse().unwrap();
        assert_eq!(id.to_string(), format!("sha256:{}", hex()));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"sha256:{}\"", hex()));
        assert_eq!(serde_json::from_str::<ImageId>(&json).unwrap(), id);
        assert!(hex().parse::<ImageId>().is_err());
    }
}
