"""CPU per watch event of the operator's watch (``loop.watch_stream``, through httpx and over
the operator's own connection) against lightkube's own watch decoding (``Client.watch``, then
``to_dict``, what ``loop.lightkube_watch`` did until 2026-12-07), on the same events from the
fake API server.

N annotated RayClusters (and, for ``--kind ConfigMap``, port records) are stored; each
reader watches without a resourceVersion, so the server sends N ADDED events, and the CPU
time of the reading thread alone (``time.thread_time``: the fake API server runs in threads
of its own) is divided by N. Results: docs/benchmarks.md, "Operator at scale".

    .venv/bin/python bench/watch_decode.py [--events 2000] [--repeat 5] [--kind ConfigMap] [--live]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


def lightkube_events(source: Any, res: Any, n: int, since: str | None) -> Iterable[dict[str, Any]]:
    """The watch as it was: lightkube's decoding into resource objects, then ``to_dict``."""
    for i, (_, obj) in enumerate(source.client.watch(res, namespace="*",
                                                     resource_version=since)):
        yield obj.to_dict()
        if i + 1 == n:
            return


def stream_events(source: Any, res: Any, n: int, since: str | None,
                  transport: Any = None) -> Iterable[dict[str, Any]]:
    from raygate.operator.loop import watch_stream
    for i, (_, obj) in enumerate(watch_stream(source, res, since=since, transport=transport)):
        yield obj
        if i + 1 == n:
            return


def own_connection_events(source: Any, res: Any, n: int,
                          since: str | None) -> Iterable[dict[str, Any]]:
    """``watch_stream`` as the operator runs it: over its own connection
    (``operator/transport.py``), not httpx's."""
    from raygate.operator.transport import Transport
    yield from stream_events(source, res, n, since, Transport(source.client._client._client))


def cpu_per_event(read: Callable[..., Iterable[dict[str, Any]]], source: Any,
                  res: Any, n: int, live: Callable[[], None] | None = None,
                  since: str | None = None) -> float:
    """``live``: the events are made while the watch is open (each written to the stream on
    its own, as in a burst of creates), not sent at once from the store."""
    out: list[float] = []
    started = threading.Event()

    def run() -> None:
        start = time.thread_time()
        count = 0
        for _ in read(source, res, n, since):
            count += 1
        out.append((time.thread_time() - start) / count)
    t = threading.Thread(target=run)
    t.start()
    if live is not None:
        time.sleep(0.3)  # the watch is open
        live()
    t.join()
    return out[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--kind", choices=["RayCluster", "ConfigMap"], default="RayCluster")
    ap.add_argument("--live", action="store_true",
                    help="events made one by one while watched (a label patch on each object), "
                         "not sent at once from the store")
    args = ap.parse_args()
    from raygate.operator import allocations as alloc
    from raygate.sources.cluster import ClusterSource
    from tests.cluster import world
    from tests.fakeapi.server import FakeApiServer
    from tests.operator.test_pure import ray_cluster

    with FakeApiServer() as server, tempfile.TemporaryDirectory() as workdir:
        server.write_kubeconfig(Path(workdir) / "kubeconfig")
        world.install(server)
        if args.kind == "RayCluster":
            server.add_many(ray_cluster(f"c{i:05d}", f"team{i % 20}", f"u{i}")
                            for i in range(args.events))
            api_version = "ray.io/v1"
        else:
            server.add({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": "raygate-system"}})
            server.add_many(alloc.to_object(alloc.Allocation(20000 + i, f"t/c{i}", f"u{i}",
                                                             "RayCluster", "client"),
                                            "raygate-system") for i in range(args.events))
            api_version = "v1"
        with ClusterSource(server.kubeconfig_path, timeout=120) as source:
            res = source.resource_for({"apiVersion": api_version, "kind": args.kind})
            rows: dict[str, list[float]] = {"lightkube + to_dict": [], "watch_stream": [],
                                             "watch_stream, own conn": []}
            objs = server.objects(args.kind)
            rounds = iter(range(10**6))

            def patch_each() -> None:
                n = next(rounds)
                for o in objs:
                    server.patch(args.kind, o["metadata"]["namespace"], o["metadata"]["name"],
                                 {"metadata": {"labels": {"round": str(n)}}})
            for _ in range(args.repeat):  # interleaved: the machine's load moves both alike
                for name, read in (("lightkube + to_dict", lightkube_events),
                                   ("watch_stream", stream_events),
                                   ("watch_stream, own conn", own_connection_events)):
                    since = str(server.resource_version) if args.live else None
                    rows[name].append(cpu_per_event(read, source, res, args.events,
                                                    patch_each if args.live else None, since))
    what = "MODIFIED, one by one" if args.live else "ADDED, at once"
    print(f"{args.events} {args.kind} events ({what}), {args.repeat} runs each, CPU of the "
          "reading thread per event:")
    for name, values in rows.items():
        ms = sorted(v * 1000 for v in values)
        print(f"  {name:22s} median {statistics.median(ms):.3f} ms "
              f"(min {ms[0]:.3f}, max {ms[-1]:.3f})")


if __name__ == "__main__":
    main()
