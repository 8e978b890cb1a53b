package packets

import "strings"

// Topic names and topic filters (MQTT 5.0 §4.7, 3.1.1 §4.7).

// ValidTopicName checks a topic name for a PUBLISH or a Will message: a UTF-8
// string of at least one character [MQTT-4.7.3-1] without the wildcard
// characters '+' and '#' [MQTT-4.7.1-1] [MQTT-3.3.2-2]. The error codes
// are Malformed Packet for bad UTF-8 and Topic Name invalid otherwise.
// (A v5 PUBLISH may have an empty topic name when it carries a Topic Alias;
// the PUBLISH decoder handles that case before calling this.)
func ValidTopicName(topic string) error {
	if err := checkEncString(topic, "topic name"); err != nil {
		return err
	}
	if topic == "" {
		return errorf(ReasonTopicNameInvalid, "MQTT-4.7.3-1", "empty topic name")
	}
	return checkTopicNameChars(topic)
}

func checkTopicNameChars(topic string) error {
	if strings.IndexByte(topic, '+') >= 0 || strings.IndexByte(topic, '#') >= 0 {
		return errorf(ReasonTopicNameInvalid, "MQTT-3.3.2-2", "wildcard character in topic name")
	}
	return nil
}

// ValidTopicFilter checks a topic filter for SUBSCRIBE or UNSUBSCRIBE: a
// UTF-8 string of at least one character [MQTT-4.7.3-1] where '#' appears
// only as the last character, alone in its level [MQTT-4.7.1-2], and '+'
// only alone in its level [MQTT-4.7.1-3]. A "$share/..." filter is checked
// as a plain filter; use SplitShared for the shared form. The error codes
// are Malformed Packet for bad UTF-8 and Topic Filter invalid otherwise.
func ValidTopicFilter(filter string) error {
	if err := checkEncString(filter, "topic filter"); err != nil {
		return err
	}
	return checkFilterSyntax(filter)
}

func checkFilterSyntax(f string) error {
	if f == "" {
		return errorf(ReasonTopicFilterInvalid, "MQTT-4.7.3-1", "empty topic filter")
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '#':
			if i != len(f)-1 || (i > 0 && f[i-1] != '/') {
				return errorf(ReasonTopicFilterInvalid, "MQTT-4.7.1-2", "'#' not alone in the last level of "+quote(f))
			}
		case '+':
			if (i > 0 && f[i-1] != '/') || (i+1 < len(f) && f[i+1] != '/') {
				return errorf(ReasonTopicFilterInvalid, "MQTT-4.7.1-3", "'+' not alone in its level in "+quote(f))
			}
		}
	}
	return nil
}

// SharePrefix starts a shared subscription's topic filter (MQTT 5.0 §4.8.2).
const SharePrefix = "$share/"

// SplitShared splits a shared subscription filter "$share/{ShareName}/{filter}"
// (MQTT 5.0 §4.8.2). For a filter that does not start with "$share/", shared
// is false and topicFilter is filter itself. A shared filter needs a
// ShareName of at least one character without '/', '+' or '#'
// [MQTT-4.8.2-1], followed by '/' and a valid topic filter [MQTT-4.8.2-2];
// otherwise err is a Topic Filter invalid *Error. SplitShared does not
// validate a non-shared filter; see ValidTopicFilter.
func SplitShared(filter string) (shareName, topicFilter string, shared bool, err error) {
	rest, ok := strings.CutPrefix(filter, SharePrefix)
	if !ok {
		return "", filter, false, nil
	}
	name, f, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", true, errorf(ReasonTopicFilterInvalid, "MQTT-4.8.2-2", "no topic filter after the ShareName in "+quote(filter))
	}
	if name == "" || strings.ContainsAny(name, "+#") {
		return "", "", true, errorf(ReasonTopicFilterInvalid, "MQTT-4.8.2-1", "bad ShareName in "+quote(filter))
	}
	if err := checkFilterSyntax(f); err != nil {
		return "", "", true, err
	}
	return name, f, true, nil
}

// checkFilter validates a received or to-be-sent filter for the version.
// In 5.0 a "$share/" filter must be a well-formed shared subscription; in
// 3.1.1 it is an ordinary filter.
func checkFilter(f string, version byte) (shared bool, err error) {
	if version == Version5 && strings.HasPrefix(f, SharePrefix) {
		_, _, _, err := SplitShared(f)
		return true, err
	}
	return false, checkFilterSyntax(f)
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return "\"" + s + "\""
}
