#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests of every crate.
# Root-only end-to-end tests (eBPF, podman) run when this runs as root and skip loudly otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d ../shared ] || { echo "test.sh: ../shared (corpus) is missing beside the checkout" >&2; exit 1; }
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --no-fail-fast 2>&1
