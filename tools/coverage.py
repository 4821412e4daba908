#!/usr/bin/env python3
"""coverage.py — line and branch coverage of src/ from a --coverage build (make coverage).

Runs gcov on each source with the objects' .gcno/.gcda files, prints a table of
line and branch coverage per file and the totals, and exits 1 if a total is
below its minimum.  A branch counts as covered when it was taken at least once
(gcov -b's "Taken at least once").  Uses only the standard library and gcov.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

PCT = re.compile(r"^(Lines executed|Taken at least once):([0-9.]+)% of (\d+)")


def gcov_file(src, obj_dir):
    """(lines hit, lines, branches taken, branches) of one source, or None if it was never built."""
    stem = os.path.splitext(os.path.basename(src))[0]
    if not os.path.exists(os.path.join(obj_dir, stem + ".gcno")):
        return None
    with tempfile.TemporaryDirectory() as tmp:  # gcov writes .gcov files into its working directory
        out = subprocess.run(["gcov", "-b", "-c", "-n", "-o", os.path.abspath(obj_dir), os.path.abspath(src)],
                             cwd=tmp, capture_output=True, text=True, check=False).stdout
    lines = branches = (0.0, 0)
    in_file = False
    for text in out.splitlines():
        if text.startswith("File "):
            in_file = text.strip().endswith(os.path.basename(src) + "'")
            continue
        m = PCT.match(text)
        if in_file and m:
            value = (float(m.group(2)) * int(m.group(3)) / 100.0, int(m.group(3)))
            if m.group(1) == "Lines executed":
                lines = value
            else:
                branches = value
    return lines[0], lines[1], branches[0], branches[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--obj", required=True)
    ap.add_argument("--min-line", type=float, default=0.0)
    ap.add_argument("--min-branch", type=float, default=0.0)
    ap.add_argument("sources", nargs="+")
    args = ap.parse_args()
    tl = tn = bl = bn = 0.0
    print("%-24s %8s %7s %9s %7s" % ("file", "lines", "%", "branches", "%"))
    for src in sorted(args.sources):
        r = gcov_file(src, args.obj)
        if r is None:
            print("%-24s not built" % src)
            continue
        lh, ln, bh, bcount = r
        tl, tn, bl, bn = tl + lh, tn + ln, bl + bh, bn + bcount
        print("%-24s %8d %6.1f%% %9d %6.1f%%" % (src, ln, 100.0 * lh / ln if ln else 100.0, bcount,
                                               100.0 * bh / bcount if bcount else 100.0))
    line_pct = 100.0 * tl / tn if tn else 0.0
    branch_pct = 100.0 * bl / bn if bn else 0.0
    print("coverage of src/: lines %.1f%% of %d, branches %.1f%% of %d (taken at least once)"
          % (line_pct, tn, branch_pct, bn))
    ok = line_pct >= args.min_line and branch_pct >= args.min_branch
    if not ok:
        print("coverage: below the minimum (lines %.0f%%, branches %.0f%%)" % (args.min_line, args.min_branch))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
