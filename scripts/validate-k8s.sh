#!/usr/bin/env bash
# Validates deploy/kubernetes offline against the Kubernetes OpenAPI schema: no cluster,
# no kubectl. Installs Node.js and npm from Debian when missing (Debian 12 ships Node 18; any
# Node >= 18 works), installs the pinned validator packages with `npm ci` (package-lock.json) and
# runs deploy/kubernetes/validate.mjs, which prints one line per object:
#   ok Deployment/handoff (deployment.yaml)
# and checks that every fixture in deploy/kubernetes/testdata/ (deliberately broken manifests) is
# rejected. This script then runs the validator once more on a broken fixture as if it were a real
# manifest and requires exit code 1 with a FAIL line. Last line: "N passed, M failed"; exit 0 when
# nothing failed, else 1.
set -euo pipefail
cd "$(dirname "$0")/../deploy/kubernetes"

need_node() {
  command -v node >/dev/null && command -v npm >/dev/null || return 0
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  ((major < 18))
}
if need_node; then
  echo "validate-k8s: installing nodejs and npm (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if ((major < 18)); then
  echo "validate-k8s: Node.js >= 18 needed, found $(node --version)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# Exactly the versions in package-lock.json; node_modules is recreated each time (a few seconds).
npm ci --no-audit --no-fund --loglevel=error >/dev/null

passed=0
failed=0

# 1. The manifests (must pass) and the fixtures (must be rejected), all in one run.
set +e
out=$(node validate.mjs 2>&1)
rc=$?
set -e
summary=$(tail -n 1 <<<"$out")
if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
  sed '$d' <<<"$out"
  passed=$((passed + BASH_REMATCH[1]))
  failed=$((failed + BASH_REMATCH[2]))
  if ((rc != 0 && BASH_REMATCH[2] == 0)); then
    echo "FAIL validate.mjs exited $rc with no failed check"
    failed=$((failed + 1))
  fi
else
  printf '%s\n' "$out"
  echo "FAIL validate.mjs ended without a summary (exit $rc)"
  failed=$((failed + 1))
fi

# 2. The same validator, given a broken manifest as if it were one to apply, must fail the run.
broken=testdata/ports-not-a-list.yaml
set +e
out=$(node validate.mjs "$broken" 2>&1)
rc=$?
set -e
if ((rc == 1)) && grep -q '^FAIL Deployment/broken-ports' <<<"$out" && grep -qx '0 passed, 1 failed' <<<"$out"; then
  echo "ok validate.mjs exits 1 on a broken manifest ($broken)"
  passed=$((passed + 1))
else
  echo "FAIL validate.mjs accepted a broken manifest ($broken), exit $rc:"
  while IFS= read -r line; do echo "  $line"; done <<<"$out"
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
((failed == 0))
