#!/usr/bin/env python3
"""Generate pep440.jsonl: PEP 440 test vectors checked by the `packaging` library itself.

Inputs are the version lists of packaging's own test suite (tests/test_version.py in the
packaging sdist: the sorted VERSIONS list, the normalization cases and the invalid cases),
plus the examples from the text of PEP 440. Every expected result is computed by
`packaging.version.Version`, never written by hand.

Usage: pip install packaging==26.3; pip download --no-deps --no-binary :all: packaging==26.3
       tar xzf packaging-26.3.tar.gz
       python3 gen_pep440.py packaging-26.3/tests/test_version.py > pep440.jsonl
Each output line is a JSON array:
  ["cmp", a, b, -1|0|1]        Version(a) vs Version(b)
  ["norm", a, normalized]      str(Version(a))
  ["invalid", a]               Version(a) raises InvalidVersion
"""
import ast
import json
import sys

import packaging
from packaging.version import InvalidVersion, Version

# Examples from the text of PEP 440 (sections "Summary of permitted suffixes and relative
# ordering" and "Version epochs").
PEP_ORDERED = [
    "1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
    "1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456",
    "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34",
    "1.0.post456", "1.0.15", "1.1.dev1",
]
PEP_EPOCHS = ["2013.10", "2014.04", "1!1.0", "1!1.1", "1!2.0"]


def literal_lists(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    versions, norms, invalid = None, [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "VERSIONS" for t in node.targets
        ):
            versions = ast.literal_eval(node.value)
        if isinstance(node, ast.FunctionDef) and node.name in (
            "test_normalized_versions",
            "test_invalid_versions",
        ):
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and len(dec.args) >= 2:
                    try:
                        vals = ast.literal_eval(dec.args[1])
                    except ValueError:
                        continue
                    if node.name == "test_normalized_versions":
                        norms = vals
                    else:
                        invalid = vals
    return versions, norms, invalid


def cmp(a, b):
    va, vb = Version(a), Version(b)
    return -1 if va < vb else (1 if va > vb else 0)


def main():
    versions, norms, invalid = literal_lists(sys.argv[1])
    out = sys.stdout
    print(json.dumps(["source", f"packaging {packaging.__version__} tests/test_version.py and PEP 440 examples"]), file=out)
    for group in (versions, PEP_ORDERED, PEP_EPOCHS):
        for i, a in enumerate(group):
            for b in group[i:]:
                print(json.dumps(["cmp", a, b, cmp(a, b)]), file=out)
                if a != b:
                    print(json.dumps(["cmp", b, a, cmp(b, a)]), file=out)
    for a, n in norms:
        print(json.dumps(["norm", a, str(Version(a))]), file=out)
        assert str(Version(a)) == n
    for a in invalid:
        try:
            Version(a)
        except InvalidVersion:
            print(json.dumps(["invalid", a]), file=out)


main()
