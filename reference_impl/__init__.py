"""The web-callback system: call flow, directory, codes, records, ports."""
