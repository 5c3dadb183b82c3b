#!/usr/bin/env bash
# Runs a command with the local stack's environment. If a stack is already
# up (make dev), its environment is reused; otherwise an in-memory stack is
# started for the command and stopped afterwards, whatever the outcome.
#
# WAGUARD_PORT_BASE=N puts a private stack on ports N (gateway) to N+5
# (DynamoDB, KMS, Secrets Manager, sandbox, moto), so that two checkouts can
# test side by side; unset, the stack uses make dev's ports (3000,
# 8000-8004).
set -euo pipefail
cd "$(dirname "$0")/.."
env_file=.local/stack.env
flags=()
if [ -n "${WAGUARD_PORT_BASE:-}" ]; then
  b=$WAGUARD_PORT_BASE
  gateway=$b
  flags=(-gateway-port "$b" -dynamodb-port $((b + 1)) -kms-port $((b + 2)) -secrets-port $((b + 3)) -sandbox-port $((b + 4))
    -moto-port $((b + 5)))
else
  gateway=${WAGUARD_GATEWAY_PORT:-3000}
fi

if [ -f "$env_file" ] && curl -fsS -o /dev/null "http://127.0.0.1:$gateway/_local/health" 2>/dev/null; then
  echo "with-stack: reusing the running stack ($env_file)"
  export WAGUARD_STACK_REUSED=1 # its IAM record predates the command (devstack/cmd/iamcheck)
else
  echo "with-stack: starting an in-memory local stack"
  rm -f "$env_file"
  .local/bin/waguard-dev -quiet -env-file "$env_file" ${flags[@]+"${flags[@]}"} &
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
