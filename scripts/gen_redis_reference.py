#!/usr/bin/env python3
"""Regenerate protocols/redis/src/cmd/redis_commands.json from a running redis-server 7.0:

    python3 scripts/gen_redis_reference.py REDIS_PORT DOTDO_REDIS_PORT

It keeps the commands dotdo serves (its COMMAND LIST) and stores redis-server's RESP3 replies
to COMMAND DOCS and COMMAND INFO for each as typed JSON trees, so reply types and order
survive: ["%", k, v, ...] a map, ["~", ...] a set, ["*", ...] an array, "+text" a simple
string, "$text" a bulk string, numbers integers, null a null."""

import json
import socket
import sys


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def ask(self, *args):
        req = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            req += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(req)
        return self.read()

    def read(self):
        line = self.f.readline()[:-2]
        t, rest = chr(line[0]), line[1:].decode()
        if t in "+-":
            return "+" + rest
        if t == ":":
            return int(rest)
        if t == "_":
            return None
        if t == "$":
            data = self.f.read(int(rest) + 2)[:-2].decode()
            return "$" + data
        if t in "*~":
            return [t] + [self.read() for _ in range(int(rest))]
        if t == "%":
            out = ["%"]
            for _ in range(int(rest)):
                out += [self.read(), self.read()]
            return out
        raise ValueError(f"unexpected RESP3 type {t!r}")


def main():
    redis, dotdo = Conn(int(sys.argv[1])), Conn(int(sys.argv[2]))
    redis.ask("HELLO", "3")
    served = [n[1:] for n in dotdo.ask("COMMAND", "LIST")[1:] if "|" not in n]
    docs, info = {}, {}
    for name in sorted(served):
        d = redis.ask("COMMAND", "DOCS", name)
        if len(d) == 3:  # ["%", name, docs]
            docs[name] = d[2]
        i = redis.ask("COMMAND", "INFO", name)
        if i[1] is not None:
            info[name] = i[1]
    out = "protocols/redis/src/cmd/redis_commands.json"
    with open(out, "w") as f:
        json.dump({"docs": docs, "info": info}, f, separators=(",", ":"))
    print(f"{out}: {len(docs)} documented, {len(info)} described")


if __name__ == "__main__":
    main()
