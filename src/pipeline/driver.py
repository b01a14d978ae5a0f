# hermit's in-container build driver. Runs as the unprivileged build user, offline, inside the
# build image; hermit starts it with `python3 -c <this file> STEP ...`.
#
#   sdist:               copy /src/source to /tmp/src, build the sdist into /out/sdist
#   wheel SDIST OUTDIR:  unpack SDIST into /tmp/wheel-src and build the wheel from it into
#                        OUTDIR, as a user installing that sdist would
#   both:                sdist, then wheel /out/sdist/<it> /out/wheel, in one process (what
#                        `python -m build` does); hermit uses the wheel only when it keeps the
#                        sdist byte for byte, and otherwise builds again from its rewrite
#   repair WHEEL OUTDIR: retag WHEEL for the oldest manylinux policy its extensions allow with
#                        `auditwheel repair`, into OUTDIR; auditwheel and its dependencies are
#                        handed in under /src/hermit-tools/lib from hermit's own tools lock and
#                        are on this step's path only
#   requires [SDIST]:    ask the backend's get_requires_for_build_* hooks what it needs on top
#                        of build-system.requires: for the sdist and the wheel of /src/source,
#                        or for the wheel of SDIST; prints one line `HERMIT-REQUIRES <json>`
#
# Build requirements are already installed in the image; `build` checks them (it fails with
# "Missing dependencies" when the backend asks for something the lock lacks) but never
# installs anything.
#
# On success the last line printed is `hermit-driver: ran [...]`: each `python3 -m build`
# command it ran, as JSON, which hermit records in the manifest. Last, so that a long log cut
# at its start still ends with it.
import json
import os
import shutil
import sys
import tarfile

# `hermit rebuild` sets HERMIT_UMASK when the released wheel shows its maintainer's (002).
UMASK = int(os.environ.get("HERMIT_UMASK", "022"), 8) & 0o077
os.umask(UMASK)
# ... and HERMIT_KEEP_GROUP_WRITE when its wheel kept some files' group write from the checkout
# (which the sdist kept too) though the files its backend wrote did not have it.
KEEP_GROUP_WRITE = not UMASK & 0o020 or os.environ.get("HERMIT_KEEP_GROUP_WRITE") == "1"

RAN = []

