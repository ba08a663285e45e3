#!/usr/bin/env bash
# The ctest `browser` (tests/CMakeLists.txt): installs playwright-core from the lock file into a
# work folder of the build (never into the source tree), then runs ui.test.mjs against
# $CERTGATE_BIN in Debian's Chromium. `npm ci` runs again only when the lock file changed, and
# prefers npm's cache, so a second run needs no network.
#   CERTGATE_BIN          the binary under test (required)
#   CG_BROWSER_WORK       work folder (default: a temporary one)
#   CG_BROWSER_ARTIFACTS  where the screenshots go (default: $CG_BROWSER_WORK/artifacts)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fail() { echo "browser test: $*" >&2; exit 1; }

[ -n "${CERTGATE_BIN:-}" ] || fail "CERTGATE_BIN is not set: run through ctest, or export CERTGATE_BIN=path/to/certgate"
[ -x "$CERTGATE_BIN" ] || fail "CERTGATE_BIN=$CERTGATE_BIN is not an executable"
for tool in node npm; do
  command -v "$tool" >/dev/null || fail "'$tool' is missing: run scripts/deps (it installs Debian's nodejs and npm)"
done
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing: run scripts/deps (it installs Debian's chromium)"

work="${CG_BROWSER_WORK:-$(mktemp -d -t certgate-browser.XXXXXX)}"
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/ui.test.mjs" "$work/"
if ! cmp -s "$work/package-lock.json" "$work/.installed-lock" || [ ! -d "$work/node_modules/playwright-core" ]; then
  (cd "$work" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefer-offline --no-audit --no-fund --loglevel=error) ||
    fail "npm ci failed in $work (it needs the npm registry once, then its cache)"
  cp "$work/package-lock.json" "$work/.installed-lock"
fi
export CG_BROWSER_ARTIFACTS="${CG_BROWSER_ARTIFACTS:-$work/artifacts}"
cd "$work"
exec node ui.test.mjs
