#!/usr/bin/env python3
"""clang-tidy over the given source files, in parallel, with a cache of the files that passed.

    python3 scripts/tidy_files.py BUILD_DIR FILE...       (scripts/tidy.sh calls it)

Each file is analysed as written: the precompiled header the build forces in first (CMake's
`-include .../cmake_pch.hxx`, GEOREP_PCH) is taken out of the compile command, because clang
cannot read GCC's PCH, the PCH may not be built yet (this runs beside the build), and a file that
leans on it for an include it does not make itself must fail here.

The cache (as ccache's, for the analysis): a file that passed is remembered under a key made of
everything clang-tidy's answer depends on -- clang-tidy's version, .clang-tidy, the file's
compile command, and the file preprocessed with that command, comments kept (so a NOLINT that
goes away is seen) and line markers kept (so a function that grows by a blank line is seen);
the checkout's own path is taken out, so another clone hits the same entries. A key that is
found skips the analysis; a finding is never cached. GEOREP_TIDY_CACHE names the directory
(default ~/.cache/georep/tidy); GEOREP_TIDY_CACHE=off analyses every file.
"""

import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def without_pch(args):
    """The compile command without CMake's precompiled-header flags."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a == "-Winvalid-pch":
            i += 1
        elif a == "-include" and i + 1 < len(args) and args[i + 1].endswith("cmake_pch.hxx"):
            i += 2
        elif (a == "-Xclang" and i + 3 < len(args) and args[i + 1] in ("-include", "-include-pch")
              and "cmake_pch.hxx" in args[i + 3]):
            i += 4
        else:
            out.append(a)
            i += 1
    return out


def preprocess_command(args):
    """The compile command turned into `-E -C` to standard output (no object, no depfile)."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a in ("-o", "-MF", "-MT", "-MQ"):
            i += 2
        elif a in ("-c", "-MD", "-MMD"):
            i += 1
        else:
            out.append(a)
            i += 1
    return out + ["-E", "-C", "-o", "-"]


def main():
    build, files = sys.argv[1], sys.argv[2:]
    with open(os.path.join(build, "compile_commands.json"), encoding="utf-8") as f:
        entries = json.load(f)
    commands = {}
    for e in entries:
        args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
        e.pop("arguments", None)
        e["command"] = shlex.join(without_pch(args))
        commands.setdefault(os.path.realpath(e["file"]), e)

    cache = os.environ.get("GEOREP_TIDY_CACHE", os.path.expanduser("~/.cache/georep/tidy"))
    if cache == "off":
        cache = None
    else:
        os.makedirs(cache, exist_ok=True)
    version = subprocess.run(["clang-tidy", "--version"], capture_output=True, check=True).stdout
    with open(os.path.join(ROOT, ".clang-tidy"), "rb") as f:
        config = f.read()
    root = ROOT.encode()

    with tempfile.TemporaryDirectory() as db:
        with open(os.path.join(db, "compile_commands.json"), "w", encoding="utf-8") as f:
            json.dump(list(commands.values()), f)

        def key_of(entry):
            pre = subprocess.run(preprocess_command(shlex.split(entry["command"])),
                                 cwd=entry["directory"], capture_output=True)
            if pre.returncode != 0:
                return None  # let clang-tidy say what is wrong
            h = hashlib.sha256()
            for part in (version, config, entry["command"].encode(), pre.stdout):
                h.update(part.replace(root, b"@"))
                h.update(b"\0")
            return h.hexdigest()

        def tidy(path):
            entry = commands.get(os.path.realpath(path))
            key = key_of(entry) if cache and entry else None
            if key and os.path.exists(os.path.join(cache, key)):
                return path, True, True, b""
            run = subprocess.run(["clang-tidy", "-p", db, "--quiet", path],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            ok = run.returncode == 0
            if ok and key:
                open(os.path.join(cache, key), "wb").close()
            return path, ok, False, run.stdout

        failed, cached = [], 0
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            for path, ok, hit, output in pool.map(tidy, files):
                cached += hit
                if output:
                    sys.stdout.buffer.write(output)
                    sys.stdout.flush()
                if not ok:
                    failed.append(path)
    print(f"tidy: {len(files)} files, {cached} unchanged since they last passed (cache), "
          f"{len(failed)} with findings{': ' + ' '.join(failed) if failed else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
