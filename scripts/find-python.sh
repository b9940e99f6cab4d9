#!/usr/bin/env bash
# Prints a Python 3.11+ interpreter for the set-up scripts: $PYTHON if set, else the newest on PATH.
set -euo pipefail
if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; exit 0; fi
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "$candidate"; exit 0
  fi
done
echo "Python 3.11+ is required" >&2
exit 1
