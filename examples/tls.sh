#!/usr/bin/env bash
# Command-line access with in-transit encryption (SEEDS 003/004): a
# replication group created with TLS and an AUTH token, reached from an
# instance with `redis-cli --tls --cacert` trusting the installation's CA
# (`cachalot ca`), refused without the CA and in plain text; then the AUTH
# token rotated the way the ElastiCache user guide does it (ROTATE: old and
# new both accepted; SET: the new one only).
source "$(dirname "$0")/lib.sh"
start_cachalot

RG=secure-sessions
TOKEN1='first-Token-0123456789'
TOKEN2='second-Token-0123456789!'

step "Create the group with in-transit encryption and an AUTH token"
aws elasticache create-replication-group --replication-group-id "$RG" \
  --replication-group-description "TLS sessions" --engine redis --cache-node-type cache.t3.micro \
  --num-cache-clusters 2 --transit-encryption-enabled --auth-token "$TOKEN1" \
  --query 'ReplicationGroup.[Status,TransitEncryptionEnabled,AuthTokenEnabled]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
aws elasticache describe-replication-groups --replication-group-id "$RG" \
  --query 'ReplicationGroups[0].[TransitEncryptionEnabled,TransitEncryptionMode,AuthTokenEnabled,NodeGroups[0].PrimaryEndpoint.Address,NodeGroups[0].ReaderEndpoint.Address]'
PRIMARY=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].NodeGroups[0].PrimaryEndpoint.Address')
READER=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].NodeGroups[0].ReaderEndpoint.Address')
[[ $PRIMARY == master.$RG.* && $READER == replica.$RG.* ]] || fail "not the TLS endpoint layout: $PRIMARY $READER"

step "Export the installation's CA certificate for clients (cachalot ca)"
export_ca
openssl x509 -in "$CA_DIR/ca.pem" -noout -subject 2>/dev/null || head -1 "$CA_DIR/ca.pem"

step "An instance in the default VPC, in the default group"
DEFAULT_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')
INSTANCE=$(launch - "$DEFAULT_SG")
echo "instance $INSTANCE"

# rcli HOST TOKEN ARGS…: redis-cli over TLS trusting the CA, as TOKEN.
rcli() { local h=$1 tok=$2; shift 2; on "$INSTANCE" timeout 3 redis-cli --tls --cacert "$CA_DIR/ca.pem" -h "$h" --no-auth-warning -a "$tok" "$@"; }

step "redis-cli --tls --cacert: write on the primary, read on the replica"
[ "$(rcli "$PRIMARY" "$TOKEN1" set session:42 alice)" = OK ] || fail "SET over TLS"
eventually 10 bash -c "[ \"\$($CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 3 redis-cli --tls --cacert $CA_DIR/ca.pem -h $READER --no-auth-warning -a '$TOKEN1' get session:42)\" = alice ]" ||
  fail "GET over TLS on the reader endpoint"
echo "ok: session:42=alice over TLS, replicated over TLS"

step "Refused: no AUTH token, no CA, plain text"
out=$(on "$INSTANCE" timeout 3 redis-cli --tls --cacert "$CA_DIR/ca.pem" -h "$PRIMARY" get session:42 2>&1 || true)
grep -q NOAUTH <<<"$out" || fail "GET without the token: $out"
echo "ok: without the token: $out"
out=$(on "$INSTANCE" timeout 3 redis-cli --tls -h "$PRIMARY" --no-auth-warning -a "$TOKEN1" ping 2>&1 || true)
[ "$out" != PONG ] || fail "TLS without trusting the CA answered"
echo "ok: without the CA: $out"
out=$(on "$INSTANCE" timeout 3 redis-cli -h "$PRIMARY" --no-auth-warning -a "$TOKEN1" ping 2>&1 || true)
[ "$out" != PONG ] || fail "plain text answered (mode required)"
echo "ok: plain text: ${out:-connection closed}"

step "Rotate the AUTH token: ROTATE (both accepted), then SET (the new one only)"
out=$("$AWSCLI" --endpoint-url "$AWS_ENDPOINT_URL" --output text elasticache modify-replication-group --replication-group-id "$RG" \
  --auth-token "$TOKEN2" --auth-token-update-strategy SET --apply-immediately 2>&1 || true)
grep -q InvalidParameterCombination <<<"$out" || fail "SET without a prior ROTATE: $out"
echo "ok: SET before ROTATE refused"
aws elasticache modify-replication-group --replication-group-id "$RG" --auth-token "$TOKEN2" \
  --auth-token-update-strategy ROTATE --apply-immediately --query 'ReplicationGroup.[Status,PendingModifiedValues.AuthTokenStatus]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
[ "$(rcli "$PRIMARY" "$TOKEN1" get session:42)" = alice ] || fail "the old token after ROTATE"
[ "$(rcli "$PRIMARY" "$TOKEN2" get session:42)" = alice ] || fail "the new token after ROTATE"
echo "ok: old and new tokens both accepted"
aws elasticache modify-replication-group --replication-group-id "$RG" --auth-token "$TOKEN2" \
  --auth-token-update-strategy SET --apply-immediately --query 'ReplicationGroup.[Status,PendingModifiedValues.AuthTokenStatus]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
out=$(rcli "$PRIMARY" "$TOKEN1" get session:42 2>&1 || true)
grep -q WRONGPASS <<<"$out" || fail "the old token after SET: $out"
[ "$(rcli "$PRIMARY" "$TOKEN2" get session:42)" = alice ] || fail "the new token after SET"
echo "ok: after SET only the new token: old gets $out"
aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].[AuthTokenEnabled,AuthTokenLastModifiedDate]'

step "Delete the group"
aws elasticache delete-replication-group --replication-group-id "$RG" --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-deleted --replication-group-id "$RG"
echo "ok: group deleted"
