"""A Qpid Proton consumer for router tests.

usage: consumer.py HOST:PORT ADDRESS COUNT MODE
MODE accept: accept each message; reject: reject with app:bad-order;
reply: accept and send "re: BODY" to the message's reply_to.
Prints "ready" once attached, then one "got BODY" line per message.
"""
import sys
from proton import Condition, Message
from proton.handlers import MessagingHandler
from proton.reactor import Container


class Consumer(MessagingHandler):
    def __init__(self, url, address, count, mode):
        super().__init__(prefetch=10, auto_accept=False)
        self.url, self.address, self.count, self.mode = url, address, count, mode
        self.seen = 0

    def on_start(self, event):
        self.conn = event.container.connect(self.url, allowed_mechs="ANONYMOUS")
        event.container.create_receiver(self.conn, self.address)
        if self.mode == "reply":
            self.replies = event.container.create_sender(self.conn, None)

    def on_link_opened(self, event):
        if event.receiver:
            print("ready", flush=True)

    def on_message(self, event):
        body = event.message.body
        print("got %s" % body, flush=True)
        if self.mode == "reject":
            event.delivery.local.condition = Condition("app:bad-order", "order 7 is invalid")
            self.reject(event.delivery)
        else:
            self.accept(event.delivery)
            if self.mode == "reply":
                self.replies.send(Message(address=event.message.reply_to, body="re: " + body))
        self.seen += 1
        if self.seen >= self.count:
            event.connection.close()


Container(Consumer("amqp://" + sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])).run()
