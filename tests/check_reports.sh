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
for name in report recurrent; do
    "$PY" -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' "$dir/$name.svg" || exit 1
done
"$PY" - "$dir" <<'PYEOF' || exit 1
import csv, io, json, sys
d = sys.argv[1]
for name in ("report", "recurrent"):
    # The statistics table, then (recurrent nets) the time profile table after an empty line.
    tables = open(d + "/" + name + ".csv").read().split("\n\n")
    assert len(tables) == (2 if name == "recurrent" else 1), "%s.csv: %d tables" % (name, len(tables))
    for text in tables:
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) > 1 and all(len(r) == len(rows[0]) for r in rows), "ragged CSV"
        for r in rows[1:]:
            [float(x) for x in r if x != ""]
    objs = [json.loads(l) for l in open(d + "/" + name + ".jsonl")]
    assert objs[-1]["type"] == "verdict" and objs[-1]["layer"] == -1, "last JSON line is not the net verdict"
    assert all(isinstance(o, dict) for o in objs)
    if name == "recurrent":
        assert any(o["type"] == "time" and len(o["delta_time_norm"]) == 13 for o in objs), "no time profile"
    print("check_reports: %s: svg, csv (%d tables), json (%d objects) parse" % (name, len(tables), len(objs)))
PYEOF
