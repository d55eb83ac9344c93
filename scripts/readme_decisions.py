#!/usr/bin/env python3
"""Copies the tables of target/decisions/report.md (written by
scripts/decisions.py) into README.md's "Decision benchmark" section, between
its "Measured ..." line and the paragraph after the decision-set table, so
that the README quotes exactly what the benchmark printed. The prose around
the tables is written by hand."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
report_path = root / "target/decisions/report.md"
if not report_path.exists():
    sys.exit(f"{report_path}: missing; run python3 scripts/decisions.py first")
report = report_path.read_text()
readme_path = root / "README.md"
readme = readme_path.read_text()

# The report's tables, its level-2 headings one level down (a README section).
if "\n" not in report or "## Decision set" not in report:
    sys.exit(f"{report_path}: not a decision benchmark report (no 'Decision set' section)")
body = report.split("\n", 1)[1].strip("\n")
body = re.sub(r"^## ", "### ", body, flags=re.M)

start = readme.find("### Bundled example (`data/homeostat.yaml`")
set_start = readme.find("### Decision set", start)
if start < 0 or set_start < 0:
    sys.exit("README.md: the Decision benchmark section's headings were not found")
# The end: the first blank line after the decision set's last table row.
lines_from = readme[set_start:].split("\n")
offset = set_start
in_table = False
for line in lines_from:
    if line.startswith("|"):
        in_table = True
    elif in_table and line.strip() == "":
        break
    offset += len(line) + 1
else:
    # No blank line after a table: refuse rather than cut the README short.
    sys.exit("README.md: no table (followed by a blank line) under 'Decision set'")
end = offset
readme_path.write_text(readme[:start] + body + "\n" + readme[end:])
print("README.md: decision benchmark tables replaced")
