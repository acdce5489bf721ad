"""The drivers that run the call flow: simulated time (`simulation`), the SIP replay
(`sip_replay`) and the live system (`serve`), with their clocks and timers.

Every driver wires its switchboard with `reference_impl.wiring.wire`.
"""
