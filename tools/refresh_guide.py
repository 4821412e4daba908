#!/usr/bin/env python3
"""Refreshes the demo excerpts quoted in docs/guide.md from a fresh `make demo` run.

Each fenced block of the guide that starts with a demo section header ("==== (x...") is replaced
by that section of the demo's output, lines cut at 130 columns, up to the line the old block
ended with (same leading word) or up to the chart line.  A block that starts with "reason:" is
re-wrapped from the reason and remedy lines of the section quoted just before it.
Usage: python3 tools/refresh_guide.py [demo-output-file]   (default: runs `make -s demo`)
Prose numbers are not touched: read the diff and fix the text by hand."""
import re
import subprocess
import sys

WIDTH = 130


def demo_output():
    if len(sys.argv) > 1:
        return open(sys.argv[1]).read()
    out = subprocess.run(["make", "-s", "demo"], capture_output=True, text=True, check=True).stdout
    return out


def sections(text):
    found, name, cur = {}, None, []
    for line in text.splitlines():
        m = re.match(r"^==== (\(\w+\)|summary) ", line)
        if m:
            if name:
                found[name] = cur
            name, cur = m.group(1), []
        if name:
            cur.append(line)
    if name:
        found[name] = cur
    return found


def excerpt(lines, last_word):
    keep = []
    for line in lines:
        if line.startswith("chart:"):
            break
        keep.append(line[:WIDTH])
        if last_word and line.startswith(last_word):
            break
    while keep and not keep[-1].strip():
        keep.pop()
    return keep


def wrapped(lines):
    text = [l for l in lines if l.startswith("reason:") or l.startswith("remedy:")]
    out = []
    for l in text:
        out += [l[i:i + WIDTH] for i in range(0, len(l), WIDTH)]
    return out


def main():
    secs = sections(demo_output())
    src = open("docs/guide.md").read().split("\n")
    out, i, last_section = [], 0, None
    while i < len(src):
        line = src[i]
        if line.startswith("```") and i + 1 < len(src):
            j = i + 1
            while j < len(src) and not src[j].startswith("```"):
                j += 1
            block = src[i + 1:j]
            head = block[0] if block else ""
            m = re.match(r"^==== (\(\w+\)|summary) ", head)
            if m and m.group(1) in secs:
                last_section = secs[m.group(1)]
                last_word = block[-1].split(" ")[0] if block[-1].strip() else None
                if m.group(1) == "summary":
                    block = [l for l in last_section] + [""]
                else:
                    block = excerpt(last_section, last_word if last_word != "remedy:" else None)
            elif head.startswith("reason:") and last_section:
                block = wrapped(last_section)
            out += [line] + block + [src[j]]
            i = j + 1
            continue
        out.append(line)
        i += 1
    open("docs/guide.md", "w").write("\n".join(out))


if __name__ == "__main__":
    main()
