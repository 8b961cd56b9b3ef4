"""Holds a population of UDP sockets for the benchmark (bench/population.ts plans it).

Python rather than node:dgram because Node 20 cannot make an IPv6-only socket that never
reads, a connected socket bound before connecting, or thousands of sockets without an event
loop handle each. One JSON line on stdin describes every socket:

  {"sockets": [{"family": "ipv4"|"ipv6", "address": "0.0.0.0", "v6only": bool (ipv6 only),
                "port": 0 | [low, high], "connect": [address, port] | null,
                "rcvbuf": bytes | 0, "queue": datagrams to leave unread}, ...]}

A [low, high] port is a random free port in that range that no other socket of this holder
took. Queued datagrams are sent after every socket is bound and are never read, so the
receive queue stays charged (and, with a small rcvbuf, the socket drops the rest).

One JSON line answers: {"opened": n, "listeners": [{"family", "address", "port"}],
"nofile": {"soft_before", "soft", "hard"}} or {"error": "..."}. The holder keeps the sockets
until stdin closes.

Each socket is a file descriptor. The soft RLIMIT_NOFILE is raised to what the population
needs (up to the hard limit) in this process only; bench/population.ts splits a population
into several holders so that none needs more than a few thousand.
"""
import json
import random
import resource
import socket
import sys

FAMILIES = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
LOOPBACK = {"ipv4": "127.0.0.1", "ipv6": "::1"}
SPARE_DESCRIPTORS = 64


def raise_fd_limit(sockets_wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = sockets_wanted + SPARE_DESCRIPTORS
    limit = {"soft_before": soft, "soft": soft, "hard": hard}
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise RuntimeError(f"{sockets_wanted} sockets need {needed} descriptors; the hard RLIMIT_NOFILE is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        limit["soft"] = needed
    return limit


def bind_one(spec, taken):
    family = spec["family"]
    port = spec["port"]
    if isinstance(port, int):
        candidates = [port]
    else:
        low, high = port
        candidates = [p for p in random.sample(range(low, high + 1), min(400, high - low + 1)) if p not in taken]
    last_error = None
    for candidate in candidates:
        s = socket.socket(FAMILIES[family], socket.SOCK_DGRAM)
        try:
            if family == "ipv6":
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if spec.get("v6only") else 0)
            if spec.get("rcvbuf"):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, spec["rcvbuf"])
            if candidate == 0:
                # 100,000 sockets are more clients than the ephemeral range has ports (28,232 by
                # default): with SO_REUSEADDR the kernel lets clients share one once it runs short.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((spec["address"], candidate))
            if spec.get("connect"):
                s.connect(tuple(spec["connect"]))
        except OSError as error:
            s.close()
            last_error = error
            continue
        if candidate != 0:
            taken.add(candidate)
        return s
    raise RuntimeError(f"cannot bind {spec}: {last_error}")


def fill_queues(held):
    senders = {family: socket.socket(FAMILIES[family], socket.SOCK_DGRAM) for family in FAMILIES}
    payload = b"x" * 256
    for spec, s in held:
        count = spec.get("queue", 0)
        if count == 0:
            continue
        # A wildcard socket is reached on loopback; a dual-stack one through IPv4, as its
        # IPv4 clients reach it.
        family = "ipv4" if spec["family"] == "ipv4" or not spec.get("v6only") else "ipv6"
        address = LOOPBACK[family] if spec["address"] in ("0.0.0.0", "::") else spec["address"]
        target = (address, s.getsockname()[1])
        for _ in range(count):
            try:
                senders[family].sendto(payload, target)
            except BlockingIOError:
                break
    for sender in senders.values():
        sender.close()


def main():
    specs = json.loads(sys.stdin.readline())["sockets"]
    try:
        nofile = raise_fd_limit(len(specs))
        taken = set()
        held = [(spec, bind_one(spec, taken)) for spec in specs]
        fill_queues(held)
    except Exception as error:  # answered, so the benchmark says what went wrong
        reply = {"error": repr(error)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        sys.exit(1)
    listeners = [
        {"family": spec["family"], "address": spec["address"], "port": s.getsockname()[1]}
        for spec, s in held
        if not isinstance(spec["port"], int)
    ]
    sys.stdout.write(json.dumps({"opened": len(held), "listeners": listeners, "nofile": nofile}) + "\n")
    sys.stdout.flush()
    sys.stdin.read()


main()
