#!/bin/sh
# The cost of the NAT instance of SEEDS 002 ("the NAT instance is a proxy"):
# redis-benchmark PING and SET from a client outside AWS through the NAT
# instance (Elastic IP -> internet gateway NAT -> iptables DNAT/SNAT on the
# instance -> the node) vs. from the NAT instance straight to the node,
# three rounds alternating, in one run of examples/nat-instance.sh. Needs
# root and what the walkthroughs need (make deps); builds bin/cachalot.
#   BENCH_REQUESTS   requests per redis-benchmark test (default 20000)
# Figures and their reading: docs/access-flows.md, "Tests and figures".
set -eu
cd "$(dirname "$0")/../.."
make -s build
NAT_INSTANCE_BENCH=1 exec bash examples/nat-instance.sh
