#!/usr/bin/env bash
# compare.sh "SERVER COMMAND" "GENERATOR A {PORT}" "GENERATOR B {PORT}" ...
#
# Holds load generators against each other on one server: starts the server once (a command that prints
# "listening on HOST:PORT", such as a Packet.Bench server mode with --port 0), then runs the generators
# in turn, A B ... A B ..., ROUNDS times, each to its own end, and prints for every run:
#   rate            what the generator reports: msgs_per_s (this loadgen, shared/tools' loadgen) or Value (a JSON CellResult)
#   gen_us/msg      the generator's CPU time (user + system, from GNU time) per message it completed
#   server_us/msg   the CPU time of the server and its children (a WorkerHost, a floor's child) over the run, per message
#   segs/msg        TCP segments sent on the whole machine during the run, per message (Tcp OutSegs of /proc/net/snmp)
# and then each generator's median rate and the median of its per-round ratios to generator A. A generator
# whose figure matches A's within the rounds' spread measures the same thing; gen_us/msg shows which of them
# could be the bottleneck on this machine. Loopback only; the server is stopped by its own PID.
#
# Environment: ROUNDS=3, SETTLE=1 (seconds between the server's "listening" and the first run), WARMUP=1 (each
# generator runs once, unrecorded, before the rounds, so no generator's first round meets a cold server; 0: none).
# Example, this generator against shared/tools' on the pipelined cell:
#   bench/loadgen/compare.sh "dotnet bench/Packet.Bench/bin/Release/net10.0/Packet.Bench.dll raw-echo-server --port 0" \
#     "bench/loadgen/bin/loadgen echo --port {PORT} --conns 100 --depth 16 --size 64 --seconds 3" \
#     "/tmp/loadgen echo --port {PORT} --conns 100 --depth 16 --size 64 --seconds 3 --warmup 0"
set -u
[ $# -ge 2 ] || { sed -n 2,20p "$0"; exit 2; }
SERVER=$1; shift
ROUNDS=${ROUNDS:-3}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v /usr/bin/time > /dev/null || { echo "compare.sh needs GNU time (/usr/bin/time; Debian: apt-get install time)" >&2; exit 2; }
make_loadgen() {
  [ -x "$HERE/bin/loadgen" ] && [ "$HERE/bin/loadgen" -nt "$HERE/loadgen.c" ] && return
  mkdir -p "$HERE/bin" && ${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -o "$HERE/bin/loadgen" "$HERE/loadgen.c"
}
make_loadgen || exit 2

WORK=$(mktemp -d /tmp/compare-sh.XXXXXX)
SPID=""
cleanup() {
  if [ -n "$SPID" ] && kill -0 "$SPID" 2> /dev/null; then
    kill "$SPID"
    for _ in $(seq 50); do kill -0 "$SPID" 2> /dev/null || break; sleep 0.1; done
    kill -0 "$SPID" 2> /dev/null && kill -9 "$SPID"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ticks() { # utime + stime of a process, in clock ticks; 0 once it is gone
  local s
  { read -r s < "/proc/$1/stat"; } 2> /dev/null || { echo 0; return; }
  s=${s##*) }
  set -- $s
  echo $(( ${12} + ${13} ))
}
tree_ticks() { # the process and everything below it
  local total; total=$(ticks "$1")
  for child in $(ps -o pid= --ppid "$1"); do total=$(( total + $(tree_ticks "$child") )); done
  echo "$total"
}
out_segs() { awk '$1 == "Tcp:" { if (seen) print $12; seen = 1 }' /proc/net/snmp; }
field() { # field NAME... < output: the first of the names found, as key=value or "key":value
  local line; line=$(tail -n 1)
  for name in "$@"; do
    printf '%s\n' "$line" | tr ' ,{}' '\n\n\n\n' | sed 's/"//g; s/:/=/' | awk -F= -v k="$name" '$1 == k { print $2; found = 1; exit } END { exit !found }' && return
  done
  echo ""
}

bash -c "exec $SERVER" > "$WORK/server.log" 2>&1 &
SPID=$!
PORT=""
for _ in $(seq 600); do
  PORT=$(sed -n 's/^.*listening on .*:\([0-9][0-9]*\).*$/\1/p' "$WORK/server.log" | head -n 1)
  [ -n "$PORT" ] && break
  kill -0 "$SPID" 2> /dev/null || break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "the server did not print 'listening on HOST:PORT':" >&2; cat "$WORK/server.log" >&2; exit 3; }
sleep "${SETTLE:-1}"
CLK_TCK=$(getconf CLK_TCK)

for generator in "$@"; do
  [ "${WARMUP:-1}" = 0 ] && break
  bash -c "exec ${generator//\{PORT\}/$PORT}" > /dev/null 2>&1 || { echo "the warm-up run failed: ${generator//\{PORT\}/$PORT}"; exit 1; }
done
declare -A rates
for round in $(seq "$ROUNDS"); do
  g=0
  for generator in "$@"; do
    g=$((g + 1))
    command=${generator//\{PORT\}/$PORT}
    server0=$(tree_ticks "$SPID"); segs0=$(out_segs)
    /usr/bin/time -f "%U %S" -o "$WORK/time" bash -c "exec $command" > "$WORK/out" 2> "$WORK/err"
    rc=$?
    server1=$(tree_ticks "$SPID"); segs1=$(out_segs)
    rate=$(field msgs_per_s Value < "$WORK/out")
    messages=$(field messages_all msgs_all Messages < "$WORK/out")
    errors=$(field errors < "$WORK/out")
    if [ "$rc" != 0 ] || [ -z "$rate" ] || [ -z "$messages" ] || [ "${errors:-0}" != 0 ]; then
      echo "round $round generator $g failed (exit code $rc): $(tail -n 1 "$WORK/out") $(tail -n 3 "$WORK/err")"
      exit 1
    fi
    read -r user system < <(tail -n 1 "$WORK/time")
    awk -v r="$round" -v g="$g" -v rate="$rate" -v m="$messages" -v u="$user" -v s="$system" -v s0="$server0" -v s1="$server1" \
        -v t="$CLK_TCK" -v g0="$segs0" -v g1="$segs1" 'BEGIN {
      printf "round %d generator %d: rate=%.0f gen_us/msg=%.2f (user %.2f s, system %.2f s) server_us/msg=%.2f segs/msg=%.2f\n",
             r, g, rate, (u + s) * 1e6 / m, u, s, (s1 - s0) / t * 1e6 / m, (g1 - g0) / m }'
    rates[$g,$round]=$rate
  done
done
for g in $(seq $#); do
  values=""; ratios=""
  for round in $(seq "$ROUNDS"); do
    values="$values ${rates[$g,$round]}"
    ratios="$ratios $(awk -v a="${rates[$g,$round]}" -v b="${rates[1,$round]}" 'BEGIN { printf "%.3f", a / b }')"
  done
  median() { printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  echo "generator $g: median rate $(median "$values"), ÷ generator 1 per round:$ratios, median $(median "$ratios")"
done
