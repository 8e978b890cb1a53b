"""A Qpid Proton client attaching as Qpid JMS does for durable subscriptions.

usage: jms_durable.py HOST:PORT CONTAINER-ID LINK-NAME subscribe ADDRESS
       jms_durable.py HOST:PORT CONTAINER-ID LINK-NAME unsubscribe

subscribe: a receiver on ADDRESS with a durable source (terminus
durability unsettled-state, expiry never, capability "topic") named
LINK-NAME, as createDurableSubscriber makes; prints "ready" once it is
attached, then detaches it without closing (as Qpid JMS closes a durable
subscriber), prints "detached" and ends.

unsubscribe: the same source with no address and no credit, as
Session.unsubscribe attaches; prints "remote-source ADDRESS" (the address
in the server's answer), then closes the link (detach with closed set),
prints "closed" and ends. A refused attach prints "error CONDITION".
"""
import sys
from proton import Data
from proton.handlers import MessagingHandler
from proton.reactor import Container, DurableSubscription, LinkOption


class TopicCapability(LinkOption):
    def apply(self, link):
        link.source.capabilities.put_array(False, Data.SYMBOL)
        link.source.capabilities.enter()
        link.source.capabilities.put_symbol("topic")
        link.source.capabilities.exit()


class Client(MessagingHandler):
    def __init__(self, url, container_id, name, mode, address):
        super().__init__(prefetch=0)
        self.url, self.name, self.mode, self.address = url, name, mode, address
        self.done = False

    def on_start(self, event):
        self.conn = event.container.connect(self.url, allowed_mechs="ANONYMOUS")
        event.container.create_receiver(self.conn, self.address, name=self.name,
                                        options=[DurableSubscription(), TopicCapability()])

    def on_link_opened(self, event):
        if not event.receiver:
            return
        src = event.receiver.remote_source
        if src.address is None and self.mode == "unsubscribe":
            return  # refused: the detach with its error follows
        if self.mode == "subscribe":
            print("ready", flush=True)
            event.receiver.detach()
            print("detached", flush=True)
            self.finish(event)
        else:
            print("remote-source %s" % src.address, flush=True)
            event.receiver.close()

    def on_link_closed(self, event):
        if self.mode == "unsubscribe" and not self.done:
            print("closed", flush=True)
            self.finish(event)

    def on_link_error(self, event):
        cond = event.link.remote_condition
        print("error %s" % (cond.name if cond else "none"), flush=True)
        self.finish(event)

    def finish(self, event):
        self.done = True
        event.connection.close()

    def on_transport_error(self, event):
        cond = event.transport.condition
        if not self.done:
            print("transport-error %s" % (cond.name if cond else "none"), flush=True)


if __name__ == "__main__":
    url, cid, name, mode = sys.argv[1:5]
    address = sys.argv[5] if mode == "subscribe" else None
    c = Container(Client(url, cid, name, mode, address))
    c.container_id = cid
    c.run()
