//! Image recipes (`images/<name>/recipe.toml`) and their locks (`recipe.lock`). A recipe names
//! a Debian suite and root packages; its lock names every `.deb` by pool path and sha256 and the
//! image ID those bytes must build. The default recipe is compiled into the binary so an
//! installed hermit needs no checkout.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::image::reference::ImageId;
use crate::record::digest::Sha256;

/// What a recipe directory holds, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub name: String,
    pub debian: DebianSpec,
    pub python: PythonSpec,
    pub user: UserSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebianSpec {
    pub suite: String,
    pub component: String,
    pub architecture: String,
    pub packages: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonSpec {
    pub version: String,
    pub purelib: String,
    #[serde(default)]
    pub compile: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// One `.deb` as the lock pins it. No URL: the mirror is configuration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedDeb {
    pub name: String,
    pub version: String,
    /// Relative to the mirror base, e.g. `pool/main/p/python3.13/python3.13_3.13.5-2_amd64.deb`.
    pub path: String,
    pub size: u64,
    pub sha256: Sha256,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeLock {
    pub version: u32,
    /// sha256 of the `recipe.toml` bytes this lock was made from.
    pub recipe_sha256: Sha256,
    /// The image ID (config digest) these packages must build.
    pub image_id: ImageId,
    #[serde(rename = "package")]
    pub packages: Vec<LockedDeb>,
}

pub const LOCK_VERSION: u32 = 1;
pub const RECIPE_FILE: &str = "recipe.toml";
pub const LOCK_FILE: &str = "recipe.lock";

#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("could not read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not a valid recipe: {message}")]
    BadRecipe { path: String, message: String },
    #[error(
        "`{path}` is not a valid recipe lock ({message}); run `hermit image lock` to regenerate it"
    )]
    BadLock { path: String, message: String },
    #[error(
        "`{path}` was made from another `recipe.toml`; run `hermit image lock` to regenerate it"
    )]
    StaleLock { path: String },
    #[error(
        "`{path}` has version {found}, this hermit reads version {LOCK_VERSION}; run `hermit image lock`"
    )]
    LockVersion { path: String, found: u32 },
}

/// A recipe and its lock as text, with the directory they came from (for messages and the
/// manifest, which records `images/<name>`, never a host path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedRecipe {
    pub name: &'static str,
    pub path: &'static str,
    pub recipe: &'static str,
    pub lock: &'static str,
}

/// The images hermit can build from recipes compiled into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Builtin {
    /// Debian trixie's CPython 3.13: every build uses it unless told otherwise.
    #[default]
    TrixiePython,
    /// Debian bookworm's CPython 3.11, the last with `distutils`: for rebuilding older releases.
    BookwormPython,
    /// Debian trixie's CPython 3.13 with its headers, gcc, g++ and make: for projects with
    /// compiled extensions.
    TrixieToolchain,
}

impl Builtin {
    pub const ALL: [Builtin; 3] = [
        Builtin::TrixiePython,
        Builtin::BookwormPython,
        Builtin::TrixieToolchain,
    ];

    pub fn embedded(self) -> EmbeddedRecipe {
        match self {
            Builtin::TrixiePython => EmbeddedRecipe {
                name: "trixie-python",
                path: "images/trixie-python",
                recipe: include_str!("../../images/trixie-python/recipe.toml"),
                lock: include_str!("../../images/trixie-python/recipe.lock"),
            },
            Builtin::BookwormPython => EmbeddedRecipe {
                name: "bookworm-python",
                path: "images/bookworm-python",
                recipe: include_str!("../../images/bookworm-python/recipe.toml"),
                lock: include_str!("../../images/bookworm-python/recipe.lock"),
            },
            Builtin::TrixieToolchain => EmbeddedRecipe {
                name: "trixie-toolchain",
                path: "images/trixie-toolchain",
                recipe: include_str!("../../images/trixie-toolchain/recipe.toml"),
                lock: include_str!("../../images/trixie-toolchain/recipe.lock"),
            },
        }
    }

    /// `major.minor` of the image's interpreter (a unit test checks it against the recipe).
    pub fn python(self) -> &'static str {
        match self {
            Builtin::TrixiePython | Builtin::TrixieToolchain => "3.13",
            Builtin::BookwormPython => "3.11",
        }
    }

    /// Whether the image has a C compiler. Choosing by interpreter alone never picks such an
    /// image: it is six times the size, and a project that needs it is detected (or says so).
    pub fn has_compiler(self) -> bool {
        matches!(self, Builtin::TrixieToolchain)
    }

    /// The plain built-in image (no compiler) with this `major.minor` interpreter.
    pub fn for_python(version: &str) -> Option<Builtin> {
        Builtin::ALL
            .into_iter()
            .find(|b| !b.has_compiler() && b.python() == version)
    }

    /// The versions `for_python` knows, for messages.
    pub fn pythons() -> String {
        Builtin::ALL
            .into_iter()
            .filter(|b| !b.has_compiler())
            .map(Builtin::python)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The built-in image by its recipe's name, or `toolchain` for the one with a compiler.
    pub fn by_name(name: &str) -> Option<Builtin> {
        if name == "toolchain" {
            return Some(Builtin::TrixieToolchain);
        }
        Builtin::ALL.into_iter().find(|b| b.embedded().name == name)
    }

    /// The names `by_name` knows, for messages.
    pub fn names() -> String {
        Builtin::ALL.map(|b| b.embedded().name).join(", ") + ", toolchain"
    }
}

