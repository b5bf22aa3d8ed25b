#!/usr/bin/env bash
# Serverless Memcached (SEEDS 003/004, issue 15): a serverless Memcached
# cache listens on 11211 and 11212, with TLS only, at one name. The seed's
# mistake first: a security group that opens 11211 only makes 11212 fail,
# and `cachalot explain` names the missing rule; the second rule fixes it.
# The client is openssl s_client speaking the memcached text protocol.
source "$(dirname "$0")/lib.sh"
use_serverless_cli
start_cachalot

SC=pages

serverless_group serverless-memcached 11211 11212

step "Create the serverless Memcached cache (default VPC subnets, data storage at most 5 GB)"
create_serverless "$SC" memcached '[Status,MajorEngineVersion,ARN]'

serverless_client

# mc PORT COMMANDS: the memcached text protocol over TLS (openssl s_client,
# verifying the endpoint's name against the CA); COMMANDS is printf's
# format, \r\n line ends; quit follows.
mc() {
  on "$INSTANCE" sh -c "(printf '$2'; sleep 0.2; printf 'quit\r\n') | timeout 5 openssl s_client -quiet -verify_return_error \
    -CAfile $CA_DIR/ca.pem -servername $HOST -connect $HOST:$1 2>/dev/null" | tr -d '\r'
}

step "Set on 11211 over TLS"
[ "$(mc 11211 'set page:1 0 0 5\r\nhello\r\n')" = STORED ] || fail "set on 11211"
echo "ok: page:1=hello"
out=$(on "$INSTANCE" bash -c "exec 3<>/dev/tcp/$HOST/11211 && printf 'version\r\n' >&3 && timeout 2 head -c 100 <&3" 2>&1 || true)
grep -q VERSION <<<"$out" && fail "plain text answered: $out"
echo "ok: plain text refused"

step "Get on 11212 fails: the group does not open 11212"
mc 11212 'get page:1\r\n' | grep -q hello && fail "11212 answered without a rule"
echo "ok: 11212 is not reachable"
out=$(cachalot explain --from "$INSTANCE" --to "$SC" --port 11212) || true
echo "$out"
grep -q "$SG" <<<"$out" || fail "explain does not name $SG"

serverless_second_rule 11212
ok=""
for _ in $(seq 1 50); do
  if [ "$(mc 11212 'get page:1\r\n')" = "$(printf 'VALUE page:1 0 5\nhello\nEND')" ]; then ok=1; break; fi
  sleep 0.2
done
[ -n "$ok" ] || fail "get on 11212 after the second rule"
echo "ok: page:1=hello read on 11212"
cachalot explain --from "$INSTANCE" --to "$SC" --port 11212 || fail "explain still denies 11212"

step "kill -9 of cachalot serve, then serve again: the running engine is re-adopted, its data kept"
NODE="$DATA_DIR/engines/000000000000.us-east-1.serverless--$SC-001.0001/cachalot-node.json"
pid_before=$(grep -o '"pid": *[0-9]*' "$NODE" | grep -o '[0-9]*$')
kill -KILL "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
rm -f "$DATA_DIR/endpoint"
start_cachalot
status=""
for _ in $(seq 1 300); do
  status=$(aws elasticache describe-serverless-caches --serverless-cache-name "$SC" --query 'ServerlessCaches[0].Status' 2>/dev/null || true)
  [ "$status" = available ] && break
  sleep 0.2
done
[ "$status" = available ] || fail "serverless cache $SC is $status after the restart"
pid_after=$(grep -o '"pid": *[0-9]*' "$NODE" | grep -o '[0-9]*$')
[ "$pid_before" = "$pid_after" ] || fail "engine pid $pid_before before, $pid_after after the restart"
[ "$(mc 11212 'get page:1\r\n')" = "$(printf 'VALUE page:1 0 5\nhello\nEND')" ] || fail "get on 11212 after the restart"
echo "ok: engine pid $pid_after re-adopted, page:1=hello"

delete_serverless "$SC"
