#!/usr/bin/env python3
"""Generate cvss3.jsonl: CVSS v3.x base scores computed by the `cvss` PyPI package
(Red Hat Product Security's reference implementation of the FIRST equations).

Inputs: every distinct CVSS_V3 vector found in the OSV corpus directories given on the
command line (../shared/corpus/osv/*), plus every combination of base metric values for
CVSS:3.1 scope changed/unchanged sampled deterministically.

Usage: pip install cvss==3.6; python3 gen_cvss.py DIR... > cvss3.jsonl
Each line: [vector, base_score, severity] (severity as the cvss package names it).
"""
import itertools
import json
import os
import sys

import cvss
from cvss import CVSS3

vectors = set()
for root in sys.argv[1:]:
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".json"):
                continue
            try:
                doc = json.load(open(os.path.join(dirpath, f), encoding="utf-8"))
            except Exception:
                continue
            sevs = list(doc.get("severity") or [])
            for aff in doc.get("affected") or []:
                sevs += aff.get("severity") or []
            for s in sevs:
                if s.get("type") == "CVSS_V3":
                    vectors.add(s["score"])

# A deterministic sample of the full base-metric space (every 7th combination).
space = itertools.product("NALP", "LH", "NLH", "NR", "UC", "HLN", "HLN", "HLN")
for i, (av, ac, pr, ui, s, c, ii, a) in enumerate(space):
    if i % 7 == 0:
        for ver in ("3.0", "3.1"):
            vectors.add(f"CVSS:{ver}/AV:{av}/AC:{ac}/PR:{pr}/UI:{ui}/S:{s}/C:{c}/I:{ii}/A:{a}")

print(json.dumps(["source", f"cvss {cvss.__version__} (PyPI) CVSS3(vector).scores()[0]; vectors from the OSV corpus and a sample of the base-metric space"]))
for v in sorted(vectors):
    try:
        c = CVSS3(v)
    except Exception as e:  # invalid vectors in the corpus are recorded as such
        print(json.dumps(["invalid", v]))
        continue
    print(json.dumps([v, float(c.scores()[0]), c.severities()[0]]))
