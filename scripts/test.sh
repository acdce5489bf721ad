#!/bin/sh
# The whole test suite, as `make test` runs it. The QA suite over real SIP
# (tests/test_sip_mode.py, about two minutes) waits on real SIP timers and uses
# little CPU, so it runs beside the rest instead of after it; its output is
# printed when both are done, and either failing fails the run.
VENV=${VENV:-.venv}
sip_log=$(mktemp)
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/test_sip_mode.py >"$sip_log" 2>&1 &
sip=$!
"$VENV/bin/python" -m pytest -q -p no:cacheprovider --ignore=tests/test_sip_mode.py "$@"
rest=$?
wait "$sip"
sip_status=$?
echo "--- tests/test_sip_mode.py (run beside the rest) ---"
cat "$sip_log"
rm -f "$sip_log"
[ "$rest" -eq 0 ] && [ "$sip_status" -eq 0 ]
