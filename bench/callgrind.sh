#!/usr/bin/env bash
# Instructions per request (docs/performance.md, "Instruction counts"): runs a server under
# callgrind twice, with N1 and N2 requests of one kind (`iamconform-loadbench count`), and
# prints (Ir(N2) - Ir(N1)) / (N2 - N1), the server's instructions per request with start-up,
# set-up and shutdown cancelled out. Instruction counts do not depend on what else the
# machine is doing, unlike req/s on a shared 2-core box.
#
#   bench/callgrind.sh gci                 # iamconform serve, GetCallerIdentity
#   bench/callgrind.sh gci ceiling         # the ceiling, same request
#   bench/callgrind.sh gci verify-only     # the ceiling plus SigV4 verification only
#   bench/callgrind.sh login               # full logins (Consul + AWS in one serve)
#   N1=200 N2=1200 bench/callgrind.sh role
# The profile of the N2 run stays in target/callgrind/<call>-<server>.out for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
call=${1:?usage: bench/callgrind.sh gci|role|login [iamconform|ceiling|verify-only]}
server=${2:-iamconform}
n1=${N1:-200}
n2=${N2:-1200}
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null || {
  echo "bench/callgrind.sh needs valgrind (callgrind, callgrind_annotate): apt-get install valgrind" >&2
  exit 2
}
[ "${IAMCONFORM_BENCH_NO_BUILD:-0}" = 1 ] || cargo build --release --quiet -p iamconform -p iamconform-loadbench
mkdir -p target/callgrind
total() {
  local n=$1 out=target/callgrind/$call-$server-$1.out
  rm -f "$out"
  target/release/iamconform-loadbench count --call "$call" --measure "$server" --n "$n" \
    --wrap valgrind --wrap --tool=callgrind --wrap --callgrind-out-file="$out" \
    --wrap --log-file=/dev/null >&2
  # "summary: <Ir>" (or "totals:") in the callgrind output file.
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
}
# SHA-256 compression, inclusive. Valgrind hides the CPU's SHA extensions, so under callgrind
# the sha2 crate falls back to its portable code (~3,500 instructions per 64-byte block);
# natively it uses SHA-NI where the CPU has it, at a small fraction of that. Reported apart.
sha() {
  callgrind_annotate --inclusive=yes "target/callgrind/$call-$server-$1.out" 2>/dev/null \
    | awk '/sha2::sha256::compress256 \[/ && !found {gsub(",", "", $1); print $1; found=1} END {if (!found) print 0}'
}
# Calls to the global allocator (`__rust_alloc`, `__rust_alloc_zeroed`, `__rust_realloc`):
# callgrind names a function in full once ("cfn=(7) name") and by its number afterwards.
allocs() {
  awk '
    /^c?fn=\(/ {
      id = $1; sub(/^c?fn=/, "", id)
      if (NF > 1) { name = $0; sub(/^c?fn=\([0-9]+\) /, "", name); names[id] = name }
      if ($1 ~ /^cfn=/) callee = id
    }
    /^calls=/ {
      n = $1; sub(/^calls=/, "", n)
      if (names[callee] ~ /^__rustc::__rust_(alloc|alloc_zeroed|realloc)$/) total += n
    }
    END { print total + 0 }
  ' "target/callgrind/$call-$server-$1.out"
}
a=$(total "$n1")
b=$(total "$n2")
sa=$(sha "$n1")
sb=$(sha "$n2")
cp "target/callgrind/$call-$server-$n2.out" "target/callgrind/$call-$server.out"
per=$(( (b - a) / (n2 - n1) ))
per_sha=$(( (sb - sa) / (n2 - n1) ))
alloc_per=$(awk -v a="$(allocs "$n1")" -v b="$(allocs "$n2")" -v n=$(( n2 - n1 )) 'BEGIN {printf "%.1f", (b - a) / n}')
echo "$call $server: Ir($n1)=$a Ir($n2)=$b per request=$per (SHA-256 compression $per_sha, rest $(( per - per_sha ))), heap allocations per request $alloc_per"
