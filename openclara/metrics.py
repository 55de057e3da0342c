"""Prometheus figures of the stack: one naming scheme for the three services, and reading a scrape back.

Every metric is named `openclara_<service>_<thing>[_<unit>]`:

- `<service>` is `platform`, `dicom` (the DICOM adapter) or `results` (the results service);
- `<unit>` is a base unit, plural (`_seconds`, `_bytes`) or `_ratio` for 0..1 fractions; counts have none;
- counters end in `_total` (prometheus_client appends it), histograms add `_bucket`, `_sum`, `_count`.

`metric_name` builds a name and refuses one that breaks the scheme, so a service cannot drift from it.
`Figures` is what a reader of `/metrics` (the console, `clara load`, tests) gets back: the samples of one
scrape by name and labels, without knowing the exposition format; `scrape` fetches and parses one, with
the caller's token. docs/monitoring.md lists every metric.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

NAMESPACE = "openclara"
SERVICES = ("platform", "dicom", "results")
UNITS = ("seconds", "bytes", "ratio")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PATH = "/metrics"  # where every service answers with its figures
_THING = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# prometheus_client's own suffixes: a `thing` ending in one would collide with a counter's or histogram's series.
_RESERVED = ("_total", "_created", "_bucket", "_sum", "_count")


def metric_name(service: str, thing: str, unit: str = "") -> str:
    """`openclara_<service>_<thing>[_<unit>]`; ValueError for a name outside the scheme."""
    if service not in SERVICES:
        raise ValueError(f"metric service {service!r} is not one of {', '.join(SERVICES)}")
    if not _THING.match(thing) or thing.endswith(_RESERVED):
        raise ValueError(f"metric thing {thing!r} must be lower_snake_case without a Prometheus suffix")
    if unit and unit not in UNITS:
        raise ValueError(f"metric unit {unit!r} is not one of {', '.join(UNITS)} (base units only)")
    return "_".join(part for part in (NAMESPACE, service, thing, unit) if part)


@dataclass(frozen=True)
class Sample:
    """One line of a scrape: `name{labels} value`."""

    name: str
    labels: Mapping[str, str]
    value: float


class Figures:
    """The samples of one `/metrics` scrape, by sample name (e.g. `openclara_platform_jobs`)."""

    def __init__(self, samples: Iterable[Sample], types: Mapping[str, str]) -> None:
        self._samples: dict[str, list[Sample]] = {}
        for sample in samples:
            self._samples.setdefault(sample.name, []).append(sample)
        self.types = dict(types)

    @classmethod
    def parse(cls, text: str) -> Figures:
        """Parse Prometheus text exposition (what every service's `/metrics` answers)."""
        samples: list[Sample] = []
        types: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            types[family.name] = family.type
            samples.extend(Sample(s.name, dict(s.labels), s.value) for s in family.samples)
        return cls(samples, types)

    @property
    def names(self) -> set[str]:
        return set(self._samples)

    def samples(self, name: str) -> list[Sample]:
        return list(self._samples.get(name, ()))

    def value(self, name: str, **labels: str) -> float | None:
        """The value of the one sample with exactly these labels (among others); None when there is none."""
        for sample in self._samples.get(name, ()):
            if all(sample.labels.get(key) == wanted for key, wanted in labels.items()):
                return sample.value
        return None

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample of `name` whose labels include these (0 when there is none)."""
        return sum(s.value for s in self._samples.get(name, ())
                   if all(s.labels.get(key) == wanted for key, wanted in labels.items()))


class ScrapeError(Exception):
    """A `/metrics` that did not answer with figures: unreachable, refused (401/403), or not Prometheus text."""


async def scrape(http: httpx.AsyncClient, url: str, token: str | None) -> Figures:
    """GET `url` (a service's /metrics) with `Authorization: Bearer <token>` and parse the answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = await http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise ScrapeError(f"{url}: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise ScrapeError(f"{url}: HTTP {response.status_code} (a read-only token is needed)"
                          if response.status_code in (401, 403) else f"{url}: HTTP {response.status_code}")
    try:
        return Figures.parse(response.text)
    except ValueError as exc:
        raise ScrapeError(f"{url}: not Prometheus text: {exc}") from exc
