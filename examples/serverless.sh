#!/usr/bin/env bash
# Serverless caches (SEEDS 003/004, issue 15): a serverless Valkey/Redis OSS
# cache listens on 6379 (writes and strongly consistent reads) and 6380
# (reads from replicas), with TLS only. The seed's mistake first: a
# security group that opens 6379 only makes reads on 6380 fail, and
# `cachalot explain` names the missing rule; the second rule fixes it.
source "$(dirname "$0")/lib.sh"
use_serverless_cli
start_cachalot

SC=sessions

serverless_group serverless-cache 6379 6380

step "Create the serverless cache (default VPC subnets, data storage at most 5 GB)"
create_serverless "$SC" redis '[Status,ARN]'

serverless_client

# tcli PORT ARGS…: redis-cli over TLS trusting the CA, cluster mode.
tcli() { local p=$1; shift; on "$INSTANCE" timeout 3 redis-cli --tls --cacert "$CA_DIR/ca.pem" -h "$HOST" -p "$p" -c "$@"; }
# replica_get KEY: READONLY then GET on 6380, one connection.
replica_get() { on "$INSTANCE" sh -c "printf 'READONLY\nGET $1\n' | timeout 3 redis-cli --tls --cacert $CA_DIR/ca.pem -h $HOST -p 6380" | tail -1; }

step "Write on 6379 with redis-cli --tls -c"
[ "$(tcli 6379 set session:42 alice)" = OK ] || fail "SET on 6379"
echo "ok: session:42=alice"
tcli 6379 cluster slots
out=$(tcli 6379 select 1 2>&1 || true)
grep -q "not allowed in cluster mode" <<<"$out" || fail "SELECT 1: $out"
echo "ok: SELECT 1 refused: $out"
out=$(on "$INSTANCE" timeout 3 redis-cli -h "$HOST" -p 6379 ping 2>&1 || true)
[ "$out" != PONG ] || fail "plain text answered"
echo "ok: plain text refused: ${out:-connection closed}"

step "Reads from replicas on 6380 fail: the group does not open 6380"
[ "$(replica_get session:42 2>/dev/null)" != alice ] || fail "6380 answered without a rule"
echo "ok: 6380 is not reachable"
out=$(cachalot explain --from "$INSTANCE" --to "$SC" --port 6380) || true
echo "$out"
grep -q "$SG" <<<"$out" || fail "explain does not name $SG"

serverless_second_rule 6380
eventually 10 bash -c "[ \"\$($CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- sh -c \"printf 'READONLY\nGET session:42\n' | timeout 3 redis-cli --tls --cacert $CA_DIR/ca.pem -h $HOST -p 6380\" | tail -1)\" = alice ]" ||
  fail "READONLY GET on 6380 after the second rule"
echo "ok: session:42=alice read from the replica on 6380"
cachalot explain --from "$INSTANCE" --to "$SC" --port 6380 || fail "explain still denies 6380"

delete_serverless "$SC"
