"""Assembles results/REPORT.md from the fragments that pipeline stages write.

    python tools/make_report.py results/report results/REPORT.md

Each stage writes `<report_dir>/NN_<stage>.md` (and its images beside it); the
report is their concatenation in file-name order under one header, so a stage
that is rerun replaces only its own section.
"""

import datetime
import glob
import os
import re
import sys

_IMAGE = re.compile(r"!\[([^\]]*)\]\((?!https?:|/)([^)]+)\)")


def make_report(report_dir, out_path):
    fragments = sorted(glob.glob(os.path.join(report_dir, "[0-9][0-9]_*.md")))
    if not fragments:
        raise SystemExit(f"no report fragments (NN_<stage>.md) in {report_dir}; run the pipeline stages first")
    rel = os.path.relpath(report_dir, os.path.dirname(os.path.abspath(out_path)))
    parts = [f"# Pipeline report\n\nMade {datetime.datetime.now():%Y-%m-%d %H:%M} by `bash example.sh`.\n"]
    for path in fragments:
        with open(path) as f:
            # Images are referenced relative to the fragment; rebase them onto the report.
            parts.append(_IMAGE.sub(lambda m: f"![{m.group(1)}]({rel}/{m.group(2)})", f.read()))
    with open(out_path, "w") as f:
        f.write("\n".join(parts))
    return out_path


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(make_report(sys.argv[1], sys.argv[2]))
