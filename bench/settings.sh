# Defaults shared by the benchmark scripts (override any from the environment), the tool
# check, and the writer of bench/RESULTS.md sections. Sourced first, before bench/lib.sh.
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
WRITE_RESULTS=${WRITE_RESULTS:-1}
UPSTREAM=127.0.0.1:18080
VIGIE=127.0.0.1:18083
VIGIE_ADMIN=127.0.0.1:18093

need() { # tool...
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool (see the header of $0)" >&2; exit 1; }
  done
}

# Replaces the section NAME of bench/RESULTS.md (between its markers) with stdin, or appends it.
write_section() { # name
  local name=$1 file=bench/RESULTS.md body
  body=$(cat)
  touch "$file"
  python3 - "$file" "$name" "$body" <<'PY'
import sys
path, name, body = sys.argv[1:4]
begin, end = f"<!-- begin:{name} -->", f"<!-- end:{name} -->"
text = open(path).read()
block = f"{begin}\n{body}\n{end}"
if begin in text and end in text:
    text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + ("\n\n" if text.strip() else "") + block + "\n"
open(path, "w").write(text)
PY
}
