//! Helpers for the integration tests: fixture projects in temporary git repositories, running
//! the real `hermit` binary, and checking the engine for anything left behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A cache shared by the tests of one checkout (inside target/, never the user's home).
pub fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hermit-cache")
}

/// One name per hermit invocation, so a test can ask the engine about exactly its own run.
pub fn new_run_id(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.output.status.success(),
            "hermit failed ({}):\n{}",
            self.code(),
            self.stderr()
        );
        self
    }
}

/// The `hermit` command with a clean, test-controlled environment.
pub fn hermit_cmd(run_id: &str) -> Command {
    images_before();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hermit"));
    cmd.env("HERMIT_RUN_ID", run_id)
        .env("HERMIT_CACHE_DIR", shared_cache())
        .env_remove("SOURCE_DATE_EPOCH")
        .env("CI", "true");
    cmd
}

/// Runs hermit and checks that the run left no container or volume behind.
pub fn hermit(args: &[&str], dir: &Path) -> Run {
    hermit_with(args, dir, |_| {})
}

pub fn hermit_with(args: &[&str], dir: &Path, tweak: impl FnOnce(&mut Command)) -> Run {
    ensure_default_image();
    run_raw(args, dir, tweak)
}

pub fn run_raw(args: &[&str], dir: &Path, tweak: impl FnOnce(&mut Command)) -> Run {
    let run_id = new_run_id("r");
    let mut cmd = hermit_cmd(&run_id);
    cmd.args(args).current_dir(dir);
    tweak(&mut cmd);
    let output = cmd.output().expect("run hermit");
    assert_nothing_left(&run_id);
    Run { output }
}

/// The engine holds no container or volume labelled with this run.
#[track_caller]
pub fn assert_nothing_left(run_id: &str) {
    let label = format!("label=org.hermit.run={run_id}");
    let containers = docker(&["ps", "-aq", "--filter", &label]);
    let volumes = docker(&["volume", "ls", "-q", "--filter", &label]);
    assert!(
        containers.trim().is_empty() && volumes.trim().is_empty(),
        "run {run_id} left containers [{containers}] volumes [{volumes}]"
    );
}

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the default image once per test process (the first test pays the cold cost).
pub fn ensure_default_image() {
    static DONE: Mutex<bool> = Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if !*done {
        let run = run_raw(&["image", "build", "--if-missing"], &repo_root(), |_| {});
        run.assert_ok();
        *done = true;
    }
}

/// `hermit build .` in `project` as a user whose shell has `umask` and `TZ=tz`, without
/// SOURCE_DATE_EPOCH, under `run_id`, with the tests' shared cache.
pub fn build_as_user(project: &Path, umask: &str, tz: &str, run_id: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" build ."))
        .arg(env!("CARGO_BIN_EXE_hermit"))
        .current_dir(project)
        .env("HERMIT_RUN_ID", run_id)
        .env("HERMIT_CACHE_DIR", shared_cache())
        .env("TZ", tz)
        .env_remove("SOURCE_DATE_EPOCH");
    cmd
}

/// The `name` of each object in a manifest's list of files.
pub fn names(files: &serde_json::Value) -> Vec<&str> {
    files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect()
}

/// Sets every file's mtime below `dir`, outside `.git`, to `secs` since the epoch: a checkout
/// made at another time.
pub fn set_file_times(dir: &Path, secs: u64) {
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        if entry.file_type().is_file()
            && !entry.path().components().any(|c| c.as_os_str() == ".git")
        {
            let f = std::fs::File::options()
                .write(true)
                .open(entry.path())
                .unwrap();
            f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
                .unwrap();
        }
    }
}

/// Copies a fixture into a fresh git repository with one commit at a fixed time.
pub fn git_project(fixture: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("tests/fixtures").join(fixture),
        tmp.path(),
    );
    git_init(tmp.path());
    tmp
}

pub fn git_init(dir: &Path) {
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=hermit tests",
            "-c",
            "user.email=tests@hermit.invalid",
            "commit",
            "-qm",
            "fixture",
        ],
    ] {
        let ok = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_DATE", "1700000000 +0000")
            .env("GIT_COMMITTER_DATE", "1700000000 +0000")
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from).sort_by_file_name() {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// The files in `dir`, sorted: (name, bytes).
pub fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

pub fn manifest(dist: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dist.join("hermit-manifest.json")).unwrap()).unwrap()
}

/// One artifact's entry in a manifest, by kind (`sdist` or `wheel`).
pub fn artifact<'a>(manifest: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in manifest"))
}

