#!/usr/bin/env python3
"""doc_blocks.py — every fenced code block of README.md and docs/ (recursively), checked.

The convention (docs/design.md, "Code blocks in the docs"), by the fence's info string:

  ```c              a complete program: compiled with the project's warnings (-Werror) against
                    include/ and the static library, then run; it must exit 0
  ```python         run with the in-tree package (PYTHONPATH=python); it must exit 0
  ```LANG file=PATH the block must be exactly the file PATH (from the repository root),
                    which a test builds or runs (e.g. examples/consumer/CMakeLists.txt)
  ```c norun        shown only (a fragment, or a program that needs what a test machine
  ```python norun   lacks)
  ```sh, ```text,   shown only: commands, output, formats.  A block without a language or
  ``` (none), ...   of another language that contains C or Python code (#include,
                    import gradflow) is an error: tag it.

Programs run in a fresh temporary directory (files they write go there), one at a time, each
under a time limit.  A failure names the file and line of the block; compiler messages and
Python tracebacks point into the .md file itself.
Usage (from the repository root): python3 tests/doc_blocks.py [FILE.md ...]
Environment: CC, OUT (library dir, default lib), PYTHON, SANITIZE.
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 120
WARN = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
SAN = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"]
LOOKS_LIKE_CODE = re.compile(r"^\s*(#include\s*[<\"]|import gradflow|from gradflow import)", re.M)


class Block:
    def __init__(self, path, line, info, text):
        self.path, self.line, self.text = path, line, text  # line: of the opening fence
        words = info.split()
        self.lang = words[0].lower() if words else ""
        self.norun = "norun" in words[1:]
        self.file = next((w[5:] for w in words[1:] if w.startswith("file=")), None)
        self.unknown = [w for w in words[1:] if w != "norun" and not w.startswith("file=")]

    @property
    def where(self):
        return "%s:%d" % (self.path, self.line)


def blocks_of(path):
    """Fenced blocks (``` or ~~~, indented up to 3 spaces) of a Markdown file."""
    out, fence = [], None
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines, 1):
        if fence is None:
            m = re.match(r"^( {0,3})(`{3,}|~{3,})(.*)$", line)
            if m and not (m.group(2)[0] == "`" and "`" in m.group(3)):
                fence = (m.group(2), len(m.group(1)), n, m.group(3).strip(), [])
        else:
            mark, indent, start, info, body = fence
            m = re.match(r"^ {0,3}(`{3,}|~{3,})\s*$", line)
            if m and m.group(1)[0] == mark[0] and len(m.group(1)) >= len(mark):
                out.append(Block(path, start, info, "".join(l + "\n" for l in body)))
                fence = None
            else:
                body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
    if fence is not None:
        out.append(Block(path, fence[2], "?unclosed", ""))
    return out


def doc_files():
    files = ["README.md"]
    for d, _, names in os.walk(os.path.join(ROOT, "docs")):
        files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names if n.endswith(".md")]
    return sorted(files, key=lambda p: (p != "README.md", p))


def run(cmd, cwd, env=None):
    try:
        r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=TIMEOUT)
        return r.returncode, r.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return "timeout", (e.stdout or b"").decode("utf-8", "replace") + "\n(killed after %d s)" % TIMEOUT


def indent(text, limit=40):
    lines = text.rstrip("\n").split("\n")
    if len(lines) > limit:
        lines = lines[:limit] + ["... (%d more lines)" % (len(lines) - limit)]
    return "\n".join("    " + l for l in lines)


