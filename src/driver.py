# hermit's in-container build driver. Runs as the unprivileged build user, offline, inside the
# build image; hermit starts it once per step with `python3 -c <this file> STEP ...`.
#
#   sdist:         copy /src/source to /tmp/src, build the sdist into /out/sdist
#   wheel NAME:    unpack /src/sdist/NAME (hermit's final sdist) and build the wheel from it
#                  into /out/wheel, as a user installing that sdist would
#   probe:         print facts about the network the build sees (used by tests)
#
# Build requirements are already installed in the image; `build` checks them (it fails with
# "Missing dependencies" when the backend asks for something the lock lacks) but never
# installs anything.
import os
import shutil
import sys
import tarfile

os.umask(0o022)


def run_build(args):
    sys.argv = ["python3 -m build", "--no-isolation", *args]
    import runpy

    runpy.run_module("build", run_name="__main__", alter_sys=True)


def main():
    step = sys.argv[1]
    if step == "sdist":
        shutil.copytree("/src/source", "/tmp/src", symlinks=False)
        os.makedirs("/out/sdist")
        run_build(["--sdist", "--outdir", "/out/sdist", "/tmp/src"])
    elif step == "wheel":
        name = sys.argv[2]
        os.makedirs("/tmp/wheel-src")
        with tarfile.open(os.path.join("/src/sdist", name)) as archive:
            archive.extractall("/tmp/wheel-src", filter="data")
        roots = sorted(os.listdir("/tmp/wheel-src"))
        if len(roots) != 1:
            sys.exit("hermit: the sdist must hold exactly one top-level directory, found %r" % roots)
        os.makedirs("/out/wheel")
        run_build(["--wheel", "--outdir", "/out/wheel", os.path.join("/tmp/wheel-src", roots[0])])
    else:
        sys.exit("hermit driver: unknown step %r" % step)


main()
