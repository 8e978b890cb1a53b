"""A Qpid Proton consumer for broker tests.

usage: consume.py HOST:PORT ADDRESS COUNT MODE [CREDIT]

Prints "ready" once its receiver is attached, then one line
"got BODY count=DELIVERY-COUNT" per delivery, settled according to MODE:
  accept        accept every message
  release       release every message (released: not a delivery attempt)
  release-once  release the first delivery of each body, accept the next
  fail          modified{delivery-failed} for every message
After COUNT deliveries (0: never) it closes the connection and prints
"closed". CREDIT (default 10) is the receiver's prefetch window.
"""
import sys
from proton import Delivery
from proton.handlers import MessagingHandler
from proton.reactor import Container


class Consumer(MessagingHandler):
    def __init__(self, url, address, count, mode, credit):
        super().__init__(prefetch=credit, auto_accept=False)
        self.url, self.address, self.count, self.mode = url, address, count, mode
        self.seen = 0
        self.released = set()

    def on_start(self, event):
        self.conn = event.container.connect(self.url, allowed_mechs="ANONYMOUS")
        event.container.create_receiver(self.conn, self.address)

    def on_link_opened(self, event):
        if event.receiver:
            print("ready", flush=True)

    def on_message(self, event):
        if self.count and self.seen >= self.count:
            return  # closing: later deliveries stay unsettled
        body = event.message.body
        print("got %s count=%d" % (body, event.message.delivery_count), flush=True)
        d = event.delivery
        if self.mode == "accept":
            self.accept(d)
        elif self.mode == "release":
            self.release(d, delivered=False)
        elif self.mode == "release-once":
            if body in self.released:
                self.accept(d)
            else:
                self.released.add(body)
                self.release(d, delivered=False)
        elif self.mode == "fail":
            d.local.failed = True
            self.settle(d, Delivery.MODIFIED)
        else:
            raise SystemExit("unknown mode " + self.mode)
        self.seen += 1
        if self.count and self.seen >= self.count:
            event.connection.close()

    def on_connection_closed(self, event):
        print("closed", flush=True)


credit = int(sys.argv[5]) if len(sys.argv) > 5 else 10
Container(Consumer("amqp://" + sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], credit)).run()
