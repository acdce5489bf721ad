"""Named access profiles: what a person's (or a centre's, or a server's) line is.

An access is two links, one per direction. The figures are round, typical
ones, not measurements of any one operator; where they come from:

- ADSL: the rates are the usual commercial tiers of G.992.1 (1M/256k) and
  ADSL2 (8M/1M). Interleaving and the trip to the operator's core add some
  15-25 ms one way. DSL modems keep deep buffers (hundreds of milliseconds at
  the upload rate), hence the generous queues; no burst: the line's sync rate
  is the bottleneck and every packet serialises at it.
- 3G: a UMTS Release 99 data bearer gives 384 kbit/s down and 64 kbit/s up;
  round trips of 150-200 ms with a few tens of ms of jitter were common, and
  the radio leaves a small residual loss after its own retransmissions.
- 4G: LTE as crowd-sourced speed tests tend to report it in the 2020s, some
  tens of Mbit/s down and a few up, 20-30 ms one way.
- fibre: an FTTH offer of a few hundred Mbit/s each way, a few ms to the core.
- datacentre: a room server's 1 Gbit/s port, 1 ms inside the provider.
"""

from __future__ import annotations

from dataclasses import dataclass

from .link import LinkSpec

_K, _M, _G = 1e3, 1e6, 1e9


@dataclass(frozen=True, slots=True)
class Access:
    """A line seen from its owner: `down` brings bytes to them, `up` takes theirs away."""

    down: LinkSpec
    up: LinkSpec


def _access(down: float, up: float, *, delay: float, jitter: float = 0.0, loss: float = 0.0,
            queue_down: float = float("inf"), queue_up: float = float("inf"),
            burst: float = 0.0) -> Access:
    return Access(
        down=LinkSpec(rate=down, delay=delay, jitter=jitter, loss=loss, queue_bytes=queue_down,
                      burst=burst),
        up=LinkSpec(rate=up, delay=delay, jitter=jitter, loss=loss, queue_bytes=queue_up,
                    burst=burst))


PROFILES: dict[str, Access] = {
    "adsl_1m_256k": _access(1 * _M, 256 * _K, delay=0.020, jitter=0.002,
                            queue_down=64_000, queue_up=32_000),
    "adsl_8m_1m": _access(8 * _M, 1 * _M, delay=0.015, jitter=0.002,
                          queue_down=256_000, queue_up=64_000),
    "3g": _access(384 * _K, 64 * _K, delay=0.080, jitter=0.020, loss=0.005,
                  queue_down=64_000, queue_up=16_000),
    "4g": _access(30 * _M, 5 * _M, delay=0.025, jitter=0.005, loss=0.001,
                  queue_down=512_000, queue_up=128_000),
    "fibre": _access(300 * _M, 300 * _M, delay=0.003, jitter=0.0005),
    "datacentre": _access(1 * _G, 1 * _G, delay=0.001),
}

# Who sits behind what when a scenario does not say.
DEFAULT_PERSON, DEFAULT_AGENT, DEFAULT_SERVER = "adsl_8m_1m", "fibre", "datacentre"
