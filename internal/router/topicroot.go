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
