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
report = (root / "target/decisions/report.md").read_text()
readme_path = root / "README.md"
readme = readme_path.read_text()

# The report's tables, its level-2 headings one level down (a README section).
body = report.split("\n", 1)[1].strip("\n")
body = re.sub(r"^## ", "### ", body, flags=re.M)

start = readme.index("### Bundled example (`data/homeostat.yaml`")
# The end: the first blank line after the decision set's last table row.
set_start = readme.index("### Decision set", start)
lines_from = readme[set_start:].split("\n")
offset = set_start
in_table = False
for line in lines_from:
    if line.startswith("|"):
        in_table = True
    elif in_table and line.strip() == "":
        break
    offset += len(line) + 1
end = offset
if end <= start:
    sys.exit("README.md: could not find the decision benchmark tables")
readme_path.write_text(readme[:start] + body + "\n" + readme[end:])
print("README.md: decision benchmark tables replaced")
