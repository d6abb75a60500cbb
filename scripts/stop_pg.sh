#!/usr/bin/env bash
# stop_pg.sh PIDFILE...: stop the process group whose leader's pid is in each PIDFILE, then remove it.
# Escalates TERM, INT, INT, KILL (3 s each): the Prefect worker ignores the first TERM/INT and
# stops on a second INT. Groups were started with setsid, so the whole tree (server, worker,
# flow runs started by the worker's process group) goes. Missing or stale pid files are fine.
set -u
status=0
for f in "$@"; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if ! [[ "$pid" =~ ^[0-9]+$ ]]; then rm -f "$f"; continue; fi
  alive() { kill -0 -- "-$pid" 2>/dev/null; }
  for sig in TERM INT INT KILL; do
    alive || break
    kill -s "$sig" -- "-$pid" 2>/dev/null
    for _ in $(seq 30); do alive || break; sleep 0.1; done
  done
  if alive; then echo "stop_pg.sh: process group $pid is still alive" >&2; status=1; else rm -f "$f"; fi
done
exit $status
