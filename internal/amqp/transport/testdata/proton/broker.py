#!/usr/bin/python3
"""A minimal Qpid Proton broker for the Go interop tests of the dialing side.

Usage: broker.py PORT [--idle SECONDS] [--max-frame BYTES]

Listens on 127.0.0.1:PORT until its stdin is closed. Messages sent to an address are queued there and
handed to receivers attached to that address, in order, as their credit
allows; a receiver attached with a dynamic source gets a fresh address. A
sender with no target address (anonymous relay) routes each message by its
"to". Incoming messages are accepted, except at addresses whose first
path segment asks for another outcome:

    reject/...   rejected with com.example:refused and a description
    release/...  released
    modify/...   modified: delivery-failed, undeliverable-here and the
                 annotation x-opt-broker = "modified here"

With receiver-settle-mode second the broker settles a delivery it sent as
soon as the receiver's outcome arrives, so the receiver can settle too.

Drain requests are honoured: the queue is offered first, the remaining
credit is then returned with drained().

Everything the broker observes is printed to stdout as one JSON object a
line, for the Go test to check: {"event": "received", ...} for each incoming
message and {"event": "outcome", ...} for each outcome a receiver gives a
message the broker sent it.
"""

import argparse
import collections
import hashlib
import json
import os
import sys
import threading

from proton import Condition, Delivery, Link, symbol
from proton.handlers import MessagingHandler
from proton.reactor import Container


def emit(**fields):
    print(json.dumps(fields), flush=True)


def body_bytes(msg):
    b = msg.body
    if b is None:
        return b""
    if isinstance(b, str):
        return b.encode()
    return bytes(b)


def plain(v):
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


STATES = {Delivery.ACCEPTED: "accepted", Delivery.REJECTED: "rejected",
          Delivery.RELEASED: "released", Delivery.MODIFIED: "modified"}


class Broker(MessagingHandler):
    def __init__(self, port, idle, max_frame):
        super().__init__(prefetch=100, auto_accept=False)
        self.port = port
        self.idle = idle
        self.max_frame = max_frame
        self.queues = collections.defaultdict(collections.deque)
        self.consumers = collections.defaultdict(list)
        self.sent = {}  # delivery -> (address, body) of what we sent
        self.dynamic = 0

    def on_start(self, event):
        event.container.listen("127.0.0.1:%d" % self.port)
        emit(event="listening", port=self.port)

    def on_connection_bound(self, event):
        if self.idle:
            event.transport.idle_timeout = self.idle
        if self.max_frame:
            event.transport.max_frame_size = self.max_frame

    def on_transport_error(self, event):
        # Probe connections of the test (TCP connect, then close) end here.
        pass

    def on_link_opening(self, event):
        link = event.link
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        if link.is_sender:
            if link.remote_source.dynamic:
                self.dynamic += 1
                link.source.address = "dynamic-%d" % self.dynamic
            self.consumers[link.source.address].append(link)
        link.open()

    def on_link_closing(self, event):
        link = event.link
        if link.is_sender:
            subs = self.consumers.get(link.source.address, [])
            if link in subs:
                subs.remove(link)

    def on_disconnected(self, event):
        for subs in self.consumers.values():
            subs[:] = [l for l in subs if l.connection != event.connection]

    def pump(self, link):
        q = self.queues[link.source.address]
        while link.credit > 0 and q:
            msg = q.popleft()
            d = link.send(msg)
            self.sent[d] = (link.source.address, body_bytes(msg))
            if link.snd_settle_mode == link.SND_SETTLED:
                d.settle()
        if link.drain_mode and link.credit > 0:
            link.drained()

    def on_sendable(self, event):
        self.pump(event.link)

    def on_link_flow(self, event):
        # on_sendable only fires with credit; a drain may need drained().
        if event.link.is_sender:
            self.pump(event.link)

    def on_message(self, event):
        d, msg = event.delivery, event.message
        address = event.link.target.address or msg.address
        body = body_bytes(msg)
        emit(event="received", address=address, size=len(body), sha256=hashlib.sha256(body).hexdigest(),
             body=body.decode("utf-8", "replace") if len(body) <= 256 else None, settled=d.settled)
        kind = (address or "").split("/")[0]
        if kind == "reject":
            d.local.condition = Condition("com.example:refused", "refused by the broker: " + address)
            self.reject(d)
        elif kind == "release":
            self.release(d, delivered=False)
        elif kind == "modify":
            d.local.failed = True
            d.local.undeliverable = True
            d.local.annotations = {symbol("x-opt-broker"): "modified here"}
            self.settle(d, Delivery.MODIFIED)
        else:
            self.queues[address].append(msg)
            self.accept(d)
            for link in self.consumers.get(address, []):
                self.pump(link)

    def report(self, event):
        d = event.delivery
        address, body = self.sent.pop(d, (None, b""))
        r = d.remote
        out = {"event": "outcome", "address": address, "state": STATES.get(d.remote_state, str(d.remote_state)),
               "body": body.decode("utf-8", "replace") if len(body) <= 256 else None}
        if r.condition is not None:
            out["condition"] = str(r.condition.name)
            out["description"] = r.condition.description
        if d.remote_state == Delivery.MODIFIED:
            out["failed"] = bool(r.failed)
            out["undeliverable"] = bool(r.undeliverable)
            out["annotations"] = plain(r.annotations or {})
        emit(**out)
        if d.link.remote_rcv_settle_mode == Link.RCV_SECOND and not d.settled:
            # Receiver-settle-mode second: the receiver settles after us.
            d.settle()

    on_accepted = on_rejected = on_released = report


def exit_at_eof():
    """The test ends the broker by closing its stdin."""
    sys.stdin.read()
    os._exit(0)


def main():
    threading.Thread(target=exit_at_eof, daemon=True).start()
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--idle", type=float, default=0, help="idle timeout in seconds")
    ap.add_argument("--max-frame", type=int, default=0, help="max-frame-size to announce")
    a = ap.parse_args()
    Container(Broker(a.port, a.idle, a.max_frame)).run()


if __name__ == "__main__":
    main()
