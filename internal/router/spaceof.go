package router

// SpaceOf names the address space a client authenticated as user (with no
// TLS server name or open hostname) is placed in, "" when none: the MQTT
// gateway keys its persistent sessions by it.
func (r *Router) SpaceOf(user string) string {
	if s := r.placeConnection("", "", user); s != nil {
		return s.cfg().Name
	}
	return ""
}
