#!/usr/bin/env bash
# Installs the Cortex CLI (`cortexapps-cli` 1.52.0 from PyPI, in a virtual environment),
# idempotently, for the tests that drive it against a running `rubric serve`
# (tests/it/portal_cortex_cli.rs). Prints the line that points the tests at it:
#
#   eval "$(scripts/ci-cortex-cli.sh)"
#
# 1.52.0 asks for certifi>=2026.10.19; the mirror once had only 2026.10.18, so the install
# failed. It now has 2026.10.19.post1 and a plain install resolves; should the pin ever not
# resolve again, the CLI is installed without its dependencies and those are installed
# explicitly with the newest certifi the mirror has (the CLI only uses certifi's CA bundle).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${RUBRIC_CORTEX_CLI_DIR:-$root/target/cortex-cli}"
version="1.52.0"
cortex="$dir/venv/bin/cortex"
installed() {
    [ -x "$cortex" ] && [ "$("$dir/venv/bin/pip" show cortexapps-cli 2>/dev/null | sed -n 's/^Version: //p')" = "$version" ]
}
if ! installed; then
    mkdir -p "$dir"
    python3 -m venv "$dir/venv" >&2
    if ! "$dir/venv/bin/pip" install -q "cortexapps-cli==$version" >&2; then
        echo "ci-cortex-cli: the full install did not resolve; installing its dependencies explicitly" >&2
        "$dir/venv/bin/pip" install -q --no-deps "cortexapps-cli==$version" >&2
        "$dir/venv/bin/pip" install -q certifi "PyNaCl>=1.5.0" "pyyaml>=6.0.1,<7" \
            "requests>=2.33.0,<3.0.0" "typer>=0.15,<1.0" "typing_extensions>=3.7.4.3" \
            "urllib3>=2.8.0" >&2
    fi
fi
installed || { echo "ci-cortex-cli: cortexapps-cli $version is not installed in $dir" >&2; exit 1; }
echo "export RUBRIC_TEST_CORTEX_CLI='$cortex'"
