#!/usr/bin/env bash
# Builds the web console (web/ -> web/dist, served by `georep serve`) with the versions pinned in
# web/package-lock.json; with --e2e, also installs the end-to-end tests' packages (tests/e2e).
# `npm ci` runs only when the lock file is newer than the installed packages.
#
# `npm run build` ends with web/precompress.mjs: a brotli and a gzip copy beside each script,
# stylesheet and page of web/dist, which the engine sends to browsers that accept them (Node's
# own zlib, no further package: the script says why).
#
# The console's API types (web/src/apiSchema.d.ts) are generated from the engine's OpenAPI
# document, web/openapi.json (openapi-typescript), before the type check. With GEOREP_OPENAPI set
# to a built georep_openapi (build/dev/src/georep_openapi), that document is first written anew
# from the engine's route table; a unit test (OpenApi.TheConsolesCopyIsTheEnginesDocument) fails
# while the committed copy differs from the engine's.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm trusts only the CAs bundled with Node.js; trust the system's store too (Debian's
# ca-certificates, with any authority the administrator added there).
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

npm_ci() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

if [ -n "${GEOREP_OPENAPI:-}" ]; then
  "$GEOREP_OPENAPI" >web/openapi.json.new
  mv web/openapi.json.new web/openapi.json
fi
(cd web && npm_ci && npm run --silent build >/dev/null)
echo "build-web: web/dist built"
if [ "${1:-}" = "--e2e" ]; then
  (cd tests/e2e && npm_ci)
fi