/// `3.11`, `bookworm-python` or `toolchain`: a built-in image by its interpreter or its recipe's
/// name.
impl std::str::FromStr for Builtin {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Builtin::for_python(s)
            .or_else(|| Builtin::by_name(s))
            .ok_or_else(|| {
                format!(
                    "no built-in image has Python `{s}` or that name; the built-in images have {} (by name: {})",
                    Builtin::pythons(),
                    Builtin::names()
                )
            })
    }
}

/// The default image's recipe, compiled in.
pub fn default_recipe() -> EmbeddedRecipe {
    Builtin::default().embedded()
}

impl Recipe {
    pub fn parse(text: &str, path: &str) -> Result<Self, RecipeError> {
        let recipe: Recipe = toml::from_str(text).map_err(|e| RecipeError::BadRecipe {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
        let bad = |message: &str| RecipeError::BadRecipe {
            path: path.to_owned(),
            message: message.to_owned(),
        };
        if recipe.debian.packages.is_empty() {
            return Err(bad("`debian.packages` is empty"));
        }
        if !recipe.python.purelib.starts_with('/')
            || recipe.python.compile.iter().any(|d| !d.starts_with('/'))
        {
            return Err(bad(
                "`python.purelib` and `python.compile` want absolute paths",
            ));
        }
        if recipe.user.uid == 0 {
            return Err(bad("`user.uid` must not be 0: builds run unprivileged"));
        }
        Ok(recipe)
    }

    /// Where build output and sources live in the image, owned by the build user.
    pub fn home(&self) -> String {
        format!("/home/{}", self.user.name)
    }
}

impl RecipeLock {
    pub fn parse(text: &str, path: &str) -> Result<Self, RecipeError> {
        let lock: RecipeLock = toml::from_str(text).map_err(|e| RecipeError::BadLock {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
        if lock.version != LOCK_VERSION {
            return Err(RecipeError::LockVersion {
                path: path.to_owned(),
                found: lock.version,
            });
        }
        Ok(lock)
    }

    /// Checks the lock belongs to exactly these recipe bytes.
    pub fn check_recipe(&self, recipe_text: &str, path: &str) -> Result<(), RecipeError> {
        if self.recipe_sha256 != Sha256::of(recipe_text.as_bytes()) {
            return Err(RecipeError::StaleLock {
                path: path.to_owned(),
            });
        }
        Ok(())
    }

    /// The lock file's text: packages sorted by name, fixed key order, so the same resolution
    /// gives the same bytes.
    pub fn render(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let mut packages = self.packages.clone();
        packages.sort();
        let mut out = String::from(
            "# Generated by `hermit image lock` from recipe.toml; do not edit.\n\
             # Each .deb by its path under the mirror and its sha256; `image_id` is the image\n\
             # (config digest) these bytes build.\n",
        );
        out += &format!("version = {}\n", self.version);
        out += &format!("recipe_sha256 = {}\n", q(&self.recipe_sha256.hex()));
        out += &format!("image_id = {}\n", q(&self.image_id.to_string()));
        for p in &packages {
            out += "\n[[package]]\n";
            out += &format!("name = {}\n", q(&p.name));
            out += &format!("version = {}\n", q(&p.version));
            out += &format!("path = {}\n", q(&p.path));
            out += &format!("size = {}\n", p.size);
            out += &format!("sha256 = {}\n", q(&p.sha256.hex()));
        }
        out
    }
}

/// Reads `recipe.toml` and `recipe.lock` (if present) from a recipe directory.
pub fn read_dir(dir: &Path) -> Result<(String, Option<String>), RecipeError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| RecipeError::Read { path, source })
    };
    let recipe = read(RECIPE_FILE)?;
    let lock = match read(LOCK_FILE) {
        Ok(text) => Some(text),
        Err(RecipeError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            None
        }
        Err(e) => return Err(e),
    };
    Ok((recipe, lock))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_lock() -> RecipeLock {
        RecipeLock {
            version: LOCK_VERSION,
            recipe_sha256: Sha256::of(b"recipe"),
            image_id: ImageId(Sha256::of(b"config")),
            packages: vec![
                LockedDeb {
                    name: "zlib1g".into(),
                    version: "1:1.3.dfsg+really1.3.1-1+b1".into(),
                    path: "pool/main/z/zlib/zlib1g_1.3.dfsg+really1.3.1-1+b1_amd64.deb".into(),
                    size: 12,
                    sha256: Sha256::of(b"z"),
                },
                LockedDeb {
                    name: "libc6".into(),
                    version: "2.41-12".into(),
                    path: "pool/main/g/glibc/libc6_2.41-12_amd64.deb".into(),
                    size: 34,
                    sha256: Sha256::of(b"c"),
                },
            ],
        }
    }

    #[test]
    fn lock_renders_sorted_and_round_trips() {
        let lock = sample_lock();
        let text = lock.render();
        let golden = format!(
            "# Generated by `hermit image lock` from recipe.toml; do not edit.\n\
             # Each .deb by its path under the mirror and its sha256; `image_id` is the image\n\
             # (config digest) these bytes build.\n\
             version = 1\n\
             recipe_sha256 = \"{}\"\n\
             image_id = \"sha256:{}\"\n\
             \n[[package]]\nname = \"libc6\"\nversion = \"2.41-12\"\n\
             path = \"pool/main/g/glibc/libc6_2.41-12_amd64.deb\"\nsize = 34\nsha256 = \"{}\"\n\
             \n[[package]]\nname = \"zlib1g\"\nversion = \"1:1.3.dfsg+really1.3.1-1+b1\"\n\
             path = \"pool/main/z/zlib/zlib1g_1.3.dfsg+really1.3.1-1+b1_amd64.deb\"\nsize = 12\nsha256 = \"{}\"\n",
            Sha256::of(b"recipe").hex(),
            Sha256::of(b"config").hex(),
            Sha256::of(b"c").hex(),
            Sha256::of(b"z").hex(),
        );
        assert_eq!(text, golden);
        let back = RecipeLock::parse(&text, "recipe.lock").unwrap();
        assert_eq!(back.render(), text);
        assert_eq!(back.packages[0].name, "libc6");
    }

    #[test]
    fn lock_checks_its_recipe_and_version() {
        let lock = sample_lock();
        assert!(lock.check_recipe("recipe", "x").is_ok());
        assert!(matches!(
            lock.check_recipe("other", "x"),
            Err(RecipeError::StaleLock { .. })
        ));
        let text = lock.render().replace("version = 1\n", "version = 9\n");
        assert!(matches!(
            RecipeLock::parse(&text, "x"),
            Err(RecipeError::LockVersion { found: 9, .. })
        ));
        let text = lock.render().replace("sha256 = \"", "sha256 = \"X");
        assert!(RecipeLock::parse(&text, "x").is_err());
    }

    #[test]
    fn default_recipe_parses() {
        let embedded = default_recipe();
        let recipe = Recipe::parse(embedded.recipe, embedded.path).unwrap();
        assert_eq!(recipe.name, embedded.name);
        assert_eq!(recipe.debian.suite, "trixie");
        assert_eq!(recipe.debian.packages, ["python3"]);
        assert_eq!(recipe.debian.exclude, ["dpkg", "tar"]);
        assert_eq!(recipe.python.version, "3.13");
        assert_eq!(recipe.python.compile, ["/usr/lib/python3.13"]);
        assert_eq!((recipe.user.uid, recipe.user.gid), (1000, 1000));
    }

    #[test]
    fn builtin_recipes_parse_and_name_their_python() {
        for b in Builtin::ALL {
            let e = b.embedded();
            let recipe = Recipe::parse(e.recipe, e.path).unwrap();
            assert_eq!(recipe.name, e.name);
            assert_eq!(e.path, format!("images/{}", e.name));
            assert_eq!(recipe.python.version, b.python());
            if !b.has_compiler() {
                assert_eq!(Builtin::for_python(b.python()), Some(b));
            }
            assert_eq!(Builtin::by_name(e.name), Some(b));
            assert_eq!(e.name.parse(), Ok(b));
            let lock = RecipeLock::parse(e.lock, e.path).unwrap();
            lock.check_recipe(e.recipe, e.path).unwrap();
            assert_eq!(lock.render(), e.lock, "{} is canonical", e.path);
            assert!(!e.lock.contains("://"), "locks hold no URLs");
        }
        assert_eq!(Builtin::for_python("2.7"), None);
        assert_eq!("3.11".parse(), Ok(Builtin::BookwormPython));
        assert_eq!("trixie-python".parse(), Ok(Builtin::TrixiePython));
        // The toolchain image shares trixie's 3.13 but is chosen by name or by need only.
        assert_eq!("3.13".parse(), Ok(Builtin::TrixiePython));
        assert_eq!("toolchain".parse(), Ok(Builtin::TrixieToolchain));
        assert_eq!("trixie-toolchain".parse(), Ok(Builtin::TrixieToolchain));
        assert!(Builtin::TrixieToolchain.has_compiler());
        assert!(!Builtin::TrixiePython.has_compiler() && !Builtin::BookwormPython.has_compiler());
        let err = "3.9".parse::<Builtin>().unwrap_err();
        assert!(
            err.contains("the built-in images have 3.13, 3.11 ("),
            "{err}"
        );
        assert!(err.contains("toolchain"), "{err}");
        assert_eq!(Builtin::pythons(), "3.13, 3.11");
    }

    #[test]
    fn recipe_refuses_unknown_fields_and_root() {
        let text = default_recipe().recipe.replace("uid = 1000", "uid = 0");
        assert!(Recipe::parse(&text, "r").is_err());
        let text = format!("{}\nsurprise = 1\n", default_recipe().recipe);
        assert!(Recipe::parse(&text, "r").is_err());
    }
}
