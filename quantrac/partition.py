"""One gateway of several: the site's stations split between gateway processes.

A province outgrows one gateway process at a few thousand stations that share a poll slot
(docs/benchmarks.md), or wants its gateways near the stations' networks. Every process then
loads the same site directory and takes only its part: ``quantrac gateway SITE --gateway-id
gw-hue-2 --stations 'kim_long,phu_*'``. Its id names its outbox, its MQTT client and the topic
its receipts come back on, so each part needs its own (and its own broker account: docs/deploy.md,
"Scale-out"). Collectors, alerting and the API keep the whole site: they judge every station.
"""

from __future__ import annotations

import dataclasses
from fnmatch import fnmatchcase

from gateway.wire import receipts_topic
from quantrac.site import Site


def chosen_stations(all_ids: list[str], spec: str) -> list[str]:
    """The ids ``spec`` names, in the site's order: ids or shell patterns, comma-separated.

    Raises ValueError when a part names no station (a typo must not leave a station unread)
    or nothing is chosen at all.
    """
    parts = [part.strip() for part in spec.split(",") if part.strip()]
    if not parts:
        raise ValueError("--stations names no station")
    unmatched = [part for part in parts if not any(fnmatchcase(i, part) for i in all_ids)]
    if unmatched:
        raise ValueError(
            f"--stations: no station of the site is {', '.join(map(repr, unmatched))}"
            f" (the site has {', '.join(all_ids) or 'none'})"
        )
    return [i for i in all_ids if any(fnmatchcase(i, part) for part in parts)]


def gateway_partition(site: Site, stations: str | None, gateway_id: str | None) -> Site:
    """The site as this gateway sees it: only its stations, under its own id."""
    settings = site.settings
    if gateway_id is not None:
        try:
            receipts_topic(gateway_id)  # its receipts come back on a topic named by it
        except ValueError as exc:
            raise ValueError(f"--gateway-id: {exc}") from None
        settings = settings.model_copy(update={"gateway_id": gateway_id})
    chosen = site.stations
    if stations is not None:
        chosen = {i: site.stations[i] for i in chosen_stations(list(site.stations), stations)}
    return dataclasses.replace(site, settings=settings, stations=chosen)


def partition_or_exit(site: Site, stations: str | None, gateway_id: str | None) -> Site:
    """:func:`gateway_partition`, or the reason and exit code 2, as a broken site config."""
    import typer
    from rich.markup import escape

    from quantrac.cli_common import err_console

    try:
        return gateway_partition(site, stations, gateway_id)
    except ValueError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(2) from None
