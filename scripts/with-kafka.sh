#!/usr/bin/env bash
# Run a command with the local Kafka broker up, e.g. `scripts/with-kafka.sh .venv/bin/python -m pytest`.
#
# Starts the broker (scripts/kafka.sh) when nothing answers on KAFKA_BOOTSTRAP, runs the
# command, and stops the broker afterwards only if this run started it and no other run in
# the same tree still uses it (leases: see scripts/kafka.sh). Exits with the command's exit
# status. SIGTERM/SIGHUP/SIGINT are passed on to the command and the broker is still cleaned up.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA="$ROOT/scripts/kafka.sh"

if [[ $# -eq 0 ]]; then
  echo "usage: scripts/with-kafka.sh COMMAND [ARGS...]" >&2
  exit 64
fi

child=""
released=0
release() {
  [[ $released -eq 1 ]] && return 0
  released=1
  "$KAFKA" release $$ || echo "with-kafka.sh: releasing the broker failed" >&2
}
trap release EXIT

in_terminal_foreground() { # a Ctrl-C from the terminal already reached the command too
  [[ -t 0 ]] || return 1
  local tpgid pgid
  tpgid="$(ps -o tpgid= -p $$ 2>/dev/null | tr -d ' ')"
  pgid="$(ps -o pgid= -p $$ 2>/dev/null | tr -d ' ')"
  [[ -n "$tpgid" && "$tpgid" == "$pgid" ]]
}

forward() {
  local sig="$1"
  [[ -n "$child" ]] || exit 130
  if [[ "$sig" == INT ]] && in_terminal_foreground; then
    return 0
  fi
  kill -s "$sig" "$child" 2>/dev/null || true
}
trap 'forward INT' INT
trap 'forward TERM' TERM
trap 'forward TERM' HUP

# In the background so that signals reach this script while the command runs; `trap -`
# restores SIGINT/SIGQUIT, which bash ignores in background jobs, and <&0 keeps stdin.
"$KAFKA" acquire $$ || { echo "with-kafka.sh: could not start the Kafka broker" >&2; exit 1; }
( trap - INT QUIT; exec "$@" ) <&0 &
child=$!

rc=0
while :; do
  wait "$child"
  rc=$?
  # wait returns early (status > 128) when a trapped signal arrives: wait again
  if [[ $rc -gt 128 ]] && kill -0 "$child" 2>/dev/null; then continue; fi
  break
done
if [[ $rc -gt 128 ]]; then # the child may have exited just as the signal came
  wait "$child" 2>/dev/null
  last=$?
  [[ $last -ne 127 ]] && rc=$last
fi
exit "$rc"