/// A plain `python -m build` (sdist, then the wheel from it) in the same build environment,
/// with the given SOURCE_DATE_EPOCH (or none), and no hermit anywhere: what a verifier without
/// hermit runs, and how most releases are made.
pub fn plain_build(env_image: &str, project: &Path, sde: Option<u64>) -> Vec<(String, Vec<u8>)> {
    let out = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        out.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let program = "import shutil, subprocess, sys\n\
        shutil.copytree('/project', '/tmp/p', ignore=shutil.ignore_patterns('.git', 'dist'))\n\
        subprocess.check_call([sys.executable, '-m', 'build', '--no-isolation', '--outdir', '/out', '/tmp/p'])\n";
    let mut cmd = Command::new("docker");
    cmd.args(["run", "--rm", "--network", "none", "--user", "1000:1000"])
        .args(["--tmpfs", "/tmp:rw,mode=1777", "-e", "HOME=/tmp"]);
    if let Some(sde) = sde {
        cmd.arg("-e").arg(format!("SOURCE_DATE_EPOCH={sde}"));
    }
    let status = cmd
        .arg("-v")
        .arg(format!("{}:/project:ro", project.display()))
        .arg("-v")
        .arg(format!("{}:/out", out.path().display()))
        .args([env_image, "python3", "-c", program])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "plain build failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    files_in(out.path())
}

/// Runs hermit with its address space capped at `mib` MiB (`ulimit -v`), so a test can show
/// that an attack on memory is refused in bounded memory instead of aborting hermit.
pub fn hermit_in_memory(mib: u64, args: &[&str], dir: &Path) -> Run {
    ensure_default_image();
    let run_id = new_run_id("m");
    let cmd = hermit_cmd(&run_id);
    let program = cmd.get_program().to_owned();
    let mut limited = Command::new("sh");
    limited
        .arg("-c")
        .arg(format!("ulimit -v {} && exec \"$@\"", mib << 10))
        .arg("sh")
        .arg(program)
        .args(args)
        .current_dir(dir);
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => limited.env(key, v),
            None => limited.env_remove(key),
        };
    }
    // glibc reserves 64 MiB of address space per malloc arena; a few are plenty.
    limited.env("MALLOC_ARENA_MAX", "2");
    let output = limited.output().expect("run hermit under ulimit");
    assert_nothing_left(&run_id);
    Run { output }
}

/// A static file server on 127.0.0.1, killed when dropped (also when the test panics).
pub struct Served {
    child: std::process::Child,
    port: u16,
}

