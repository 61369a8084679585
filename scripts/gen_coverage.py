#!/usr/bin/env python3
"""Writes large coverage reports with known totals, for `cargo bench --bench coverage`.

    scripts/gen_coverage.py OUT_DIR [--lines 4000000] [--lines-per-file 200]

writes OUT_DIR/report.lcov (LCOV), OUT_DIR/coverage.xml (Cobertura, coverage.py flavour) and
OUT_DIR/expected.json: the totals both must give, counted as Codecov counts them (a line is a
hit when it ran and every branch on it was taken, partial when it ran with a branch not taken,
a miss when it never ran). The content is the same in both files and the same on every run.
"""

import argparse
import json
import math
import os
import random


def lines_of(rng, count):
    """(number, hits, branches, branches_taken) for `count` coverable lines of one file."""
    number = 0
    for _ in range(count):
        number += rng.choice((1, 1, 1, 2, 3))
        hits = 0 if rng.random() < 0.2 else rng.randint(1, 50)
        if number % 10 == 0:
            taken = 0 if hits == 0 else rng.choice((1, 2, 2))
            yield number, hits, 2, taken
        else:
            yield number, hits, 0, 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--lines", type=int, default=4_000_000)
    parser.add_argument("--lines-per-file", type=int, default=200)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(20261205)
    files = max(1, args.lines // args.lines_per_file)
    totals = dict(files=0, lines=0, hits=0, misses=0, partials=0, branches=0, branches_hit=0)
    lcov_path = os.path.join(args.out, "report.lcov")
    xml_path = os.path.join(args.out, "coverage.xml")
    with open(lcov_path, "w") as lcov, open(xml_path, "w") as xml:
        xml.write('<?xml version="1.0" ?>\n')
        xml.write('<coverage version="7.4.0" timestamp="1733356800000" line-rate="0" branch-rate="0" complexity="0">\n')
        xml.write("\t<sources>\n\t\t<source>/home/runner/work/app/app</source>\n\t</sources>\n\t<packages>\n")
        xml.write('\t\t<package name="src" line-rate="0" branch-rate="0" complexity="0">\n\t\t\t<classes>\n')
        for f in range(files):
            path = f"src/pkg{f // 100}/module_{f}.py"
            count = args.lines_per_file if f < files - 1 else args.lines - args.lines_per_file * (files - 1)
            lcov.write(f"TN:\nSF:{path}\n")
            xml.write(f'\t\t\t\t<class name="module_{f}.py" filename="{path}" complexity="0" line-rate="0" branch-rate="0">\n')
            xml.write("\t\t\t\t\t<methods/>\n\t\t\t\t\t<lines>\n")
            da, brda, xml_lines = [], [], []
            for number, hits, branches, taken in lines_of(rng, count):
                totals["lines"] += 1
                totals["branches"] += branches
                totals["branches_hit"] += taken
                if hits == 0:
                    totals["misses"] += 1
                elif taken < branches:
                    totals["partials"] += 1
                else:
                    totals["hits"] += 1
                da.append(f"DA:{number},{hits}\n")
                if branches:
                    for b in range(branches):
                        mark = "-" if hits == 0 else ("1" if b < taken else "0")
                        brda.append(f"BRDA:{number},0,{b},{mark}\n")
                    pct = taken * 100 // branches
                    xml_lines.append(
                        f'\t\t\t\t\t\t<line number="{number}" hits="{hits}" branch="true" '
                        f'condition-coverage="{pct}% ({taken}/{branches})"/>\n'
                    )
                else:
                    xml_lines.append(f'\t\t\t\t\t\t<line number="{number}" hits="{hits}"/>\n')
            totals["files"] += 1
            lcov.write("".join(da))
            lcov.write("".join(brda))
            lcov.write(f"LF:{count}\nend_of_record\n")
            xml.write("".join(xml_lines))
            xml.write("\t\t\t\t\t</lines>\n\t\t\t\t</class>\n")
        xml.write("\t\t\t</classes>\n\t\t</package>\n\t</packages>\n</coverage>\n")
    # Rounded half up to two decimals, as rubric rounds.
    totals["coverage"] = math.floor(totals["hits"] * 10000 / totals["lines"] + 0.5) / 100 if totals["lines"] else None
    with open(os.path.join(args.out, "expected.json"), "w") as out:
        json.dump(totals, out)
        out.write("\n")
    print(json.dumps(totals))


if __name__ == "__main__":
    main()
