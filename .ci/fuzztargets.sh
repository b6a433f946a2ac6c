#!/usr/bin/env bash
# fuzztargets.sh PKG:NAME[:RUNS]... fails unless the arguments name exactly
# the fuzz targets (func FuzzXxx in a _test.go file) of the main module.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(grep -rhoE --include='*_test.go' --exclude-dir=bench '^func Fuzz[A-Za-z0-9_]*' . | sed 's/^func //' | sort)
got=$(for t in "$@"; do IFS=: read -r _ name _ <<< "$t"; echo "$name"; done | sort)
if [ "$want" != "$got" ]; then
	echo "make: FUZZ_TARGETS in the Makefile does not list the fuzz targets of the tests:" >&2
	diff <(echo "$want") <(echo "$got") | sed -n 's/^< /  add (package:Name:runs): /p; s/^> /  remove: /p' >&2
	exit 1
fi
