#!/bin/sh
# tests/check_docs.sh — the docs cannot drift from the code: every fenced code
# block of README.md and docs/ is compiled and run or compared with its file
# (tests/doc_blocks.py; the convention is in docs/design.md), and the man page
# man/gradflow.3 is what tools/gen_man.py makes from the docs now.
# Environment: CC, OUT, PYTHON, SANITIZE (passed on).  POSIX sh.
PYTHON=${PYTHON:-python3}
fail=0
"$PYTHON" tests/doc_blocks.py || fail=1
"$PYTHON" tools/gen_man.py --check || fail=1
exit $fail