# `hermit rebuild` sets these when the released wheel shows its maintainer's conditions.
# HERMIT_CLOCK: every time the build reads as "now" (the clock, or the mtime of a file the build
# itself wrote, newer than anything in the sdist) is read as HERMIT_CLOCK when it becomes a
# date. HERMIT_ZIP_SYSTEM=0: zip members say "made on MS-DOS/Windows", as Python's zipfile
# writes them there. HERMIT_DIR_ORDER: directories (by the end of their path) list their
# entries in the order given, as the maintainer's file system listed them. Installed as a sitecustomize so the backend's own process, which `build`
# starts, has it too.
HOOK = """\
import os
def _hermit_clock():
    import time
    now = int(os.environ["HERMIT_CLOCK"])
    after = int(os.environ.get("HERMIT_CLOCK_AFTER", "0"))
    early = os.environ.get("HERMIT_CLOCK_EARLY")
    gmtime, localtime = time.gmtime, time.localtime
    # HERMIT_CLOCK_EARLY: what setuptools wrote before it copies the egg-info into the
    # .dist-info (the moment marked here) carries this earlier time.
    boundary = []
    if early:
        early = int(early)
        import shutil
        copytree = shutil.copytree
        def marking(src, *args, **kwargs):
            if not boundary and str(src).rstrip("/").endswith(".egg-info"):
                # Backends read file times in whole seconds, from a clock coarser than
                # time.time(): the mark is the next whole second, waited for, so what was
                # written before it shows an earlier second and what follows does not.
                time.sleep(1.05 - time.time() % 1)
                boundary.append(int(time.time()))
            return copytree(src, *args, **kwargs)
        shutil.copytree = marking
    def at(t):
        if t is not None and t <= after:
            return t
        if early and t is not None and (not boundary or t < boundary[0]):
            return early
        return now
    time.gmtime = lambda t=None: gmtime(at(t))
    time.localtime = lambda t=None: localtime(at(t))
def _hermit_zip_system():
    import zipfile
    init = zipfile.ZipInfo.__init__
    def made_on_windows(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.create_system = 0
    zipfile.ZipInfo.__init__ = made_on_windows
def _hermit_dir_order():
    import json
    order = json.loads(os.environ["HERMIT_DIR_ORDER"])
    rank = {d: {n: i for i, n in enumerate(names)} for d, names in order.items()}
    depth = max([d.count("/") + 1 for d in rank] or [0])
    def ranks(path):
        if isinstance(path, int):
            return None
        parts = os.path.abspath(os.fsdecode(path)).split("/")
        for k in range(min(depth, len(parts)), 0, -1):
            r = rank.get("/".join(parts[-k:]))
            if r is not None:
                return r
        return None
    def ordered(items, r, name):
        # Stable: what the wheel does not show keeps the file system's order, after the rest.
        return sorted(items, key=lambda i: r.get(os.fsdecode(name(i)), len(r)))
    class Listing:
        def __init__(self, entries):
            self._it = iter(entries)
        def __iter__(self):
            return self
        def __next__(self):
            return next(self._it)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return False
        def close(self):
            pass
    listdir, scandir = os.listdir, os.scandir
    def listdir_in_order(path="."):
        names = listdir(path)
        r = ranks(path)
        return names if r is None else ordered(names, r, lambda n: n)
    def scandir_in_order(path="."):
        r = ranks(path)
        if r is None:
            return scandir(path)
        with scandir(path) as it:
            entries = list(it)
        return Listing(ordered(entries, r, lambda e: e.name))
    os.listdir, os.scandir = listdir_in_order, scandir_in_order
if os.environ.get("HERMIT_DIR_ORDER"):
    _hermit_dir_order()
if os.environ.get("HERMIT_CLOCK"):
    _hermit_clock()
if os.environ.get("HERMIT_ZIP_SYSTEM") == "0":
    _hermit_zip_system()
"""


def install_hook():
    if not any(os.environ.get(v) for v in ("HERMIT_CLOCK", "HERMIT_ZIP_SYSTEM", "HERMIT_DIR_ORDER")):
        return
    os.makedirs("/tmp/hermit-hook", exist_ok=True)
    with open("/tmp/hermit-hook/sitecustomize.py", "w") as f:
        f.write(HOOK)
    os.environ["PYTHONPATH"] = "/tmp/hermit-hook"


def run_build(args):
    import build.__main__

    lenient_backend_path()

    argv = ["--no-isolation", *args]
    RAN.append(["python3", "-m", "build", *argv])
    try:
        build.__main__.main(argv, "python3 -m build")
    except SystemExit as e:
        if e.code:
            raise


def lenient_backend_path():
    # Early flit-core and pdm-pep517 releases declare `backend-path = "."`, a string, which
    # the frontends of their day accepted and today's `build` refuses; read it as the list it
    # means.
    import build._builder as builder

    parse = getattr(builder, "_parse_build_system_table", None)
    if parse is None or getattr(parse, "hermit", False):
        return

    def lenient(pyproject):
        table = pyproject.get("build-system")
        if isinstance(table, dict) and isinstance(table.get("backend-path"), str):
            pyproject = dict(pyproject, **{"build-system": dict(table, **{"backend-path": [table["backend-path"]]})})
        return parse(pyproject)

    lenient.hermit = True
    builder._parse_build_system_table = lenient


def sdist():
    shutil.copytree("/src/source", "/tmp/src", symlinks=False)
    os.makedirs("/out/sdist")
    run_build(["--sdist", "--outdir", "/out/sdist", "/tmp/src"])


def wheel(sdist_path, outdir):
    srcdir = unpack(sdist_path)
    os.makedirs(outdir)
    run_build(["--wheel", "--outdir", outdir, srcdir])


