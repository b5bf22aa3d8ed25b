# Shared helpers of the walkthroughs in this directory; sourced, not run.
#
# Each walkthrough starts its own Cachalot (`cachalot serve` on a free
# loopback port, a temporary data dir), drives it with Debian's AWS CLI v2
# and runs real clients inside instances with `cachalot exec`. Everything it
# started is removed on exit, even on failure (trap: stop the service, then
# `cachalot teardown` removes its engines, namespaces and nft tables).
#
# Needs root on Linux (namespaces), the AWS CLI v2 at /usr/bin/aws,
# redis-tools and libmemcached-tools. CACHALOT names the binary (default:
# bin/cachalot of this repository).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHALOT=${CACHALOT:-$HERE/../bin/cachalot}
AWSCLI=${AWSCLI:-/usr/bin/aws}
[ -x "$CACHALOT" ] || { echo "no cachalot binary at $CACHALOT (run 'make build' or set CACHALOT)" >&2; exit 1; }
[ -x "$AWSCLI" ] || { echo "no AWS CLI v2 at $AWSCLI (apt-get install awscli)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root: the walkthroughs run instances in network namespaces" >&2; exit 1; }

DATA_DIR=$(mktemp -d /tmp/cachalot-example.XXXXXX)
SERVE_PID=""
CA_DIR=""

cleanup() {
  local rc=$?
  set +e
  if [ -n "$SERVE_PID" ]; then
    kill -TERM "$SERVE_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVE_PID" 2>/dev/null
    wait "$SERVE_PID" 2>/dev/null
  fi
  "$CACHALOT" teardown --data-dir "$DATA_DIR" >/dev/null 2>&1
  if [ $rc -ne 0 ] && [ -f "$DATA_DIR/serve.log" ]; then
    echo "---- cachalot serve log (last 30 lines) ----" >&2
    tail -n 30 "$DATA_DIR/serve.log" >&2
  fi
  rm -rf "$DATA_DIR"
  [ -z "$CA_DIR" ] || rm -rf "$CA_DIR"
  if [ $rc -eq 0 ]; then echo "PASS: $(basename "$0")"; else echo "FAIL: $(basename "$0") (exit $rc)" >&2; fi
  exit $rc
}
trap cleanup EXIT INT TERM

step() { echo; echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# start_cachalot: serve on a free port (the kernel picks it) and export the
# AWS_* variables for it.
start_cachalot() {
  "$CACHALOT" serve --listen 127.0.0.1:0 --data-dir "$DATA_DIR" --log-level warn >"$DATA_DIR/serve.log" 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 1 100); do
    [ -s "$DATA_DIR/endpoint" ] && break
    kill -0 "$SERVE_PID" 2>/dev/null || fail "cachalot serve exited: $(cat "$DATA_DIR/serve.log")"
    sleep 0.1
  done
  [ -s "$DATA_DIR/endpoint" ] || fail "cachalot serve did not start in 10s"
  eval "$("$CACHALOT" env --data-dir "$DATA_DIR")"
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" AWS_MAX_ATTEMPTS=1
  echo "cachalot serving at $AWS_ENDPOINT_URL (data dir $DATA_DIR)"
}

# aws: Debian's AWS CLI v2 ignores AWS_ENDPOINT_URL, hence --endpoint-url.
aws() { "$AWSCLI" --endpoint-url "$AWS_ENDPOINT_URL" --output text "$@"; }

cachalot() { "$CACHALOT" "$1" --data-dir "$DATA_DIR" "${@:2}"; }

# on INSTANCE CMD…: run CMD inside the instance's network.
on() { local i=$1; shift; "$CACHALOT" exec --data-dir "$DATA_DIR" --instance "$i" -- "$@"; }

# wait_cluster ID: until the cluster is available (60s at most); prints
# "address port" of its first node.
wait_cluster() {
  local status=""
  for _ in $(seq 1 300); do
    status=$(aws elasticache describe-cache-clusters --cache-cluster-id "$1" --query 'CacheClusters[0].CacheClusterStatus')
    [ "$status" = available ] && break
    sleep 0.2
  done
  [ "$status" = available ] || fail "cluster $1 is $status after 60s"
  aws elasticache describe-cache-clusters --cache-cluster-id "$1" --show-cache-node-info \
    --query 'CacheClusters[0].CacheNodes[0].Endpoint.[Address,Port]'
}

# wait_serverless NAME: until the serverless cache is available (60s at most).
wait_serverless() {
  local status=""
  for _ in $(seq 1 300); do
    status=$(aws elasticache describe-serverless-caches --serverless-cache-name "$1" --query 'ServerlessCaches[0].Status')
    [ "$status" = available ] && break
    sleep 0.2
  done
  [ "$status" = available ] || fail "serverless cache $1 is $status after 60s"
}

# use_serverless_cli: serverless commands came to the AWS CLI with botocore
# 1.32; use an AWS CLI that has them (Debian 12's /usr/bin/aws does not).
use_serverless_cli() {
  local c
  for c in "$AWSCLI" $(type -ap aws); do
    if "$c" elasticache create-serverless-cache help >/dev/null 2>&1; then AWSCLI=$c; break; fi
  done
  "$AWSCLI" elasticache create-serverless-cache help >/dev/null 2>&1 ||
    fail "no AWS CLI with the serverless commands (pip install awscli>=1.31, or AWS CLI v2)"
}

# export_ca: the installation's CA certificate (cachalot ca) in
# $CA_DIR/ca.pem, readable by the clients on instances; removed on exit.
export_ca() {
  CA_DIR=$(mktemp -d /tmp/cachalot-ca.XXXXXX)
  chmod 755 "$CA_DIR"
  cachalot ca >"$CA_DIR/ca.pem"
  chmod 644 "$CA_DIR/ca.pem"
}

