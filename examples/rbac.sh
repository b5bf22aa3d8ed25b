#!/usr/bin/env bash
# Role-based access control (RBAC) from the command line: users and a user
# group (the group's default user disabled, a read-only user, a writer),
# a TLS replication group using it, reached from an instance with
# redis-cli --tls --user/--pass; then a user's access string and password
# changed, and a user removed from the group, live on every member.
source "$(dirname "$0")/lib.sh"
start_cachalot

RG=rbac-orders
READER_PASSWORD='reader-Password-0001'
READER_PASSWORD2='reader-Password-0002'
WRITER_PASSWORD='writer-Password-0001'

step "Users: the group's default user (off), a reader and a writer"
aws elasticache describe-users --user-id default --query 'Users[0].[UserId,AccessString,Authentication.Type]'
aws elasticache create-user --user-id orders-default --user-name default --engine redis \
  --access-string "off" --no-password-required --query '[UserId,Status]'
aws elasticache create-user --user-id orders-reader --user-name reader --engine redis \
  --access-string "on ~orders:* -@all +get +ping" --passwords "$READER_PASSWORD" --query '[UserId,Status,Authentication.PasswordCount]'
aws elasticache create-user --user-id orders-writer --user-name writer --engine redis \
  --access-string "on ~orders:* +@all" --passwords "$WRITER_PASSWORD" --query '[UserId,Status,Authentication.PasswordCount]'
out=$("$AWSCLI" --endpoint-url "$AWS_ENDPOINT_URL" --output text elasticache create-user-group --user-group-id no-default \
  --engine redis --user-ids orders-reader 2>&1 || true)
grep -q DefaultUserRequired <<<"$out" || fail "a user group without a default user: $out"
echo "ok: a group without a user named default is refused"
aws elasticache create-user-group --user-group-id orders --engine redis \
  --user-ids orders-default orders-reader orders-writer --query '[UserGroupId,Status,UserIds]'

step "A replication group with in-transit encryption and the user group"
aws elasticache create-replication-group --replication-group-id "$RG" \
  --replication-group-description "RBAC orders" --engine redis --cache-node-type cache.t3.micro \
  --num-cache-clusters 2 --transit-encryption-enabled --user-group-ids orders \
  --query 'ReplicationGroup.[Status,UserGroupIds]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
aws elasticache describe-user-groups --user-group-id orders --query 'UserGroups[0].[Status,ReplicationGroups]'
PRIMARY=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].NodeGroups[0].PrimaryEndpoint.Address')
READER=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].NodeGroups[0].ReaderEndpoint.Address')

export_ca
DEFAULT_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')
INSTANCE=$(launch - "$DEFAULT_SG")
echo "instance $INSTANCE"

# as HOST USER PASSWORD ARGS…: redis-cli over TLS as USER ("-": no AUTH).
as() {
  local h=$1 u=$2 p=$3; shift 3
  if [ "$u" = - ]; then
    on "$INSTANCE" timeout 3 redis-cli --tls --cacert "$CA_DIR/ca.pem" -h "$h" "$@" 2>&1 || true
  else
    on "$INSTANCE" timeout 3 redis-cli --tls --cacert "$CA_DIR/ca.pem" -h "$h" --no-auth-warning --user "$u" --pass "$p" "$@" 2>&1 || true
  fi
}

step "Each user can do what its access string says, and nothing else"
[ "$(as "$PRIMARY" writer "$WRITER_PASSWORD" set orders:1 pending)" = OK ] || fail "writer SET"
out=$(as "$PRIMARY" reader "$READER_PASSWORD" set orders:1 shipped); grep -q NOPERM <<<"$out" || fail "reader SET: $out"
echo "ok: reader SET: $out"
[ "$(as "$PRIMARY" reader "$READER_PASSWORD" get orders:1)" = pending ] || fail "reader GET"
out=$(as "$PRIMARY" - - get orders:1); grep -q NOAUTH <<<"$out" || fail "no AUTH: $out"
echo "ok: without AUTH: $out"
out=$(as "$PRIMARY" reader wrong-Password-0000 ping); grep -q WRONGPASS <<<"$out" || fail "wrong password: $out"
echo "ok: wrong password: $out"
eventually 10 bash -c "[ \"\$($CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 3 redis-cli --tls --cacert $CA_DIR/ca.pem -h $READER --no-auth-warning --user reader --pass '$READER_PASSWORD' get orders:1)\" = pending ]" ||
  fail "reader GET on the reader endpoint"
echo "ok: the reader reads on the replica too"

step "Change the reader (may write, new password) and remove the writer, live"
aws elasticache modify-user --user-id orders-reader --append-access-string "+set" \
  --passwords "$READER_PASSWORD2" --query '[AccessString,Authentication.PasswordCount]'
aws elasticache modify-user-group --user-group-id orders --user-ids-to-remove orders-writer --query '[Status,UserIds]'
eventually 30 bash -c "[ \"\$(AWS_PAGER= $AWSCLI --endpoint-url $AWS_ENDPOINT_URL --output text elasticache describe-user-groups --user-group-id orders --query 'UserGroups[0].Status')\" = active ]" ||
  fail "user group not active again"
aws elasticache wait replication-group-available --replication-group-id "$RG"
[ "$(as "$PRIMARY" reader "$READER_PASSWORD2" set orders:1 shipped)" = OK ] || fail "reader SET after the change"
out=$(as "$PRIMARY" reader "$READER_PASSWORD" ping); grep -q WRONGPASS <<<"$out" || fail "old password: $out"
out=$(as "$PRIMARY" writer "$WRITER_PASSWORD" ping); grep -q WRONGPASS <<<"$out" || fail "removed writer: $out"
echo "ok: reader writes with its new password; the old one and the writer are refused"

step "Delete"
out=$("$AWSCLI" --endpoint-url "$AWS_ENDPOINT_URL" --output text elasticache delete-user-group --user-group-id orders 2>&1 || true)
grep -q InvalidUserGroupState <<<"$out" || fail "deleting a user group in use: $out"
aws elasticache delete-replication-group --replication-group-id "$RG" --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-deleted --replication-group-id "$RG"
aws elasticache delete-user-group --user-group-id orders --query '[UserGroupId,Status]'
for u in orders-reader orders-writer orders-default; do aws elasticache delete-user --user-id "$u" --query '[UserId,Status]'; done
echo "ok: deleted"
