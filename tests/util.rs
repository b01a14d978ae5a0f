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
