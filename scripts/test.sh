#!/usr/bin/env bash
# The whole test suite: formatting, lints, generated docs, unit and integration tests of every
# crate. Root-only end-to-end tests (eBPF, podman) run when this runs as root and skip loudly
# otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d ../shared ] || { echo "test.sh: ../shared (corpus) is missing beside the checkout" >&2; exit 1; }
cargo fmt --all -- --check
python3 scripts/gen-rules-doc.py --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
if [ "$(id -u)" = 0 ] && command -v podman >/dev/null; then
  # The end-to-end tests run real containers from this locally built image.
  scripts/test-image.sh
else
  echo "test.sh: SKIP image build: not root or no podman; end-to-end tests will skip" >&2
fi
cargo test --workspace --no-fail-fast 2>&1
