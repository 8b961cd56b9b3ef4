"""Holds UDP sockets for the integration tests, one JSON command per stdin line.

Python rather than node:dgram because the tests need shapes Node 20 cannot make: two
SO_REUSEPORT sockets on one port, and a socket that never reads, so its receive queue fills
and the kernel drops datagrams.

Commands (each answered by one JSON line on stdout):
  {"op": "open", "id": "a", "family": "ipv4"|"ipv6", "address": "0.0.0.0", "port": 0 | N | [low, high],
   "v6only": bool, "reuseport": bool, "rcvbuf": bytes, "connect": [address, port]}
      -> {"id": "a", "address": ..., "port": N}; a [low, high] port picks a free one at random.
  {"op": "send", "family": ..., "to": [address, port], "count": n, "size": bytes} -> {"sent": n}
  {"op": "close", "id": "a"} -> {"closed": "a"}
Errors are answered as {"error": "..."}. The holder exits when stdin closes.

`--comm-hex HEX` first renames the process (prctl PR_SET_NAME, what /proc/<pid>/comm shows) to
those bytes, so tests can give owners chosen and hostile names.
"""
import ctypes
import json
import random
import socket
import sys

PR_SET_NAME = 15
if len(sys.argv) == 3 and sys.argv[1] == "--comm-hex":
    ctypes.CDLL(None).prctl(PR_SET_NAME, ctypes.c_char_p(bytes.fromhex(sys.argv[2])), 0, 0, 0)

sockets = {}
FAMILIES = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}


def open_socket(cmd):
    family = FAMILIES[cmd["family"]]
    port = cmd.get("port", 0)
    candidates = [port] if isinstance(port, int) else random.sample(range(port[0], port[1] + 1), min(200, port[1] - port[0] + 1))
    last_error = None
    for candidate in candidates:
        s = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if "v6only" in cmd:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if cmd["v6only"] else 0)
            if cmd.get("reuseport"):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if cmd.get("rcvbuf"):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, cmd["rcvbuf"])
            s.bind((cmd["address"], candidate))
            if cmd.get("connect"):
                s.connect(tuple(cmd["connect"]))
        except OSError as error:
            s.close()
            last_error = error
            continue
        sockets[cmd["id"]] = s
        name = s.getsockname()
        return {"id": cmd["id"], "address": name[0], "port": name[1]}
    return {"error": f"cannot bind {cmd}: {last_error}"}


def send(cmd):
    s = socket.socket(FAMILIES[cmd["family"]], socket.SOCK_DGRAM)
    payload = b"x" * cmd.get("size", 512)
    sent = 0
    for _ in range(cmd.get("count", 1)):
        s.sendto(payload, tuple(cmd["to"]))
        sent += 1
    s.close()
    return {"sent": sent}


def close(cmd):
    sockets.pop(cmd["id"]).close()
    return {"closed": cmd["id"]}


OPS = {"open": open_socket, "send": send, "close": close}

for line in sys.stdin:
    try:
        command = json.loads(line)
        reply = OPS[command["op"]](command)
    except Exception as error:  # answered, so the test sees what went wrong
        reply = {"error": repr(error)}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
