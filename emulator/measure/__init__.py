"""Measurement: the catalogue of metrics, streamed series, levels, and a run's summary.

`measure` imports neither `studies` nor `cli`: it is read by both.
"""
