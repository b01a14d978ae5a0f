//! Command-line surface: clap types and help text only, no logic.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueHint};

#[derive(Debug, Parser)]
#[command(
    name = "hermit",
    version,
    about = "Reproducible, verifiable Python package builds",
    long_about = "Reproducible, verifiable Python package builds.\n\n\
hermit builds a project's sdist and wheel inside a container image pinned by digest, with no \
network, build requirements installed only from a hash-locked file, and a fixed environment; \
it normalizes what the build backend leaves to chance and writes a manifest, so that anyone \
can rebuild later and get the same bytes.",
    after_help = "Exit codes: 0 success, 1 the build or verification failed, 2 bad usage or configuration."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print the build's own output
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the sdist and wheel and write a manifest beside them
    Build(BuildArgs),
    /// Rebuild from a manifest and say, per artifact, whether the bytes match
    Verify(VerifyArgs),
    /// Compare two wheels, two sdists or two directories of artifacts, member by member
    Compare(CompareArgs),
    /// Resolve build requirements and write a hash-locked lockfile
    Lock(LockArgs),
    /// Rebuild a released wheel from its sdist and say whether it matches the index's
    #[command(
        long_about = "Rebuild a released wheel from its sdist and say whether it matches the index's.\n\n\
    Fetches the release's sdist and wheel from the package index (checking the index's sha256 of \
    each): the pure-Python wheel, else the CPython 3.13 x86_64 manylinux one, rebuilt on the \
    toolchain image and repaired with the locked auditwheel. Reads the release's own build \
    conditions off its files, each recorded with its evidence: the interpreter of its era, the \
    backend version its WHEEL names, SOURCE_DATE_EPOCH or the maintainer's clock and time zone, \
    umask, file modes, directory order, a Windows zip. Locks the sdist's build-system.requires \
    as the index stood at the upload time (PEP 700) plus today's `build` to drive them; a \
    requirement with no wheel for the interpreter then takes the oldest later wheel, or its \
    sdist, locked by sha256 and built into a wheel in the sandbox. Builds the wheel from the \
    sdist offline and gives a verdict:\n\n\
      bit-identical                the backend's raw output is the index's file, byte for byte\n\
      identical after normalizing  normalizing both with hermit's canonical form gives the same bytes\n\
      same code                    every file outside .dist-info, and the entry points, are equal\n\
      same python code             the same, except compiled extension modules\n\
      different                    code differs; the member-by-member comparison is printed\n\n\
    The rebuilt wheel, the lock it used (build.lock) and a record (rebuild.json: index files and \
    hashes, upload-time cutoff, SOURCE_DATE_EPOCH and why, inferences, lock and image IDs, \
    verdict, differing members) are written to --out, so the rebuild can be repeated. With -r, \
    Ctrl-C stops the whole batch and writes nothing for what it interrupted.",
        after_help = "Exit codes: 0 bit-identical or identical after normalizing (for -r: every release), \
    1 same code, same python code, different or a failed rebuild, 2 bad usage, 130 interrupted."
    )]
    Rebuild(RebuildArgs),
    /// Merge the rebuild.json records of `hermit rebuild -r` runs (or shards) into one summary
    #[command(
        long_about = "Merge the rebuild.json records of `hermit rebuild -r` runs (or shards) into one summary.\n\n\
    Reads every NAME-VERSION/rebuild.json (and failure.json, a rebuild that stopped with an error) \
    up to three levels under each DIR, and prints the verdicts by backend and by upload year as \
    tables on stderr. The same release in two records must have the same result. The summary \
    depends only on the set of records: the same whatever the order of the DIRs or of the \
    shards that wrote them.",
        after_help = "Exit codes: 0 the summary was written, 2 a record is unreadable or two records disagree."
    )]
    Report(ReportArgs),
    /// Build, lock or list the built-in build images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Check the container engine, endpoints, cache and default image
    Doctor(DoctorArgs),
    /// Print a shell completion script for hermit (bash, zsh, fish, elvish, powershell)
    ///
    /// For example, `hermit completions bash > ~/.local/share/bash-completion/completions/hermit`
    /// or `hermit completions zsh > "${fpath[1]}/_hermit"`.
    Completions(CompletionsArgs),
    /// Print hermit's man page, or write one page per command into a directory
    ///
    /// For example, `hermit man --out ~/.local/share/man/man1`, then `man hermit-build`.
    Man(ManArgs),
    /// List or prune the download cache
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the checks as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub endpoints: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write hermit.1 and a page per command (hermit-build.1, hermit-image-ls.1, …) here
    /// instead of printing hermit.1 on stdout
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct EndpointArgs {
    /// Package index (simple API) base URL
    ///
    /// Default: HERMIT_INDEX_URL, then pip's own settings (PIP_INDEX_URL, pip.conf), then the
    /// index the host's pip uses by default.
    #[arg(long, value_name = "URL", value_hint = ValueHint::Url)]
    pub index_url: Option<String>,
    /// Debian archive base URL (holding dists/ and pool/), for building the default image
    ///
    /// Default: HERMIT_DEBIAN_MIRROR, then the first deb source in the host's apt sources.
    #[arg(long, value_name = "URL", value_hint = ValueHint::Url)]
    pub debian_mirror: Option<String>,
    /// Where downloaded files are kept, by sha256
    ///
    /// Default: HERMIT_CACHE_DIR, then $XDG_CACHE_HOME/hermit, then ~/.cache/hermit.
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Project directory (the one holding pyproject.toml)
    #[arg(default_value = ".", value_hint = ValueHint::DirPath)]
    pub path: PathBuf,
    /// Where to write the artifacts and hermit-manifest.json
    ///
    /// Written atomically: a failed build changes nothing there, and other files in it are
    /// left alone. Relative to the project directory.
    #[arg(long, short, default_value = "dist", value_hint = ValueHint::DirPath)]
    pub out: PathBuf,
    /// Build image, pinned by digest: NAME@sha256:HEX or an image ID sha256:HEX
    ///
    /// A bare tag is refused: it can point at other bytes tomorrow. Default: `[tool.hermit]
    /// image`, then the built-in image (built from its recipe the first time, no registry
    /// needed).
    #[arg(long, value_name = "REF")]
    pub image: Option<crate::image::ImageRef>,
    /// Hash-locked build requirements to use as they are (hermit's, pip's --hash or PEP 751)
    ///
    /// Default: `[tool.hermit] lockfile`, then the project's own `hermit.lock`, made on the
    /// first build (resolved from build-system.requires, the frontend and what the backend's
    /// hooks ask for) and kept up to date as pyproject.toml changes; a project without one
    /// whose requirements the built-in lock satisfies builds with that, offline.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub lockfile: Option<PathBuf>,
    /// Use hermit.lock exactly as committed: never write it, fail (exit 2) naming each
    /// requirement it does not satisfy. For CI, as with cargo and uv.
    #[arg(long)]
    pub locked: bool,
    /// Constraints for the lock, in pip's PIP_CONSTRAINT sense: pins that bound a package's
    /// version when the build needs it and install nothing by themselves (e.g. a project's
    /// requirements/build.txt). Default: `[tool.hermit] constraint`.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub constraint: Option<PathBuf>,
    /// Timestamp for everything the build writes (seconds since 1970)
    ///
    /// Default: the SOURCE_DATE_EPOCH environment variable, then the HEAD commit's time.
    #[arg(long, value_name = "SECONDS")]
    pub source_date_epoch: Option<u64>,
    /// Build even when tracked files have uncommitted changes (the manifest records it)
    #[arg(long)]
    pub allow_dirty: bool,
    /// Keep the backend's bytes when already reproducible (auto), always rewrite, or never
    ///
    /// Default: `[tool.hermit] normalize`, then auto.
    #[arg(long, value_name = "POLICY")]
    pub normalize: Option<crate::normalize::Policy>,
    /// Also write hermit-provenance.intoto.json: an in-toto Statement with a SLSA v1
    /// provenance predicate naming the artifacts, the source, the images and the lock
    #[arg(long)]
    pub provenance: bool,
    /// Print the result as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub endpoints: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The hermit-manifest.json to check
    #[arg(value_hint = ValueHint::FilePath, required_unless_present = "index")]
    pub manifest: Option<PathBuf>,
    /// Instead of a manifest: rebuild this release from the checkout and compare with the
    /// sdist and wheel the package index serves
    ///
    /// Builds as a release is usually made (`python -m build`: the sdist, then the wheel from
    /// it, raw backend bytes), with the SOURCE_DATE_EPOCH read off the released wheel.
    #[arg(long, value_name = "NAME==VERSION", conflicts_with_all = ["manifest", "source"])]
    pub index: Option<crate::index::release::ReleaseSpec>,
    /// With --index: the checkout of the release, normally at its tag
    #[arg(long, value_hint = ValueHint::DirPath, default_value = ".", requires = "index")]
    pub project: PathBuf,
    /// With --index: pins for the build requirements, pip style (`hatchling==1.25.0`), e.g.
    /// the project's requirements/build.txt; locked with hashes, together with `build`, for
    /// this run
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires = "index", conflicts_with = "lockfile")]
    pub constraint: Option<PathBuf>,
    /// With --index: keep the rebuilt files (and the lock made for the run) here
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath, requires = "index")]
    pub out: Option<PathBuf>,
    /// Project directory to rebuild from (default: the directory above the manifest's)
    #[arg(long, value_hint = ValueHint::DirPath)]
    pub source: Option<PathBuf>,
    /// Lockfile to rebuild with (default: the one the manifest names; with --index,
    /// `[tool.hermit] lockfile`, else the project's build-system.requires resolved as the
    /// index stood when the release was uploaded)
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub lockfile: Option<PathBuf>,
    /// Print the result as JSON on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub endpoints: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// First artifact (.whl or .tar.gz) or directory of artifacts
    #[arg(value_hint = ValueHint::AnyPath)]
    pub a: PathBuf,
    /// Second artifact or directory
    #[arg(value_hint = ValueHint::AnyPath)]
    pub b: PathBuf,
    /// Print the comparison as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Requirements to lock (PEP 508), e.g. `hatchling` or `setuptools>=61`
    pub requirements: Vec<String>,
    /// Read requirements from a file, one per line (repeatable)
    #[arg(short = 'r', long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub requirement_file: Vec<PathBuf>,
    /// The project to lock (default: the current directory); its lock is DIR/hermit.lock
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub project: Option<PathBuf>,
    /// The lockfile to write (also read, to keep its versions unless --upgrade); needed with
    /// requirements, default DIR/hermit.lock for a project
    #[arg(short, long, value_hint = ValueHint::FilePath)]
    pub output: Option<PathBuf>,
    /// Take the newest versions, ignoring those already in the lock
    #[arg(long, conflicts_with = "upgrade_package")]
    pub upgrade: bool,
    /// Take the newest version of NAME (repeatable), keeping every other locked version
    #[arg(long, value_name = "NAME")]
    pub upgrade_package: Vec<String>,
    /// Constraints in pip's PIP_CONSTRAINT sense (e.g. requirements/build.txt); default
    /// `[tool.hermit] constraint`
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub constraint: Option<PathBuf>,
    /// Python version of the build image the lock is for
    #[arg(long, default_value = "3.13")]
    pub python: crate::lock::target::PythonVersion,
    /// Print what was locked as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub endpoints: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// The release, NAME==VERSION (e.g. tuf==6.0.0)
    #[arg(
        value_name = "NAME==VERSION",
        required_unless_present = "requirement_file",
        conflicts_with = "requirement_file"
    )]
    pub release: Option<crate::index::release::ReleaseSpec>,
    /// Rebuild every release listed in FILE (one NAME==VERSION a line, `#` comments) and print
    /// a summary table; one failing does not stop the rest
    #[arg(short = 'r', long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub requirement_file: Option<PathBuf>,
    /// Where to write the rebuilt wheel, build.lock and rebuild.json
    ///
    /// Default: rebuild/NAME-VERSION in the current directory (with -r, one such directory per
    /// release under --out, default rebuild/). Written atomically.
    #[arg(long, short, value_hint = ValueHint::DirPath)]
    pub out: Option<PathBuf>,
    /// Print the result (with -r: every result) as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// With -r: rebuild up to N releases at once on the engine
    ///
    /// Files and build images two rebuilds share are fetched and made once. The table, the
    /// JSON and the exit code are the same for any N.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// With -r: rebuild only slice K of N (1-based) of the list's releases
    ///
    /// A release's slice depends only on the set of releases in the list (not on the line
    /// order), so N machines reading the same list share it out, each release exactly once.
    /// For a Kubernetes Indexed Job: --shard $((JOB_COMPLETION_INDEX+1))/N. Merge the outputs
    /// with `hermit report`.
    #[arg(long, value_name = "K/N", requires = "requirement_file")]
    pub shard: Option<crate::check::rebuild::shard::Shard>,
    /// Also write rebuild.intoto.json, an in-toto Statement of the outcome
    ///
    /// Its subject is the index's wheel (name and sha256); its predicate holds the inputs by
    /// digest, what was inferred from the released files, and the verdict, for anyone to
    /// check without rebuilding.
    #[arg(long)]
    pub attest: bool,
    /// Rebuild with this Python: 3.13 (Debian trixie) or 3.11 (Debian bookworm)
    ///
    /// Default: inferred from the release. 3.11 when the sdist's Requires-Python excludes
    /// 3.13, when the wheel was uploaded before CPython 3.12 came out (2023-10-02), or when
    /// the locked setuptools still imports distutils; else 3.13. rebuild.json records which
    /// and why.
    #[arg(long, value_name = "VERSION")]
    pub python: Option<crate::image::Builtin>,
    #[command(flatten)]
    pub endpoints: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Directories `hermit rebuild -r --out` wrote (or release directories within them)
    #[arg(required = true, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub dirs: Vec<PathBuf>,
    /// Print the summary as canonical JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Also write the summary as one self-contained HTML page
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build a recipe's image from its lock and check it has the pinned digest
    ///
    /// Always rebuilds (downloading what the cache lacks), so it doubles as a reproducibility
    /// check of the image itself; any other digest is an error.
    Build(ImageBuildArgs),
    /// Resolve a recipe's packages from the Debian mirror and rewrite its lock
    ///
    /// Verifies the suite's InRelease signature with the host's gpgv and Debian keyring, checks
    /// every .deb against the index, builds the image to learn its digest, and writes
    /// recipe.lock beside recipe.toml.
    Lock(ImageLockArgs),
    /// List the images hermit built on this engine
    Ls(ImageLsArgs),
    /// Remove hermit's images that the built-in recipe and hermit's store do not need
    ///
    /// Keeps the image the built-in recipe's lock pins and the build-environment images whose
    /// IDs hermit recorded in its cache (later builds of the same inputs reuse them); removes
    /// every other image labelled as hermit's or tagged `hermit/…`. Never forced: an image a
    /// container still uses is reported and kept.
    Prune(ImagePruneArgs),
}

