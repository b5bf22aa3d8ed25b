#!/bin/sh
# Runs every fuzz target of the tree for FUZZTIME each (default 1000000x:
# one million executions, Go's count form of -fuzztime) and prints the
# executions and the outcome of each. `make fuzz` runs it; it is not part
# of `make test` (which replays the committed corpora in testdata/fuzz).
#
# A finding is written by Go to <package>/testdata/fuzz/<Target>/: fix it
# and commit the file, so the regular tests replay it for ever.
set -u
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-1000000x}
# Interesting inputs are minimised for at most this many executions (the
# default, 60 s each, leaves the counter standing still for minutes).
FUZZMINIMIZE=${FUZZMINIMIZE:-2000x}
TARGETS=${FUZZ_TARGETS:-"
internal/awsproto:FuzzDecode
internal/awsproto:FuzzDecodeCBOR
internal/sigv4:FuzzParse
internal/iam/policy:FuzzParse
internal/iam/policy:FuzzEvaluate
internal/ec2:FuzzFilters
internal/app:FuzzHandler
"}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
summary=""
failed=0
for t in $TARGETS; do
	pkg=${t%%:*}
	fn=${t##*:}
	echo "== $fn ($pkg), fuzztime $FUZZTIME"
	start=$(date +%s)
	if $GO test -timeout 0 -run '^$' -fuzz "^$fn\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZE" "./$pkg" >"$log" 2>&1; then
		result=ok
	else
		result=FAIL
		failed=1
	fi
	tail -n 20 "$log"
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	summary="$summary$(printf '%-14s %-22s %10s executions %6ss  %s' "$fn" "$pkg" "${execs:-?}" "$(($(date +%s) - start))" "$result")
"
done
echo
echo "fuzz summary (FUZZTIME=$FUZZTIME):"
printf '%s' "$summary"
exit $failed
