#!/usr/bin/env bash
# Runs a command with the local stack's environment. If a stack is already
# up (make dev), its environment is reused; otherwise an in-memory stack is
# started for the command and stopped afterwards, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
env_file=.local/stack.env
gateway=${WAGUARD_GATEWAY_PORT:-3000}

if [ -f "$env_file" ] && curl -fsS -o /dev/null "http://127.0.0.1:$gateway/_local/health" 2>/dev/null; then
  echo "with-stack: reusing the running stack ($env_file)"
else
  echo "with-stack: starting an in-memory local stack"
  .local/bin/waguard-dev -quiet -env-file "$env_file" &
  pid=$!
  trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
  for _ in $(seq 1 600); do
    [ -f "$env_file" ] && break
    kill -0 $pid 2>/dev/null || { echo "with-stack: the stack failed to start; see .local/tmp/run-*/" >&2; tail -20 .local/tmp/run-*/stack.log >&2 || true; exit 1; }
    sleep 0.1
  done
  [ -f "$env_file" ] || { echo "with-stack: timed out waiting for the stack" >&2; exit 1; }
fi
# shellcheck disable=SC1090
source "$env_file"
"$@"