# The serverless walkthroughs' shared steps (serverless.sh,
# serverless-memcached.sh). They set SG, HOST and INSTANCE.

# serverless_group NAME PORT NEXT: the seed's dedicated security group NAME
# (described as NAME with spaces) opening Custom TCP PORT from 0.0.0.0/0,
# and not yet NEXT; sets SG.
serverless_group() {
  step "A dedicated security group with Custom TCP $2 from 0.0.0.0/0 (and not yet $3)"
  SG=$(aws ec2 create-security-group --group-name "$1" --description "${1//-/ }" --query GroupId)
  aws ec2 authorize-security-group-ingress --group-id "$SG" --protocol tcp --port "$2" --cidr 0.0.0.0/0 >/dev/null
  echo "group $SG"
}

# serverless_second_rule PORT: the rule the seed forgot, Custom TCP PORT
# from 0.0.0.0/0 in SG.
serverless_second_rule() {
  step "The second rule: Custom TCP $1 from 0.0.0.0/0"
  aws ec2 authorize-security-group-ingress --group-id "$SG" --protocol tcp --port "$1" --cidr 0.0.0.0/0 >/dev/null
}

# create_serverless NAME ENGINE FIELDS: a serverless cache in SG (default
# VPC subnets, data storage at most 5 GB), printing FIELDS of the answer
# (a query on ServerlessCache); waits until it is available and sets HOST
# to its endpoint's name.
create_serverless() {
  aws elasticache create-serverless-cache --serverless-cache-name "$1" --engine "$2" \
    --security-group-ids "$SG" --cache-usage-limits 'DataStorage={Maximum=5,Unit=GB}' \
    --query "ServerlessCache.$3"
  wait_serverless "$1"
  aws elasticache describe-serverless-caches --serverless-cache-name "$1" \
    --query 'ServerlessCaches[0].[Status,Endpoint.Address,Endpoint.Port,ReaderEndpoint.Port,FullEngineVersion]'
  HOST=$(aws elasticache describe-serverless-caches --serverless-cache-name "$1" --query 'ServerlessCaches[0].Endpoint.Address')
  [[ $HOST == $1-*.serverless.use1.cache.amazonaws.com ]] || fail "endpoint $HOST"
}

# serverless_client: the CA certificate for clients (export_ca) and an
# instance in the default VPC's default group; sets INSTANCE.
serverless_client() {
  step "Export the installation's CA certificate for clients (cachalot ca)"
  export_ca
  step "An instance in the default VPC"
  local default_sg
  default_sg=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')
  INSTANCE=$(launch - "$default_sg")
  echo "instance $INSTANCE"
}

# delete_serverless NAME: delete the serverless cache, wait until it is
# gone (60s at most) and print its events.
delete_serverless() {
  step "Delete the serverless cache"
  aws elasticache delete-serverless-cache --serverless-cache-name "$1" --query 'ServerlessCache.Status'
  for _ in $(seq 1 300); do
    aws elasticache describe-serverless-caches --serverless-cache-name "$1" >/dev/null 2>&1 || break
    sleep 0.2
  done
  aws elasticache describe-serverless-caches --serverless-cache-name "$1" >/dev/null 2>&1 && fail "not deleted after 60s"
  aws elasticache describe-events --source-type serverless-cache --source-identifier "$1" --query 'Events[].Message'
  echo "ok: serverless cache deleted"
}

# launch SUBNET_OR_- GROUP…: a running instance; prints its id.
launch() {
  local subnet=$1; shift
  local args=(--image-id ami-12345678 --instance-type t3.micro --count 1 --security-group-ids "$@")
  [ "$subnet" = - ] || args+=(--subnet-id "$subnet")
  local id
  id=$(aws ec2 run-instances "${args[@]}" --query 'Instances[0].InstanceId')
  for _ in $(seq 1 100); do
    on "$id" true 2>/dev/null && { echo "$id"; return; }
    sleep 0.1
  done
  fail "instance $id has no network after 10s"
}

# eventually N CMD…: CMD succeeds within N seconds (rules reach the kernel
# through the reconciler, asynchronously).
eventually() {
  local n=$1; shift
  local end=$((SECONDS + n))
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    [ $SECONDS -ge $end ] && return 1
    sleep 0.2
  done
}

# never N CMD…: CMD fails within N seconds (after a revoke, the kernel
# follows within the reconciler's delay).
never() {
  local n=$1; shift
  local end=$((SECONDS + n))
  while :; do
    "$@" >/dev/null 2>&1 || return 0
    [ $SECONDS -ge $end ] && return 1
    sleep 0.2
  done
}

redis_ping() { [ "$(on "$1" timeout 2 redis-cli -h "$2" -p "${3:-6379}" ping 2>/dev/null)" = PONG ]; }
# (Output is captured before grep -q: with pipefail, a writer killed by SIGPIPE when grep -q stops
# reading early would fail the whole check now and then.)
memcached_ping() { grep -q '^Server:' <<<"$(on "$1" timeout 2 memcstat --servers="$2:${3:-11211}" 2>/dev/null)"; }

expect_denied() { # what CMD…
  local what=$1; shift
  never 3 "$@" || fail "$what: connected, expected to be denied"
  echo "ok: $what is denied"
}
expect_allowed() { # what CMD…
  local what=$1; shift
  eventually 15 "$@" || fail "$what: denied, expected to connect"
  echo "ok: $what connects"
}

# explain_says PATTERN INSTANCE CACHE: `cachalot explain` (exit 3 when
# denied) prints PATTERN.
explain_says() {
  local out
  out=$(cachalot explain --from "$2" --to "$3") || true
  echo "$out"
  grep -q -- "$1" <<<"$out" || fail "explain does not say '$1'"
}