#[derive(Debug, Args)]
pub struct ImageBuildArgs {
    /// Recipe directory (holding recipe.toml and recipe.lock); default: the built-in recipe
    #[arg(value_hint = ValueHint::DirPath)]
    pub recipe: Option<PathBuf>,
    /// Do nothing when the engine already has the pinned image (built-in recipe only)
    #[arg(long, conflicts_with = "recipe")]
    pub if_missing: bool,
    /// Which built-in image, by its Python or its name: 3.13 (the default, Debian trixie), 3.11
    /// (Debian bookworm, for rebuilding older releases) or `toolchain` (trixie with gcc, for
    /// compiled extensions)
    #[arg(
        long,
        visible_alias = "builtin",
        value_name = "VERSION|NAME",
        conflicts_with = "recipe",
        default_value = "3.13"
    )]
    pub python: crate::image::Builtin,
    /// Print the image built as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub endpoints: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct ImageLockArgs {
    /// Recipe directory (holding recipe.toml)
    #[arg(value_hint = ValueHint::DirPath, default_value = "images/trixie-python")]
    pub recipe: PathBuf,
    /// Trust the mirror's InRelease without checking its signature (the .deb hashes still
    /// come from it); for hosts without gpgv or the Debian keyring
    #[arg(long)]
    pub insecure_skip_release_signature: bool,
    /// Print the lock written as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub endpoints: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct ImageLsArgs {
    /// Print the images as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Print the result as one JSON object on stdout (and nothing else there)
    #[arg(long)]
    pub json: bool,
    /// Remove every hermit image, the built-in one and recorded build environments included
    #[arg(long)]
    pub all: bool,
    /// Only print what would be removed
    #[arg(long)]
    pub dry_run: bool,
    /// The cache whose build-environment records say what to keep
    ///
    /// Default: HERMIT_CACHE_DIR, then $XDG_CACHE_HOME/hermit, then ~/.cache/hermit.
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Show what the cache holds, per kind of file, with sizes
    Ls(CacheLsArgs),
    /// Remove cached files no build has used for a while (or everything with --all)
    ///
    /// Pruning is by age of last use, because hermit cannot see every project's lock: a file
    /// counts as used when a build reads it. Files the built-in lock and the built-in image
    /// recipe name are kept, so the example and unpinned projects still build offline.
    /// Anything removed is downloaded again, checked against its sha256, when next needed.
    Prune(CachePruneArgs),
}

#[derive(Debug, Args)]
pub struct CacheLsArgs {
    /// Print the result as one JSON object on stdout (and nothing else there)
    #[arg(long)]
    pub json: bool,
    /// Cache directory
    ///
    /// Default: HERMIT_CACHE_DIR, then $XDG_CACHE_HOME/hermit, then ~/.cache/hermit.
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CachePruneArgs {
    /// Print the result as one JSON object on stdout (and nothing else there)
    #[arg(long)]
    pub json: bool,
    /// Remove files not used for this many days
    #[arg(
        long,
        value_name = "DAYS",
        default_value_t = 30,
        conflicts_with = "all"
    )]
    pub older_than: u32,
    /// Remove everything in the cache
    #[arg(long)]
    pub all: bool,
    /// Only print what would be removed
    #[arg(long)]
    pub dry_run: bool,
    /// Cache directory
    ///
    /// Default: HERMIT_CACHE_DIR, then $XDG_CACHE_HOME/hermit, then ~/.cache/hermit.
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub cache_dir: Option<PathBuf>,
}