def unpack(sdist_path):
    # Always the same directory, so a backend that records its build path records one value.
    shutil.rmtree("/tmp/wheel-src", ignore_errors=True)
    os.makedirs("/tmp/wheel-src")
    with tarfile.open(sdist_path) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall("/tmp/wheel-src", filter=data_filter)
        else:
            # Older interpreters (bookworm's 3.11.2) lack extraction filters: the same rules
            # by hand, for what an sdist holds.
            archive.extractall("/tmp/wheel-src", members=safe_members(archive))
    roots = sorted(os.listdir("/tmp/wheel-src"))
    if len(roots) != 1:
        sys.exit("hermit: the sdist must hold exactly one top-level directory, found %r" % roots)
    return os.path.join("/tmp/wheel-src", roots[0])


def data_filter(member, path):
    # The `data` filter clears group write; a maintainer's umask of 002 kept it.
    safe = tarfile.data_filter(member, path)
    if safe is not None and safe.mode is not None and KEEP_GROUP_WRITE and member.mode & 0o020:
        safe = safe.replace(mode=safe.mode | 0o020, deep=False)
    return safe


def safe_members(archive):
    keep = 0o775 if KEEP_GROUP_WRITE else 0o755
    for m in archive.getmembers():
        name = os.path.normpath(m.name)
        inside = not m.name.startswith("/") and name != ".." and not name.startswith("../")
        if m.issym():
            target = os.path.normpath(os.path.join(os.path.dirname(name), m.linkname))
            inside = inside and not m.linkname.startswith("/") and not target.startswith("..")
        elif m.islnk():
            target = os.path.normpath(m.linkname)
            inside = inside and not m.linkname.startswith("/") and not target.startswith("..")
        elif not (m.isfile() or m.isdir()):
            inside = False
        if not inside:
            sys.exit("hermit: the sdist member %r is not a file, directory or link inside it" % m.name)
        if not m.issym():
            m.mode = (m.mode | 0o600) & keep if not m.isdir() else keep
        m.uid = m.gid = 0
        m.uname = m.gname = ""
        yield m


def repair(wheel_path, outdir):
    # Never byte-compiled into the volume, never on the build's path: these are hermit's tools,
    # not the project's requirements.
    sys.dont_write_bytecode = True
    sys.path.insert(0, "/src/hermit-tools/lib")
    from auditwheel.main import main as auditwheel

    os.makedirs(outdir)
    # --plat auto (the default): the policy of the oldest glibc the extension's versioned
    # symbols and linked libraries allow, with its legacy alias (manylinux1, manylinux2014).
    argv = ["auditwheel", "repair", "--wheel-dir", outdir, wheel_path]
    RAN.append(argv)
    sys.argv = argv
    try:
        code = auditwheel()
    except ValueError as e:
        # How auditwheel refuses a wheel that links a library it cannot find to copy in; the
        # same line its argument errors end with, so hermit reads one shape.
        print("auditwheel: error: %s" % e, file=sys.stderr, flush=True)
        sys.exit(2)
    if code:
        sys.exit(code)


def requires(sdist_path=None):
    import json

    import build

    if sdist_path is None:
        # A copy: some backends write into the tree they are asked about.
        shutil.rmtree("/tmp/requires-src", ignore_errors=True)
        shutil.copytree("/src/source", "/tmp/requires-src", symlinks=False)
        srcdir, kinds = "/tmp/requires-src", ["sdist", "wheel"]
    else:
        srcdir, kinds = unpack(sdist_path), ["wheel"]
    builder = build.ProjectBuilder(srcdir)
    asked = set()
    for kind in kinds:
        asked.update(builder.get_requires_for_build(kind))
    print("HERMIT-REQUIRES " + json.dumps(sorted(asked)))


def main():
    install_hook()
    step = sys.argv[1]
    if step == "sdist":
        sdist()
    elif step == "wheel":
        wheel(sys.argv[2], sys.argv[3])
    elif step == "repair":
        repair(sys.argv[2], sys.argv[3])
    elif step == "requires":
        requires(*sys.argv[2:3])
    elif step == "both":
        sdist()
        built = sorted(os.listdir("/out/sdist"))
        if len(built) != 1:
            sys.exit("hermit: the sdist step produced %r" % built)
        wheel(os.path.join("/out/sdist", built[0]), "/out/wheel")
    else:
        sys.exit("hermit driver: unknown step %r" % step)
    print("hermit-driver: ran " + json.dumps(RAN), flush=True)


main()
