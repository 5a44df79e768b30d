#!/usr/bin/env python3
"""Conversations a reference server passes and a server under test fails, per tlsfuzzer script.

    compare.py TESTED_DIR REFERENCE_DIR [-v]

Only conversations both runs ran count (fuzzing scripts name random samples); a script without a summary in
either run (it timed out) is listed as incomplete and not counted.
"""
import os
import re
import sys


def parse(path):
    if not os.path.exists(path):
        return None
    text = open(path, errors="replace").read()
    if not re.search(r"TOTAL: (\d+)", text):
        return None
    failed = set()
    parts = text.split("FAILED:", 1)
    if len(parts) == 2:
        for line in parts[1].splitlines()[1:]:
            match = re.match(r"\t'(.*)'$", line) or re.match(r'\t"(.*)"$', line)
            if match:
                failed.add(match.group(1))
            elif line.strip() and not line.startswith("\t"):
                break
    ran = set(re.findall(r"^(.*) \.\.\.$", text, re.M))
    return failed, ran


def main():
    tested, reference = sys.argv[1], sys.argv[2]
    verbose = "-v" in sys.argv
    total = 0
    for name in sorted(os.listdir(reference)):
        if not name.endswith(".py.log"):
            continue
        ref = parse(os.path.join(reference, name))
        got = parse(os.path.join(tested, name))
        if ref is None or got is None:
            print(f"{'-':>5}  {name[:-4]} (incomplete)")
            continue
        worse = sorted((got[0] & ref[1]) - ref[0])
        total += len(worse)
        if worse:
            print(f"{len(worse):>5}  {name[:-4]}")
            if verbose:
                for conversation in worse:
                    print("         ", conversation[:150])
    print(f"total: {total}")


main()
