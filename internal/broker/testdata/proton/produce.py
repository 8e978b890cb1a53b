"""A Qpid Proton producer for broker tests.

usage: produce.py HOST:PORT ADDRESS BODY...

Sends one durable message per BODY, in order, and prints its outcome as
"accepted BODY" (or "rejected BODY", "released BODY", "modified BODY");
closes the connection once every message is settled and prints "done".
"""
import sys
from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import Container


class Producer(MessagingHandler):
    def __init__(self, url, address, bodies):
        super().__init__()
        self.url, self.address, self.bodies = url, address, bodies
        self.next = 0
        self.settled = 0
        self.body_of = {}

    def on_start(self, event):
        conn = event.container.connect(self.url, allowed_mechs="ANONYMOUS")
        self.sender = event.container.create_sender(conn, self.address)

    def on_sendable(self, event):
        while self.next < len(self.bodies) and self.sender.credit > 0:
            body = self.bodies[self.next]
            self.next += 1
            d = self.sender.send(Message(body=body, durable=True))
            self.body_of[d] = body

    def outcome(self, event, what):
        print("%s %s" % (what, self.body_of.pop(event.delivery)), flush=True)
        self.settled += 1
        if self.settled == len(self.bodies):
            event.connection.close()
            print("done", flush=True)

    def on_accepted(self, event):
        self.outcome(event, "accepted")

    def on_rejected(self, event):
        self.outcome(event, "rejected")

    def on_released(self, event):
        self.outcome(event, "released" if event.delivery.remote_state == event.delivery.RELEASED else "modified")


Container(Producer("amqp://" + sys.argv[1], sys.argv[2], sys.argv[3:])).run()
