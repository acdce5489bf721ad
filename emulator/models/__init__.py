"""The world around the system, as models that take plain arguments.

People and agents (`people`, `phonebook`, `desks`), distributions and random
streams, arrivals, the emulated PBX and SIPp phones (`pbx/`), room servers
(`rooms/`), links and room traffic (`network/`). Models run on the `Clock`
of either time domain and never import `scenario`, `drivers`, `studies` or
`cli`.
"""