impl Served {
    pub fn start(root: &Path) -> Self {
        // A port that was free a moment ago; the server binds it right after.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        let served = Served { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return served;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the loopback index did not start on port {port}");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/simple", self.port)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The loopback index must not be reached through a proxy the environment may name.
pub fn no_proxy(cmd: &mut Command) {
    cmd.env("NO_PROXY", "127.0.0.1")
        .env("no_proxy", "127.0.0.1");
}

/// The IDs of hermit's images on the engine (labelled as hermit's or tagged `hermit/…`).
pub fn hermit_images() -> std::collections::BTreeSet<String> {
    let labelled = docker(&[
        "images",
        "-q",
        "--no-trunc",
        "--filter",
        "label=org.hermit.managed",
    ]);
    let tagged = docker(&["images", "-q", "--no-trunc", "hermit/*"]);
    labelled
        .lines()
        .chain(tagged.lines())
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Images a test made some other way than a build (e.g. by re-locking a recipe), to be
/// removed when the test process ends if they were not on the engine before it.
static MADE: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub fn remove_at_exit(image_id: &str) {
    images_before();
    MADE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(image_id.trim().to_owned());
}

/// For a test that builds with a cache of its own: the build environments recorded there are
/// this process's too (the shared cache's records are found at exit without this).
pub fn remove_at_exit_recorded_in(cache: &Path) {
    for record in std::fs::read_dir(cache.join("build-env"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(id) = std::fs::read_to_string(record.path()) {
            remove_at_exit(&id);
        }
    }
}

static BEFORE: std::sync::OnceLock<std::collections::BTreeSet<String>> = std::sync::OnceLock::new();

/// Takes the engine's hermit images once, before this process's first hermit command, and
/// arranges for the images this process made to be removed when it exits.
///
/// Tests share build environments (one per lock, reused across tests), so no single test
/// can remove them when it ends; the process can, once every test is done. "Made by this
/// process" is narrow on purpose, because other test runs share the engine: the default image,
/// the build environments this checkout's test cache recorded, and what tests registered with
/// [`remove_at_exit`], and of those only the ones absent before the first hermit command.
fn images_before() {
    BEFORE.get_or_init(|| {
        unsafe extern "C" {
            fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
        }
        // SAFETY: registers a plain function with the C runtime; it runs once at exit.
        let registered = unsafe { atexit(remove_made_images) };
        assert_eq!(registered, 0, "atexit");
        hermit_images()
    });
}

extern "C" fn remove_made_images() {
    let Some(before) = BEFORE.get() else { return };
    let mut ours: std::collections::BTreeSet<String> = MADE
        .lock()
        .map(|m| m.iter().cloned().collect())
        .unwrap_or_default();
    for builtin in hermit::image::Builtin::ALL {
        ours.insert(hermit::image::pinned_id(builtin).to_string());
    }
    if let Ok(records) = std::fs::read_dir(shared_cache().join("build-env")) {
        for r in records.flatten() {
            if let Ok(text) = std::fs::read_to_string(r.path()) {
                ours.insert(text.trim().to_owned());
            }
        }
    }
    let Ok(now) = std::panic::catch_unwind(hermit_images) else {
        return;
    };
    let mut removed = 0;
    for id in now.difference(before).filter(|id| ours.contains(*id)) {
        // Tags first, then the ID, never forced: an image a running build (of another test
        // run) still uses is refused by the engine and stays.
        let tags = Command::new("docker")
            .args([
                "image",
                "inspect",
                "--format",
                "{{join .RepoTags \"\\n\"}}",
                id,
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for tag in tags.lines().filter(|t| !t.trim().is_empty()) {
            let _ = Command::new("docker").args(["rmi", tag.trim()]).output();
        }
        let _ = Command::new("docker").args(["rmi", id]).output();
        removed += 1;
    }
    if removed > 0 {
        eprintln!("removed {removed} hermit images this test run made");
    }
}

/// A PEP 503 index directory: `simple/index.html`, `simple/<name>/index.html` linking to
/// `files/<file>#sha256=<hex>`.
pub struct IndexDir {
    pub root: tempfile::TempDir,
    projects: std::collections::BTreeMap<String, Vec<(String, String)>>,
}

impl IndexDir {
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("files")).unwrap();
        Self {
            root,
            projects: Default::default(),
        }
    }

    /// Adds a file listed with its own sha256.
    pub fn add(&mut self, project: &str, file: &str, bytes: &[u8]) {
        self.add_listed(
            project,
            file,
            bytes,
            &hermit::record::digest::Sha256::of(bytes).hex(),
        );
    }

    /// Adds a file listed with the given sha256 (to serve a stale one).
    pub fn add_listed(&mut self, project: &str, file: &str, bytes: &[u8], sha256: &str) {
        std::fs::write(self.root.path().join("files").join(file), bytes).unwrap();
        let files = self.projects.entry(project.to_owned()).or_default();
        files.retain(|(f, _)| f != file);
        files.push((file.to_owned(), sha256.to_owned()));
        self.write_pages();
    }

    fn write_pages(&self) {
        let simple = self.root.path().join("simple");
        let mut top = String::from("<!DOCTYPE html>\n<html><body>\n");
        for (project, files) in &self.projects {
            top.push_str(&format!("<a href=\"{project}/\">{project}</a>\n"));
            let mut page = String::from("<!DOCTYPE html>\n<html><body>\n");
            for (file, sha) in files {
                page.push_str(&format!(
                    "<a href=\"../../files/{file}#sha256={sha}\">{file}</a>\n"
                ));
            }
            page.push_str("</body></html>\n");
            std::fs::create_dir_all(simple.join(project)).unwrap();
            std::fs::write(simple.join(project).join("index.html"), page).unwrap();
        }
        top.push_str("</body></html>\n");
        std::fs::write(simple.join("index.html"), top).unwrap();
    }
}

/// Every file of the built-in lock, from the shared test cache (filled by the build before).
pub fn add_default_lock(index: &mut IndexDir) {
    let (origin, text) = hermit::lock::default_lock();
    add_lock_files(index, origin, text);
}

/// [`add_default_lock`] for any lock: each of its files the shared cache holds.
pub fn add_lock_files(index: &mut IndexDir, origin: &str, text: &str) {
    let lock = hermit::lock::Lock::parse(text, origin).unwrap();
    let cache = shared_cache();
    for package in &lock.packages {
        for file in &package.files {
            let Some(name) = &file.filename else { continue };
            let hex = file.sha256.hex();
            let blob = cache.join("blobs/sha256").join(&hex[..2]).join(&hex);
            let Ok(bytes) = std::fs::read(&blob) else {
                // Files for other platforms or Pythons are never fetched.
                continue;
            };
            index.add(package.name.as_str(), name, &bytes);
        }
    }
}

/// Sends SIGINT to `child`, as a terminal's Ctrl-C does.
pub fn interrupt(child: &std::process::Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "could not signal {}", child.id());
}
