"""Holds UDP sockets for the tests and the benchmark, one JSON command per stdin line.

Python rather than node:dgram because they need shapes Node 20 cannot make: two SO_REUSEPORT
sockets on one port, a socket that never reads (so its receive queue fills and the kernel drops
datagrams), an IPv6-only socket that never reads, a connected socket bound before connecting,
and thousands of sockets without an event loop handle each.

A socket is described by
  "family": "ipv4"|"ipv6", "address": "0.0.0.0", "port": 0 | N | [low, high],
  "v6only": bool, "reuseport": bool, "rcvbuf": bytes, "connect": [address, port]
of which only family and address are required. A [low, high] port is a free port in that range,
at random, and not one that another socket of this holder now holds from a range. IPV6_V6ONLY is
set only when "v6only" is given; without it the kernel's default (net.ipv6.bindv6only) holds.

Commands (each answered by one JSON line on stdout):
  {"op": "open", "id": "a", <socket>} -> {"id": "a", "address": ..., "port": N}
  {"op": "send", "family": ..., "to": [address, port], "count": n, "size": bytes} -> {"sent": n}
  {"op": "close", "id": "a"} -> {"closed": "a"}
  {"op": "populate", "sockets": [{<socket>, "queue": n}, ...]}
      -> {"opened": n, "listeners": [{"family", "address", "port"}], "nofile": {"soft_before", "soft", "hard"}}
      The benchmark's population (test/bench/population.ts plans it): every socket at once, then
      `queue` datagrams sent to each and never read, so its receive queue stays charged (and,
      with a small rcvbuf, it drops the rest). "listeners" are those with a [low, high] port.
      Each socket is a descriptor: the soft RLIMIT_NOFILE is first raised to what they need (up
      to the hard limit), in this process only. If one socket fails, none is kept.
Errors are answered as {"error": "..."}. The holder keeps its sockets until stdin closes.

`--comm-hex HEX` first renames the process (prctl PR_SET_NAME, what /proc/<pid>/comm shows) to
those bytes, so tests can give owners chosen and hostile names.
"""
import ctypes
import json
import random
import resource
import socket
import sys

PR_SET_NAME = 15
if len(sys.argv) == 3 and sys.argv[1] == "--comm-hex":
    ctypes.CDLL(None).prctl(PR_SET_NAME, ctypes.c_char_p(bytes.fromhex(sys.argv[2])), 0, 0, 0)

FAMILIES = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
LOOPBACK = {"ipv4": "127.0.0.1", "ipv6": "::1"}
RANGE_TRIES = 400
SPARE_DESCRIPTORS = 64

sockets = {}
population = []
ports_held_from_ranges = set()


def bind(spec):
    port = spec.get("port", 0)
    if isinstance(port, int):
        candidates = [port]
    else:
        low, high = port
        tries = random.sample(range(low, high + 1), min(RANGE_TRIES, high - low + 1))
        candidates = [p for p in tries if p not in ports_held_from_ranges]
    last_error = "every port tried is held by this holder already"
    for candidate in candidates:
        s = socket.socket(FAMILIES[spec["family"]], socket.SOCK_DGRAM)
        try:
            if "v6only" in spec:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if spec["v6only"] else 0)
            if spec.get("reuseport"):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if spec.get("rcvbuf"):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, spec["rcvbuf"])
            if candidate == 0:
                # 100,000 sockets are more clients than the ephemeral range has ports (28,232 by
                # default): with SO_REUSEADDR the kernel lets clients share one once it runs short
                # (it still hands out a free port while there is one).
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((spec["address"], candidate))
            if spec.get("connect"):
                s.connect(tuple(spec["connect"]))
        except OSError as error:
            s.close()
            last_error = error
            continue
        if not isinstance(port, int):
            ports_held_from_ranges.add(candidate)
        return s
    raise RuntimeError(f"cannot bind {spec}: {last_error}")


def release(spec, s):
    if not isinstance(spec.get("port", 0), int):
        ports_held_from_ranges.discard(s.getsockname()[1])
    s.close()


def open_socket(cmd):
    s = bind(cmd)
    sockets[cmd["id"]] = (cmd, s)
    name = s.getsockname()
    return {"id": cmd["id"], "address": name[0], "port": name[1]}


def send_from(sender, to, count, size):
    payload = b"x" * size
    sent = 0
    for _ in range(count):
        try:
            sender.sendto(payload, to)
        except BlockingIOError:
            break
        sent += 1
    return sent


def send(cmd):
    with socket.socket(FAMILIES[cmd["family"]], socket.SOCK_DGRAM) as sender:
        return {"sent": send_from(sender, tuple(cmd["to"]), cmd.get("count", 1), cmd.get("size", 512))}


def close(cmd):
    release(*sockets.pop(cmd["id"]))
    return {"closed": cmd["id"]}


def raise_fd_limit(sockets_wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = sockets_wanted + len(sockets) + len(population) + SPARE_DESCRIPTORS
    limit = {"soft_before": soft, "soft": soft, "hard": hard}
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise RuntimeError(f"{sockets_wanted} sockets need {needed} descriptors; the hard RLIMIT_NOFILE is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        limit["soft"] = needed
    return limit


def fill_queues(held):
    senders = {family: socket.socket(FAMILIES[family], socket.SOCK_DGRAM) for family in FAMILIES}
    for spec, s in held:
        if spec.get("queue", 0) == 0:
            continue
        # A wildcard socket is reached on loopback; a dual-stack one through IPv4, as its
        # IPv4 clients reach it.
        family = "ipv4" if spec["family"] == "ipv4" or not spec.get("v6only") else "ipv6"
        address = LOOPBACK[family] if spec["address"] in ("0.0.0.0", "::") else spec["address"]
        send_from(senders[family], (address, s.getsockname()[1]), spec["queue"], 256)
    for sender in senders.values():
        sender.close()


def populate(cmd):
    specs = cmd["sockets"]
    nofile = raise_fd_limit(len(specs))
    held = []
    try:
        for spec in specs:
            held.append((spec, bind(spec)))
        fill_queues(held)
    except Exception:
        for spec, s in held:
            release(spec, s)
        raise
    population.extend(s for _, s in held)
    listeners = [
        {"family": spec["family"], "address": spec["address"], "port": s.getsockname()[1]}
        for spec, s in held
        if not isinstance(spec["port"], int)
    ]
    return {"opened": len(held), "listeners": listeners, "nofile": nofile}


OPS = {"open": open_socket, "send": send, "close": close, "populate": populate}

for line in sys.stdin:
    try:
        command = json.loads(line)
        reply = OPS[command["op"]](command)
    except Exception as error:  # answered, so the caller sees what went wrong
        reply = {"error": repr(error)}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
