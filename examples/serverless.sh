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

step "A dedicated security group with Custom TCP 6379 from 0.0.0.0/0 (and not yet 6380)"
SG=$(aws ec2 create-security-group --group-name serverless-cache --description "serverless cache" --query GroupId)
aws ec2 authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 6379 --cidr 0.0.0.0/0 >/dev/null
echo "group $SG"

step "Create the serverless cache (default VPC subnets, data storage at most 5 GB)"
aws elasticache create-serverless-cache --serverless-cache-name "$SC" --engine redis \
  --security-group-ids "$SG" --cache-usage-limits 'DataStorage={Maximum=5,Unit=GB}' \
  --query 'ServerlessCache.[Status,ARN]'
wait_serverless "$SC"
aws elasticache describe-serverless-caches --serverless-cache-name "$SC" \
  --query 'ServerlessCaches[0].[Status,Endpoint.Address,Endpoint.Port,ReaderEndpoint.Port,FullEngineVersion]'
HOST=$(aws elasticache describe-serverless-caches --serverless-cache-name "$SC" --query 'ServerlessCaches[0].Endpoint.Address')
[[ $HOST == $SC-*.serverless.use1.cache.amazonaws.com ]] || fail "endpoint $HOST"

step "Export the installation's CA certificate for clients (cachalot ca)"
export_ca

step "An instance in the default VPC"
DEFAULT_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')
INSTANCE=$(launch - "$DEFAULT_SG")
echo "instance $INSTANCE"

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

step "The second rule: Custom TCP 6380 from 0.0.0.0/0"
aws ec2 authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 6380 --cidr 0.0.0.0/0 >/dev/null
eventually 10 bash -c "[ \"\$($CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- sh -c \"printf 'READONLY\nGET session:42\n' | timeout 3 redis-cli --tls --cacert $CA_DIR/ca.pem -h $HOST -p 6380\" | tail -1)\" = alice ]" ||
  fail "READONLY GET on 6380 after the second rule"
echo "ok: session:42=alice read from the replica on 6380"
cachalot explain --from "$INSTANCE" --to "$SC" --port 6380 || fail "explain still denies 6380"

step "Delete the serverless cache"
aws elasticache delete-serverless-cache --serverless-cache-name "$SC" --query 'ServerlessCache.Status'
for _ in $(seq 1 300); do
  aws elasticache describe-serverless-caches --serverless-cache-name "$SC" >/dev/null 2>&1 || break
  sleep 0.2
done
aws elasticache describe-serverless-caches --serverless-cache-name "$SC" >/dev/null 2>&1 && fail "not deleted after 60s"
aws elasticache describe-events --source-type serverless-cache --source-identifier "$SC" --query 'Events[].Message'
echo "ok: serverless cache deleted"