class Checker:
    def __init__(self):
        self.cc = shlex.split(os.environ.get("CC") or "cc")
        self.out = os.path.join(ROOT, os.environ.get("OUT") or "lib")
        self.python = os.environ.get("PYTHON") or sys.executable
        self.sanitize = os.environ.get("SANITIZE") == "1"
        self.failures, self.counts = [], {}

    def fail(self, block, what, detail=""):
        self.failures.append("%s: %s block: %s%s" % (block.where, block.lang or "(no language)", what,
                                                      "\n" + indent(detail) if detail else ""))

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def check(self, block):
        if block.lang == "?unclosed":
            return self.fail(block, "the fence is never closed")
        if block.unknown:
            return self.fail(block, "unknown word(s) %s in the info string (known: norun, file=PATH)"
                             % " ".join(block.unknown))
        if block.file:
            return self.check_file(block)
        if block.norun:
            return self.count("marked norun")
        if block.lang == "c":
            return self.run_c(block)
        if block.lang in ("python", "py"):
            return self.run_python(block)
        if LOOKS_LIKE_CODE.search(block.text):
            return self.fail(block, "looks like C or Python but is not tagged ```c or ```python "
                             "(add `norun` after the language if it is not meant to run)")
        self.count("shown only")

    def check_file(self, block):
        path = os.path.join(ROOT, block.file)
        try:
            with open(path, encoding="utf-8") as f:
                want = f.read()
        except OSError as e:
            return self.fail(block, "file=%s cannot be read: %s" % (block.file, e))
        if block.text == want:
            return self.count("equal to their file")
        got, exp = block.text.split("\n"), want.split("\n")
        k = next((i for i in range(min(len(got), len(exp))) if got[i] != exp[i]), min(len(got), len(exp)))
        self.fail(block, "differs from %s at its line %d (docs line %d):" % (block.file, k + 1, block.line + 1 + k),
                  "doc:  %r\nfile: %r" % (got[k] if k < len(got) else "<end>", exp[k] if k < len(exp) else "<end>"))

    def run_c(self, block):
        lib = os.path.join(self.out, "libgradflow.a")
        if not os.path.exists(lib):
            return self.fail(block, "%s is not built (make first)" % lib)
        with tempfile.TemporaryDirectory(prefix="gf-doc-") as tmp:
            src = os.path.join(tmp, "block.c")
            with open(src, "w") as f:  # #line: messages point into the .md file
                f.write('#line %d "%s"\n%s' % (block.line + 1, block.path, block.text))
            exe = os.path.join(tmp, "block")
            flags = WARN + (SAN if self.sanitize else [])
            rc, log = run(self.cc + flags + ["-I", os.path.join(ROOT, "include"), src, "-o", exe, lib, "-lm",
                                             "-lpthread"], tmp)
            if rc != 0:
                return self.fail(block, "does not compile (%s):" % " ".join(self.cc + WARN), log)
            rc, log = run([exe], tmp)
            if rc != 0:
                return self.fail(block, "the program exited with status %s:" % rc, log)
        self.count("C programs compiled and run")

    def run_python(self, block):
        if self.sanitize:
            return self.count("Python skipped under SANITIZE=1")
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), PYTHONDONTWRITEBYTECODE="1",
                   GRADFLOW_LIBRARY=os.path.join(self.out, "libgradflow.so.0"))
        with tempfile.TemporaryDirectory(prefix="gf-doc-") as tmp:
            src = os.path.join(tmp, "block.py")
            with open(src, "w") as f:  # padded so that traceback line numbers are the .md file's
                f.write("\n" * block.line + block.text)
            runner = ("import sys; p, name = sys.argv[1], sys.argv[2]; sys.argv = [name]; "
                      "exec(compile(open(p).read(), name, 'exec'), {'__name__': '__main__'})")
            rc, log = run([self.python, "-c", runner, src, block.path], tmp, env)
            if rc != 0:
                return self.fail(block, "the program exited with status %s:" % rc, log)
        self.count("Python programs run")


def main(argv):
    os.chdir(ROOT)
    files = argv or doc_files()
    checker = Checker()
    n = 0
    for path in files:
        for block in blocks_of(path):
            n += 1
            checker.check(block)
    for f in checker.failures:
        print("FAIL: " + f)
    summary = ", ".join("%d %s" % (v, k) for k, v in sorted(checker.counts.items()))
    print("doc_blocks: %d blocks in %d files: %s" % (n, len(files), summary or "none"))
    if checker.failures:
        print("doc_blocks: FAILED (%d blocks; the convention is in docs/design.md, \"Code blocks in the docs\")"
              % len(checker.failures))
        return 1
    print("doc_blocks: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
