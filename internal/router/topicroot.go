package router

import "strings"

// EnsureTopic prepares a topic name or filter for a client placed in its
// address space by user (the MQTT gateway's hook, SPEC §4): when nothing
// in the space resolves name and the space auto-creates addresses, the
// first level of name becomes a topic address (MQTT clients get topics
// where AMQP clients get queues). A name that an address already resolves,
// a space that does not auto-create and a first level with wildcards are
// left alone: the attach then gets the usual answer.
func (r *Router) EnsureTopic(user, name string) error {
	s := r.placeConnection("", "", user)
	if s == nil {
		return errNoSpace
	}
	return r.ensureTopicIn(s, name)
}

// CapabilityMQTTTopics, desired in a connection's open, makes the router
// create topics instead of queues for that connection's unknown
// addresses in an auto-creating space, as EnsureTopic does (the first
// level of the name becomes a topic): what a separate MQTT gateway
// process (`enmasse mqtt-gateway`) asks for, since it cannot call
// EnsureTopic.
const CapabilityMQTTTopics = "enmasse:mqtt-topics"

func (r *Router) ensureTopicIn(s *space, name string) error {
	if a, _ := s.lookup(name, false); a != nil || !s.cfg().AutoCreate {
		return nil
	}
	root := name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		root = name[:i]
	}
	if root == "" || strings.ContainsAny(root, "+#") {
		return nil
	}
	space := s.cfg().Name
	if a, _ := s.lookup(root, false); a != nil {
		return r.SetAddress(space, root, Topic) // refuses another type with a clear error
	}
	if err := r.SetAddress(space, root, Topic); err != nil {
		return err
	}
	if r.opts.OnAutoCreate != nil {
		r.opts.OnAutoCreate(space, root, Topic)
	}
	return nil
}
