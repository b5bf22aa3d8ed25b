#!/bin/sh
# Benchmarks of internal/netplane; needs root, nft, nsenter and, for the
# redis part, redis-server and redis-benchmark (apt-get install -y nftables
# redis-server redis-tools). Figures and their reading: internal/netplane/BENCH.md.
#   BENCHTIME    iterations of the Go benchmarks (default 100x)
#   REDIS=0      skip the redis-benchmark comparison
#   NETPLANE_REDIS_N, NETPLANE_REDIS_REPEAT  requests per run (200000), pairs per cell (3)
set -eu
cd "$(dirname "$0")/../.."
go test -count=1 -run '^$' -bench . -benchtime "${BENCHTIME:-100x}" ./internal/netplane/
if [ "${REDIS:-1}" != 0 ]; then
	NETPLANE_REDIS_BENCH=1 go test -count=1 -timeout 30m -run '^TestRedisThroughEnforcement$' -v ./internal/netplane/
fi
