#!/usr/bin/python3
"""A Qpid Proton client driven by the Go interop tests (interop_proton_test.go).

It reads one JSON command per line on stdin and answers each with one JSON
line on stdout: {"ok": true, ...} or {"ok": false, "type": <exception class>,
"error": <text>, ...}. The Go test does all the checking; this script only
translates commands into proton.utils (BlockingConnection) calls and reports
what proton saw. Links are named by ids chosen by the test.

Message bodies are bytes in one data section. A command gives either "body"
(a text, sent as its UTF-8 bytes) or "size" (a generated body of that many
bytes, pattern(n)); received bodies are reported by length, SHA-256 and, when
short, as text.
"""

import hashlib
import json
import sys
import time

from proton import Condition, Delivery, Link, Message, Timeout, symbol
from proton.reactor import Container, LinkOption
from proton.utils import BlockingConnection, SendException


def pattern(n):
    """The generated body the Go side also computes: byte i is (i*7//3) mod 256."""
    return bytes((i * 7 // 3) & 0xFF for i in range(n))


STATES = {
    Delivery.ACCEPTED: "accepted",
    Delivery.REJECTED: "rejected",
    Delivery.RELEASED: "released",
    Delivery.MODIFIED: "modified",
    Delivery.RECEIVED: "received",
}


OUTCOMES = (Delivery.ACCEPTED, Delivery.REJECTED, Delivery.RELEASED, Delivery.MODIFIED)


def state_name(s):
    if not s:
        return None
    return STATES.get(s, str(s))


def plain(v):
    """Make annotation values JSON-friendly."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


class SettleModes(LinkOption):
    """Requests settle modes in the attach: snd is "settled", "unsettled" or
    "mixed", rcv is "first" or "second"; None keeps proton's default."""

    SND = {"settled": Link.SND_SETTLED, "unsettled": Link.SND_UNSETTLED, "mixed": Link.SND_MIXED}
    RCV = {"first": Link.RCV_FIRST, "second": Link.RCV_SECOND}

    def __init__(self, snd, rcv):
        self.snd, self.rcv = snd, rcv

    def apply(self, link):
        if self.snd:
            link.snd_settle_mode = self.SND[self.snd]
        if self.rcv:
            link.rcv_settle_mode = self.RCV[self.rcv]


def remote_outcome(d):
    """What the peer reported for delivery d."""
    out = {"state": state_name(d.remote_state), "settled": d.settled}
    r = d.remote
    if r.condition is not None:
        out["condition"] = str(r.condition.name)
        out["description"] = r.condition.description
    if d.remote_state == Delivery.MODIFIED:
        out["failed"] = bool(r.failed)
        out["undeliverable"] = bool(r.undeliverable)
        out["annotations"] = plain(r.annotations or {})
    return out


class Driver:
    def __init__(self):
        self.conn = None
        self.senders = {}
        self.receivers = {}
        self.pending = {}  # sender id -> deliveries sent without waiting

    def flush(self):
        """Write out what proton has encoded (dispositions, flows)."""
        t = self.conn.conn.transport
        self.conn.wait(lambda: t.pending() <= 0, timeout=5, msg="flushing")

    def idle(self, seconds):
        """Process I/O (heartbeats, arriving frames) for a while."""
        try:
            self.conn.wait(lambda: False, timeout=seconds, msg="idling")
        except Timeout:
            pass

    def op_connect(self, c):
        kw = {}
        for k in ("allowed_mechs", "user", "password", "allow_insecure_mechs", "sasl_enabled"):
            if k in c:
                kw[k] = c[k]
        container = Container()
        if c.get("container_id"):
            container.container_id = c["container_id"]
        self.conn = BlockingConnection(c["url"], timeout=c.get("timeout", 10), heartbeat=c.get("heartbeat"),
                                       container=container, **kw)
        remote = self.conn.conn.remote_container
        return {"remote_container": remote}

    def op_sender(self, c):
        s = self.conn.create_sender(c.get("address"), name=c.get("name"),
                                    options=SettleModes(c.get("snd_settle"), c.get("rcv_settle")))
        self.senders[c["id"]] = s
        self.pending[c["id"]] = []
        return {"remote_target": s.link.remote_target.address}

    def op_receiver(self, c):
        r = self.conn.create_receiver(c.get("address"), credit=c.get("credit"), dynamic=c.get("dynamic", False),
                                      name=c.get("name"),
                                      options=SettleModes(c.get("snd_settle"), c.get("rcv_settle")))
        self.receivers[c["id"]] = r
        return {"address": r.link.remote_source.address}

    def message(self, c):
        body = pattern(c["size"]) if "size" in c else c.get("body", "").encode()
        m = Message(body=body)
        m.inferred = True  # bytes as a data section, not an amqp-value
        if c.get("to"):
            m.address = c["to"]
        if c.get("subject"):
            m.subject = c["subject"]
        return m

    def op_send(self, c):
        s = self.senders[c["sender"]]
        m = self.message(c)
        if c.get("settled"):
            d = s.link.send(m)
            d.settle()
            self.flush()
            return {}
        if not c.get("wait", True):
            d = s.link.send(m)
            self.pending[c["sender"]].append(d)
            self.flush()
            return {}
        try:
            kw = {}
            if c.get("no_error_states"):
                kw["error_states"] = []
            d = s.send(m, timeout=c.get("timeout", 10), **kw)
        except SendException as e:
            return {"ok": False, "type": "SendException", "error": "send failed", "state": state_name(e.state)}
        return remote_outcome(d)

    def op_send_aborted(self, c):
        """Stream the first half of a message, let it go out, then abort the
        delivery (AMQP 1.0 section 2.6.14)."""
        s = self.senders[c["sender"]]
        data = self.message(c).encode()
        d = s.link.delivery("aborted-%d" % time.monotonic_ns())
        sent = s.link.stream(data[:len(data) // 2])
        self.flush()
        d.abort()
        self.flush()
        return {"streamed": sent}

    def op_settle_sent(self, c):
        """Wait until the peer has settled, or given an outcome to, every
        delivery sent with wait=false, then settle them (with
        receiver-settle-mode second the receiver settles after us)."""
        ds = self.pending[c["sender"]]
        self.conn.wait(lambda: all(d.settled or d.remote_state in OUTCOMES for d in ds), timeout=c.get("timeout", 10),
                       msg="settling")
        self.pending[c["sender"]] = []
        for d in ds:
            d.settle()
        self.flush()
        return {"outcomes": [remote_outcome(d) for d in ds]}

    def op_receive(self, c):
        r = self.receivers[c["receiver"]]
        unsettled = len(r.fetcher.unsettled)
        m = r.receive(timeout=c.get("timeout", 10))
        body = m.body
        if isinstance(body, str):
            body = body.encode()
        out = {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(), "to": m.address}
        if len(body) <= 256:
            out["body"] = body.decode("utf-8", "replace")
        out["settled"] = len(r.fetcher.unsettled) == unsettled  # pre-settled by the sender
        return out

    def op_settle(self, c):
        """Settle the oldest received, unsettled message with an outcome."""
        r = self.receivers[c["receiver"]]
        outcome = c["outcome"]
        if outcome == "accept":
            r.accept()
        elif outcome == "release":
            r.settle(Delivery.RELEASED)
        elif outcome in ("reject", "modify"):
            d = r.fetcher.unsettled.popleft()
            if outcome == "reject":
                if c.get("condition"):
                    d.local.condition = Condition(c["condition"], c.get("description"))
                d.update(Delivery.REJECTED)
            else:
                d.local.failed = c.get("failed", False)
                d.local.undeliverable = c.get("undeliverable", False)
                if c.get("annotations"):
                    d.local.annotations = {symbol(k): v for k, v in c["annotations"].items()}
                d.update(Delivery.MODIFIED)
            d.settle()
        else:
            raise ValueError("unknown outcome %r" % outcome)
        self.flush()
        return {}

    def op_status(self, c):
        r = self.receivers[c["receiver"]]
        return {"credit": r.link.credit, "buffered": r.fetcher.has_message}

    def op_flow(self, c):
        r = self.receivers[c["receiver"]]
        r.link.flow(c["credit"])
        self.flush()
        return {}

    def op_drain(self, c):
        """Grant credit with drain set and wait until the sender has used or
        returned all of it (AMQP 1.0 section 2.6.7)."""
        r = self.receivers[c["receiver"]]
        link = r.link
        link.drain(c["credit"])
        self.conn.wait(lambda: link.credit == 0 and not link.draining(), timeout=c.get("timeout", 5), msg="draining")
        link.drain_mode = False
        return {"drained": link.drained(), "credit": link.credit, "buffered": r.fetcher.has_message}

    def op_idle(self, c):
        self.idle(c["seconds"])
        return {}

    def op_close(self, c):
        self.conn.close()
        self.conn = None
        return {}


def main():
    d = Driver()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        c = json.loads(line)
        start = time.monotonic()
        try:
            res = getattr(d, "op_" + c["op"])(c)
            res.setdefault("ok", True)
        except Exception as e:  # every failure is reported, the Go test decides
            res = {"ok": False, "type": type(e).__name__, "error": str(e)}
            cond = getattr(e, "condition", None)
            if cond:
                res["condition"] = str(cond)
        res["elapsed"] = round(time.monotonic() - start, 3)
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
