#!/usr/bin/env python3
"""Write the fake API server's table of ingress-nginx annotation risks from the controller's source.

Usage: scripts/ingress-nginx-annotation-table.py GIT_DIR TAG > tests/fakeapi/data/ingress_nginx_annotations.csv

GIT_DIR is a clone of kubernetes/ingress-nginx (a bare one is enough), TAG e.g. controller-v1.15.1.
It reads internal/ingress/annotations/annotations.go (NewAnnotationFactory: the group names the
webhook's "annotation group X contains risky annotation" message uses) and, for every parser
package, its ``parser.AnnotationFields`` entries (key constant, Risk, AnnotationAliases).
The output is independent of raygate's own annotation table on purpose: the fake webhook must
not be able to agree with a drifting rule.
"""
from __future__ import annotations

import csv
import re
import subprocess
import sys


def show(git_dir: str, tag: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{tag}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def files(git_dir: str, tag: str, folder: str) -> list[str]:
    out = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "--name-only", f"{tag}:{folder}"],
                         check=True, capture_output=True, text=True).stdout.split()
    return [f"{folder}/{f}" for f in out if f.endswith(".go") and not f.endswith("_test.go")]


def main(git_dir: str, tag: str) -> None:
    base = "internal/ingress/annotations"
    factory = show(git_dir, tag, f"{base}/annotations.go")
    body = factory[factory.index("func NewAnnotationFactory"):]
    body = body[:body.index("\n}\n")]
    groups = re.findall(r'"(\w+)":\s+(\w+)\.NewParser', body)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["group", "annotation", "risk", "aliases"])
    for group, package in groups:
        text = "\n".join(show(git_dir, tag, f) for f in files(git_dir, tag, f"{base}/{package}"))
        consts = dict(re.findall(r'^\s*(\w+)\s*(?:string\s*)?=\s*"([^"]+)"', text, re.M))
        start = text.find("parser.AnnotationFields{")
        if start < 0:
            continue
        for m in re.finditer(r'^\t\t(\w+|"[^"]+"):\s*\{(.*?)^\t\t\},', text[start:], re.M | re.S):
            key, entry = m.group(1), m.group(2)
            name = key.strip('"') if key.startswith('"') else consts.get(key)
            risk = re.search(r"Risk:\s*parser\.AnnotationRisk(\w+)", entry)
            aliases = re.search(r"AnnotationAliases:\s*\[\]string\{([^}]*)\}", entry)
            alias_names = [consts.get(a.strip(), a.strip().strip('"'))
                           for a in (aliases.group(1).split(",") if aliases else []) if a.strip()]
            if name and risk:
                writer.writerow([group, name, risk.group(1), " ".join(alias_names)])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
