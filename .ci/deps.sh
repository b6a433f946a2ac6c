#!/usr/bin/env bash
# Installs what the test suite needs beyond Go, when it is missing:
# Chromium from Debian's packages (for the HTML report's browser test) and
# the Python modules of the scripts make check-values reruns (the golden
# files' and the policy estimators' check values): mpmath, numpy, scipy.
# Needs root for apt; without root it only reports what is missing.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
for mod in mpmath numpy scipy; do
	/usr/bin/python3 -c "import $mod" >/dev/null 2>&1 || need+=("python3-$mod")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing ${need[*]} (run as root to install them with apt)" >&2
	exit 0
fi
echo "deps.sh: installing ${need[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
