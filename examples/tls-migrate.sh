#!/usr/bin/env bash
# Enabling in-transit encryption on an existing replication group, in the
# two steps ElastiCache documents, without downtime: a group created
# without TLS is modified to TransitEncryptionEnabled with
# TransitEncryptionMode preferred (plaintext and TLS on the same port, old
# names kept), clients move to `redis-cli --tls --cacert`, then the group
# is modified to required (plaintext refused). The data written before
# TLS is there at every step, through a kill -9 of cachalot serve in
# preferred (the engines re-adopted, the fronts served again).
source "$(dirname "$0")/lib.sh"
start_cachalot

RG=sessions

step "A group without TLS, and a key written in plaintext"
aws elasticache create-replication-group --replication-group-id "$RG" \
  --replication-group-description "TLS later" --engine redis --cache-node-type cache.t3.micro \
  --num-cache-clusters 2 --query 'ReplicationGroup.[Status,TransitEncryptionEnabled]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
OLD_PRIMARY=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].NodeGroups[0].PrimaryEndpoint.Address')
DEFAULT_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')
INSTANCE=$(launch - "$DEFAULT_SG")
export_ca
plain() { on "$INSTANCE" timeout 3 redis-cli -h "$@"; }
tls() { on "$INSTANCE" timeout 3 redis-cli --tls --cacert "$CA_DIR/ca.pem" -h "$@"; }
eventually 10 bash -c "[ \"\$($CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 3 redis-cli -h $OLD_PRIMARY set session:42 alice)\" = OK ]" ||
  fail "SET in plaintext on $OLD_PRIMARY"
echo "ok: session:42=alice on $OLD_PRIMARY, plaintext"

step "Refused: required straight away (two steps), a mode without enabling"
out=$("$AWSCLI" --endpoint-url "$AWS_ENDPOINT_URL" --output text elasticache modify-replication-group --replication-group-id "$RG" \
  --transit-encryption-enabled --transit-encryption-mode required --apply-immediately 2>&1 || true)
grep -q InvalidParameterCombination <<<"$out" || fail "required straight away: $out"
echo "ok: refused:${out//$'\n'/ }"
out=$("$AWSCLI" --endpoint-url "$AWS_ENDPOINT_URL" --output text elasticache modify-replication-group --replication-group-id "$RG" \
  --transit-encryption-mode preferred --apply-immediately 2>&1 || true)
grep -q "set encryption-in-transit as enabled" <<<"$out" || fail "a mode without enabling: $out"
echo "ok: refused:${out//$'\n'/ }"

step "Step 1: TransitEncryptionEnabled, TransitEncryptionMode preferred"
aws elasticache modify-replication-group --replication-group-id "$RG" --transit-encryption-enabled \
  --transit-encryption-mode preferred --apply-immediately \
  --query 'ReplicationGroup.[Status,TransitEncryptionEnabled,PendingModifiedValues.TransitEncryptionMode]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
aws elasticache describe-replication-groups --replication-group-id "$RG" \
  --query 'ReplicationGroups[0].[TransitEncryptionEnabled,TransitEncryptionMode,NodeGroups[0].PrimaryEndpoint.Address]'
PRIMARY=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].NodeGroups[0].PrimaryEndpoint.Address')
[[ $PRIMARY == master.$RG.* ]] || fail "not the TLS endpoint layout: $PRIMARY"
eventually 10 bash -c "[ \"\$($CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 3 redis-cli --tls --cacert $CA_DIR/ca.pem -h $PRIMARY get session:42)\" = alice ]" ||
  fail "GET over TLS on $PRIMARY"
echo "ok: TLS on $PRIMARY: session:42=$(tls "$PRIMARY" get session:42)"
[ "$(plain "$PRIMARY" get session:42)" = alice ] || fail "plaintext on $PRIMARY in preferred"
echo "ok: plaintext on the same port: session:42=$(plain "$PRIMARY" get session:42)"
[ "$(plain "$OLD_PRIMARY" get session:42)" = alice ] || fail "plaintext on the old name $OLD_PRIMARY in preferred"
echo "ok: the old name $OLD_PRIMARY still answers in plaintext"

step "kill -9 of cachalot serve, then serve again: engines re-adopted, the port serves both again"
NODE="$DATA_DIR/engines/000000000000.us-east-1.$RG-001.0001/cachalot-node.json"
pid_before=$(grep -o '"pid": *[0-9]*' "$NODE" | grep -o '[0-9]*$')
kill -KILL "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
rm -f "$DATA_DIR/endpoint"
start_cachalot
aws elasticache wait replication-group-available --replication-group-id "$RG"
eventually 20 bash -c "[ \"\$($CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 3 redis-cli -h $PRIMARY get session:42)\" = alice ]" ||
  fail "plaintext on $PRIMARY after the restart"
[ "$(tls "$PRIMARY" get session:42)" = alice ] || fail "TLS on $PRIMARY after the restart"
pid_after=$(grep -o '"pid": *[0-9]*' "$NODE" | grep -o '[0-9]*$')
[ "$pid_before" = "$pid_after" ] || fail "engine pid $pid_before before, $pid_after after the restart"
echo "ok: engine pid $pid_after re-adopted; plaintext and TLS on $PRIMARY again"

step "Step 2: TransitEncryptionMode required"
aws elasticache modify-replication-group --replication-group-id "$RG" --transit-encryption-mode required --apply-immediately \
  --query 'ReplicationGroup.[Status,PendingModifiedValues.TransitEncryptionMode]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].[TransitEncryptionEnabled,TransitEncryptionMode]'
[ "$(tls "$PRIMARY" get session:42)" = alice ] || fail "TLS on $PRIMARY in required"
echo "ok: TLS: session:42=$(tls "$PRIMARY" get session:42)"
out=$(plain "$PRIMARY" ping 2>&1 || true)
[ "$out" != PONG ] || fail "plaintext answered in required"
echo "ok: plaintext refused: ${out:-connection closed}"

step "Delete the group"
aws elasticache delete-replication-group --replication-group-id "$RG" --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-deleted --replication-group-id "$RG"
echo "ok: group deleted"
