#!/usr/bin/env bash
# IAM authentication from the command line: an ElastiCache user with
# AuthenticationMode iam in a user group of a TLS replication group, an IAM
# user allowed elasticache:Connect on the group and that user, a token
# generated with botocore (what the AWS CLI runs on), and redis-cli --tls
# from an instance with the token as the password; an expired token and a
# token for another cache are refused (WRONGPASS).
source "$(dirname "$0")/lib.sh"
start_cachalot

RG=iam-orders
ACCOUNT=$(aws sts get-caller-identity --query Account)

step "The ElastiCache users: the group's default user (off) and an IAM user"
aws elasticache create-user --user-id orders-default --user-name default --engine redis \
  --access-string "off" --no-password-required --query '[UserId,Status]'
aws elasticache create-user --user-id orders-app --user-name orders-app --engine redis \
  --access-string "on ~orders:* +@all" --authentication-mode Type=iam --query '[UserId,Status,Authentication.Type]'
aws elasticache create-user-group --user-group-id orders --engine redis \
  --user-ids orders-default orders-app --query '[UserGroupId,Status,UserIds]'

step "A TLS replication group with the user group"
aws elasticache create-replication-group --replication-group-id "$RG" \
  --replication-group-description "IAM orders" --engine redis --cache-node-type cache.t3.micro \
  --num-cache-clusters 1 --transit-encryption-enabled --user-group-ids orders --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-available --replication-group-id "$RG"
PRIMARY=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].NodeGroups[0].PrimaryEndpoint.Address')

step "An IAM user allowed elasticache:Connect on the group and the ElastiCache user"
aws iam create-user --user-name app --query 'User.Arn'
aws iam put-user-policy --user-name app --policy-name connect --policy-document "{\"Version\":\"2012-10-17\",\"Statement\":[{
  \"Effect\":\"Allow\",\"Action\":\"elasticache:Connect\",\"Resource\":[
  \"arn:aws:elasticache:us-east-1:$ACCOUNT:replicationgroup:$RG\",\"arn:aws:elasticache:us-east-1:$ACCOUNT:user:orders-app\"]}]}"
read -r APP_KEY APP_SECRET < <(aws iam create-access-key --user-name app --query 'AccessKey.[AccessKeyId,SecretAccessKey]')

# token CACHE USER [SECONDS-AGO]: an IAM authentication token signed by the
# IAM user with botocore's presigner (15 minutes).
token() {
  python3 - "$APP_KEY" "$APP_SECRET" "$1" "$2" "${3:-0}" <<'PY'
import sys, datetime
from unittest import mock
from botocore.credentials import Credentials
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
key, secret, cache, user, ago = sys.argv[1:6]
req = AWSRequest(method="GET", url=f"http://{cache}/?Action=connect&User={user}")
signer = SigV4QueryAuth(Credentials(key, secret), "elasticache", "us-east-1", expires=900)
then = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(seconds=int(ago))
with mock.patch("botocore.auth.get_current_datetime", return_value=then):  # a token signed in the past
    signer.add_auth(req)
print(req.url[len("http://"):])
PY
}

export_ca
DEFAULT_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')
INSTANCE=$(launch - "$DEFAULT_SG")
echo "instance $INSTANCE"

# as TOKEN ARGS…: redis-cli over TLS as orders-app with TOKEN as its password.
as() {
  local tok=$1; shift
  on "$INSTANCE" timeout 3 redis-cli --tls --cacert "$CA_DIR/ca.pem" -h "$PRIMARY" --no-auth-warning \
    --user orders-app --pass "$tok" "$@" 2>&1 || true
}

step "The token is the password; the access string applies"
TOKEN=$(token "$RG" orders-app)
echo "token: ${TOKEN:0:60}…"
[ "$(as "$TOKEN" set orders:1 pending)" = OK ] || fail "SET with a token"
[ "$(as "$TOKEN" get orders:1)" = pending ] || fail "GET with a token"
out=$(as "$TOKEN" set other v); grep -q NOPERM <<<"$out" || fail "SET outside the access string: $out"
echo "ok: outside the access string: $out"

step "Refused: an expired token, a token for another cache"
out=$(as "$(token "$RG" orders-app 960)" ping); grep -q WRONGPASS <<<"$out" || fail "expired token: $out"
echo "ok: a token signed 16 minutes ago: $out"
out=$(as "$(token other-rg orders-app)" ping); grep -q WRONGPASS <<<"$out" || fail "token for another cache: $out"
echo "ok: a token for another cache: $out"
