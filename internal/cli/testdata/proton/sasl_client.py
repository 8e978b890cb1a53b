#!/usr/bin/python3
"""A Qpid Proton client for the serve SASL tests (serve_proton_test.go).

argv[1] is a JSON object: url, address, body, and optionally user,
password, allowed_mechs, ca (PEM file trusted for the server), cert and key
(PEM files of the client certificate). The client connects, sends body to
address, receives it back and prints one JSON line: {"ok": true, "body": ...,
"user": <the connection's authenticated user>} or {"ok": false, "type":
<exception class>, "error": <text>}. The Go test does the checking.
"""

import json
import sys

from proton import Message, SSLDomain
from proton.utils import BlockingConnection


def main():
    cfg = json.loads(sys.argv[1])
    kw = {"timeout": 10, "allowed_mechs": cfg.get("allowed_mechs")}
    if "user" in cfg:
        kw["user"], kw["password"] = cfg["user"], cfg.get("password")
    if cfg["url"].startswith("amqps://"):
        d = SSLDomain(SSLDomain.MODE_CLIENT)
        d.set_trusted_ca_db(cfg["ca"])
        d.set_peer_authentication(SSLDomain.VERIFY_PEER)
        if "cert" in cfg:
            d.set_credentials(cfg["cert"], cfg["key"], None)
        kw["ssl_domain"] = d
    try:
        conn = BlockingConnection(cfg["url"], **kw)
        try:
            snd = conn.create_sender(cfg["address"])
            snd.send(Message(body=cfg["body"]))
            rcv = conn.create_receiver(cfg["address"])
            msg = rcv.receive(timeout=10)
            rcv.accept()
            print(json.dumps({"ok": True, "body": msg.body}))
        finally:
            conn.close()
    except Exception as e:  # the test wants whatever proton raised
        print(json.dumps({"ok": False, "type": type(e).__name__, "error": str(e)}))


if __name__ == "__main__":
    main()
