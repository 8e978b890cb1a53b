"""A Qpid Proton producer for router tests.

usage: producer.py HOST:PORT ADDRESS BODY [reply]
Waits for credit, sends one message and prints its outcome:
"outcome accepted", "outcome rejected CONDITION DESCRIPTION", "outcome
released" or "outcome modified". With "reply", the message carries a dynamic
reply-to address and the reply body is printed as "reply BODY".
"""
import sys
import time
from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import Container


class Producer(MessagingHandler):
    def __init__(self, url, address, body, want_reply):
        super().__init__(auto_settle=True)
        self.url, self.address, self.body, self.want_reply = url, address, body, want_reply
        self.sent = False
        self.reply_to = None
        self.outcome_seen = False
        self.reply_seen = not want_reply

    def on_start(self, event):
        self.conn = event.container.connect(self.url, allowed_mechs="ANONYMOUS")
        self.sender = event.container.create_sender(self.conn, self.address)
        if self.want_reply:
            self.replies = event.container.create_receiver(self.conn, None, dynamic=True)
        self.start = time.time()

    def on_link_opened(self, event):
        if self.want_reply and event.receiver == getattr(self, "replies", None):
            self.reply_to = event.receiver.remote_source.address
            self.maybe_send()

    def on_sendable(self, event):
        if event.sender == self.sender:
            self.maybe_send()

    def maybe_send(self):
        if self.sent or self.sender.credit == 0 or (self.want_reply and not self.reply_to):
            return
        print("credit after %.1fs" % (time.time() - self.start), flush=True)
        self.sender.send(Message(body=self.body, reply_to=self.reply_to))
        self.sent = True

    def on_accepted(self, event):
        print("outcome accepted", flush=True)
        self.done_outcome()

    def on_rejected(self, event):
        c = event.delivery.remote.condition
        print("outcome rejected %s %s" % (c.name if c else None, c.description if c else None), flush=True)
        self.done_outcome()

    def on_released(self, event):
        print("outcome released" if event.delivery.remote_state == event.delivery.RELEASED else "outcome modified", flush=True)
        self.done_outcome()

    def on_message(self, event):
        print("reply %s" % event.message.body, flush=True)
        self.reply_seen = True
        self.maybe_close()

    def done_outcome(self):
        self.outcome_seen = True
        self.maybe_close()

    def maybe_close(self):
        if self.outcome_seen and self.reply_seen:
            self.conn.close()


Container(Producer("amqp://" + sys.argv[1], sys.argv[2], sys.argv[3], len(sys.argv) > 4)).run()
