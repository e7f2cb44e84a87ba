# Shared by scripts/demo.sh and scripts/test.sh: a virtual environment in .venv with quantrac
# installed (editable), re-installed when pyproject.toml changes. Source it; pass the extras.
quantrac_venv() {
  local extras="$1" python=""
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      python="$candidate"; break
    fi
  done
  if [ -z "$python" ]; then
    echo "quantrac needs Python >= 3.11 (apt-get install python3)" >&2; return 1
  fi
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  local stamp=".venv/.quantrac-installed${extras}"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".${extras}"
    touch "$stamp"
  fi
}
