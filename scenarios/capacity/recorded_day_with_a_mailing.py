#!/usr/bin/env python3
"""Writes recorded_day_with_a_mailing.csv, the traffic of that study.

A stand-in for a day exported from the production web form (no real data
ships here): a working day of requests as in weekday_three_centres.yaml,
plus the burst after a marketing e-mail sent at 11:00, which a profile of
hourly rates smooths away. Seeded, so the file is the same every time.

    python3 scenarios/capacity/recorded_day_with_a_mailing.py
"""

import random
from pathlib import Path

# requests an hour, from that hour on (as the weekday study's profile)
HOURLY = [(0, 10), (7, 60), (9, 260), (12, 200), (14, 120), (16, 170), (18, 300), (21, 90), (23, 20)]
MAILING_AT, MAILING_REQUESTS, MAILING_DECAY = 11 * 3600, 400, 900.0   # s; mostly within ~30 min


def rate_at(hour: int) -> float:
    return [rate for start, rate in HOURLY if start <= hour][-1]


def main() -> None:
    rng = random.Random(20261126)
    requests = []                                # (time, service; "" = the day's usual mix)
    for hour in range(24):                       # Poisson within each hour
        t = hour * 3600.0
        while (t := t + rng.expovariate(rate_at(hour) / 3600)) < (hour + 1) * 3600:
            requests.append((t, ""))
    # The mailing was about cards: those requests name their service.
    requests += [(MAILING_AT + rng.expovariate(1 / MAILING_DECAY), "cards")
                 for _ in range(MAILING_REQUESTS)]
    rows = ["at,service"] + [f"{t:.1f},{service}" for t, service in sorted(requests) if t < 86400]
    out = Path(__file__).with_suffix(".csv")
    out.write_text("\n".join(rows) + "\n")
    print(f"{len(rows) - 1} requests -> {out}")


if __name__ == "__main__":
    main()
