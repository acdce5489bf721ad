"""Studies built on the drivers: the scenario suite with its expectations, load runs
with replications, sweeps, the sim-against-SIP diff, and distributed runs."""
