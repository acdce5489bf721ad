#!/bin/sh
# System packages the test suite needs: SIPp (Debian `sip-tester`) for the real
# SIP phones; baresip, a real softphone the PBX must bridge (tests/test_sip_bridge.py,
# tests/test_rtp.py); tshark, to see the phones' RTP on loopback (tests/test_rtp.py);
# the PostgreSQL server (Debian `postgresql`) for the records tests,
# which start a throwaway cluster from /usr/lib/postgresql/<version>/bin (off
# PATH, hence dpkg). Installed with apt when missing; a machine that cannot (no
# root, no apt) runs the suite anyway and the tests say why they skip.
set -eu
missing=""
command -v sipp >/dev/null 2>&1 || missing="$missing sip-tester"
command -v baresip >/dev/null 2>&1 || missing="$missing baresip"
command -v tshark >/dev/null 2>&1 || missing="$missing tshark"
command -v tc >/dev/null 2>&1 || missing="$missing iproute2"     # tests/test_tc_tbf.py
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"   # tests/test_browser.py
dpkg -s postgresql 2>/dev/null | grep -q "^Status: install ok installed" || missing="$missing postgresql"
[ -z "$missing" ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
    echo "system-deps: cannot install$missing (needs root and apt-get); SIP and PostgreSQL tests will skip" >&2
fi
