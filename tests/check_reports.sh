#!/bin/sh
# tests/check_reports.sh — the reports parse with independent parsers: Python's
# xml.dom.minidom (SVG), json (JSON lines) and csv (CSV).  Skipped without python3.
# Environment: B (build dir) as set by tests/run.sh.
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null 2>&1 || { echo "check_reports: no python3, skipped"; exit 0; }
B=${B:-build/cc}
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
GF_REPORT_OUT=$dir "$B/tests/test_report" >/dev/null 2>&1 || { echo "check_reports: test_report failed"; exit 1; }
"$PY" -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' "$dir/report.svg" || exit 1
"$PY" - "$dir" <<'PYEOF' || exit 1
import csv, json, sys
d = sys.argv[1]
rows = list(csv.reader(open(d + "/report.csv")))
assert len(rows) > 1 and all(len(r) == len(rows[0]) for r in rows), "ragged CSV"
for r in rows[1:]:
    [float(x) for x in r]
objs = [json.loads(l) for l in open(d + "/report.jsonl")]
assert objs[-1]["type"] == "verdict" and objs[-1]["layer"] == -1, "last JSON line is not the net verdict"
assert all(isinstance(o, dict) for o in objs)
print("check_reports: svg, csv (%d rows), json (%d objects) parse" % (len(rows), len(objs)))
PYEOF
