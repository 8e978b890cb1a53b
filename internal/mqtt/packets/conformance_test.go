package packets

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// connectV4 and connectV5 build a CONNECT body around the given flags and
// payload fields.
func connectV4(flags byte, payload ...[]byte) []byte {
	return pkt(0x10, cat(str("MQTT"), []byte{4, flags, 0, 60}), cat(payload...))
}

func connectV5(flags byte, properties []byte, payload ...[]byte) []byte {
	return pkt(0x10, cat(str("MQTT"), []byte{5, flags, 0, 60}), properties, cat(payload...))
}

// rejectCase is a packet the decoder must refuse with the given reason code
// and, when rule is set, the given conformance statement.
type rejectCase struct {
	version byte
	raw     []byte
	code    ReasonCode
	rule    string
}

var rejects = map[string]rejectCase{
	// ---- fixed header and framing ----
	"packet type 0":                       {4, []byte{0x00, 0x00}, ReasonMalformedPacket, ""},
	"remaining length of 5 bytes":         {4, []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, ReasonMalformedPacket, ""},
	"CONNECT reserved flags":              {4, []byte{0x11, 0x00}, ReasonMalformedPacket, "MQTT-2.2.2-1"},
	"CONNACK reserved flags":              {4, []byte{0x21, 2, 0, 0}, ReasonMalformedPacket, "MQTT-2.2.2-1"},
	"PUBACK reserved flags":               {5, []byte{0x42, 2, 0, 1}, ReasonMalformedPacket, "MQTT-2.2.2-1"},
	"PUBREL flags 0000":                   {4, []byte{0x60, 2, 0, 1}, ReasonMalformedPacket, "MQTT-2.2.2-1"},
	"SUBSCRIBE flags 0000":                {4, cat([]byte{0x80, 6, 0, 1}, str("a"), []byte{0})[:8], ReasonMalformedPacket, "MQTT-2.2.2-1"},
	"UNSUBSCRIBE flags 0000":              {5, []byte{0xA0, 6, 0, 1, 0, 0, 1, 'a'}, ReasonMalformedPacket, "MQTT-2.2.2-1"},
	"PINGREQ flags":                       {4, []byte{0xC1, 0}, ReasonMalformedPacket, "MQTT-2.2.2-1"},
	"DISCONNECT flags":                    {5, []byte{0xE8, 0}, ReasonMalformedPacket, "MQTT-2.2.2-1"},
	"AUTH flags 0001 (as paho writes it)": {5, []byte{0xF1, 0}, ReasonMalformedPacket, "MQTT-2.2.2-1"},
	"AUTH in 3.1.1":                       {4, []byte{0xF0, 0}, ReasonMalformedPacket, ""},
	"no CONNECT first":                    {0, []byte{0xC0, 0}, ReasonProtocolError, "MQTT-3.1.0-1"},
	"PINGREQ with a body":                 {4, []byte{0xC0, 1, 0}, ReasonMalformedPacket, ""},
	"PINGRESP with a body":                {5, []byte{0xD0, 1, 0}, ReasonMalformedPacket, ""},
	"DISCONNECT with a body in 3.1.1":     {4, []byte{0xE0, 1, 0}, ReasonMalformedPacket, ""},
	"PUBACK too long in 3.1.1":            {4, []byte{0x40, 3, 0, 1, 0}, ReasonMalformedPacket, ""},
	"PUBACK too short":                    {4, []byte{0x40, 1, 0}, ReasonMalformedPacket, ""},
	"UNSUBACK too long in 3.1.1":          {4, []byte{0xB0, 3, 0, 1, 0}, ReasonMalformedPacket, ""},

	// ---- UTF-8 strings [MQTT-1.5.4-1..3] ----
	"topic with U+0000":               {4, pkt(0x30, str("a\x00b")), ReasonMalformedPacket, "MQTT-1.5.4-2"},
	"topic with a surrogate U+D800":   {5, pkt(0x30, str("a\xED\xA0\x80"), []byte{0}), ReasonMalformedPacket, "MQTT-1.5.4-1"},
	"topic with a surrogate U+DFFF":   {4, pkt(0x30, str("\xED\xBF\xBF")), ReasonMalformedPacket, "MQTT-1.5.4-1"},
	"topic with byte 0xFF":            {4, pkt(0x30, str("a\xFF")), ReasonMalformedPacket, "MQTT-1.5.4-1"},
	"topic with an overlong '/'":      {4, pkt(0x30, str("a\xC0\xAFb")), ReasonMalformedPacket, "MQTT-1.5.4-1"},
	"topic with a truncated sequence": {4, pkt(0x30, str("a\xE2\x82")), ReasonMalformedPacket, "MQTT-1.5.4-1"},
	"topic above U+10FFFF":            {4, pkt(0x30, str("\xF4\x90\x80\x80")), ReasonMalformedPacket, "MQTT-1.5.4-1"},
	"client identifier with U+0000":   {4, connectV4(0x02, str("a\x00")), ReasonMalformedPacket, "MQTT-1.5.4-2"},
	"user name not UTF-8":             {4, connectV4(0x82, str("c"), str("\xC3")), ReasonMalformedPacket, "MQTT-1.5.4-1"},
	"user property name with U+0000":  {5, pkt(0x30, str("t"), props([]byte{0x26}, str("\x00"), str("v"))), ReasonMalformedPacket, "MQTT-1.5.4-2"},
	"user property value not UTF-8":   {5, pkt(0x30, str("t"), props([]byte{0x26}, str("k"), str("\x80"))), ReasonMalformedPacket, "MQTT-1.5.4-1"},
	"reason string not UTF-8":         {5, pkt(0x40, []byte{0, 1, 0x80}, props([]byte{0x1F}, str("\xFE"))), ReasonMalformedPacket, "MQTT-1.5.4-1"},
	"string length past the packet":   {4, []byte{0x30, 4, 0x00, 0x05, 'a', 'b'}, ReasonMalformedPacket, ""},
	"string length cut in half":       {4, []byte{0x30, 1, 0x00}, ReasonMalformedPacket, ""},
	"SUBSCRIBE filter with U+0000":    {4, pkt(0x82, []byte{0, 1}, str("a\x00"), []byte{0}), ReasonMalformedPacket, "MQTT-1.5.4-2"},
	"UNSUBSCRIBE filter not UTF-8":    {5, pkt(0xA2, []byte{0, 1, 0}, str("\xC0")), ReasonMalformedPacket, "MQTT-1.5.4-1"},
	"will topic with a surrogate":     {4, connectV4(0x06, str("c"), str("\xED\xA0\x80"), str("p")), ReasonMalformedPacket, "MQTT-1.5.4-1"},

	// ---- PUBLISH ----
	"PUBLISH QoS 3":                            {4, pkt(0x36, str("t"), []byte{0, 1}), ReasonMalformedPacket, "MQTT-3.3.1-4"},
	"PUBLISH QoS 3 in 5.0":                     {5, pkt(0x37, str("t"), []byte{0, 1, 0}), ReasonMalformedPacket, "MQTT-3.3.1-4"},
	"PUBLISH DUP at QoS 0":                     {4, pkt(0x38, str("t")), ReasonMalformedPacket, "MQTT-3.3.1-2"},
	"PUBLISH topic with '+'":                   {4, pkt(0x30, str("a/+")), ReasonTopicNameInvalid, "MQTT-3.3.2-2"},
	"PUBLISH topic with '#'":                   {5, pkt(0x30, str("#"), []byte{0}), ReasonTopicNameInvalid, "MQTT-3.3.2-2"},
	"PUBLISH empty topic in 3.1.1":             {4, pkt(0x30, str(""), []byte("x")), ReasonProtocolError, "MQTT-4.7.3-1"},
	"PUBLISH empty topic without an alias":     {5, pkt(0x30, str(""), []byte{0}), ReasonProtocolError, "MQTT-4.7.3-1"},
	"PUBLISH QoS 1 packet identifier 0":        {4, pkt(0x32, str("t"), []byte{0, 0}), ReasonProtocolError, "MQTT-2.3.1-1"},
	"PUBLISH QoS 2 no packet identifier":       {4, pkt(0x34, str("t"), []byte{0}), ReasonMalformedPacket, ""},
	"PUBLISH Topic Alias 0":                    {5, pkt(0x30, str("t"), props([]byte{0x23, 0, 0})), ReasonTopicAliasInvalid, "MQTT-3.3.2-8"},
	"PUBLISH Topic Alias twice":                {5, pkt(0x30, str("t"), props([]byte{0x23, 0, 1}, []byte{0x23, 0, 2})), ReasonProtocolError, ""},
	"PUBLISH Content Type twice":               {5, pkt(0x30, str("t"), props([]byte{0x03}, str("a"), []byte{0x03}, str("b"))), ReasonProtocolError, ""},
	"PUBLISH Session Expiry Interval":          {5, pkt(0x30, str("t"), props([]byte{0x11, 0, 0, 0, 1})), ReasonProtocolError, ""},
	"PUBLISH Will Delay Interval":              {5, pkt(0x30, str("t"), props([]byte{0x18, 0, 0, 0, 1})), ReasonProtocolError, ""},
	"PUBLISH unknown property 0x04":            {5, pkt(0x30, str("t"), props([]byte{0x04, 0})), ReasonMalformedPacket, ""},
	"PUBLISH two-byte property identifier":     {5, pkt(0x30, str("t"), props([]byte{0x81, 0x00, 0})), ReasonMalformedPacket, ""},
	"PUBLISH property length past the packet":  {5, pkt(0x30, str("t"), []byte{9, 0x01, 0x01}), ReasonMalformedPacket, ""},
	"PUBLISH property length of 5 bytes":       {5, pkt(0x30, str("t"), []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x01}), ReasonMalformedPacket, ""},
	"PUBLISH property value past its length":   {5, pkt(0x30, str("t"), []byte{2, 0x02, 0, 0, 0, 1}), ReasonMalformedPacket, ""},
	"PUBLISH Payload Format Indicator 2":       {5, pkt(0x30, str("t"), props([]byte{0x01, 2})), ReasonProtocolError, ""},
	"PUBLISH Subscription Identifier 0":        {5, pkt(0x30, str("t"), props([]byte{0x0B, 0})), ReasonProtocolError, ""},
	"PUBLISH Subscription Identifier too long": {5, pkt(0x30, str("t"), props([]byte{0x0B, 0x80, 0x80, 0x80, 0x80, 0x01})), ReasonMalformedPacket, ""},
	"PUBLISH Response Topic with a wildcard":   {5, pkt(0x30, str("t"), props([]byte{0x08}, str("r/#"))), ReasonProtocolError, "MQTT-3.3.2-14"},
	"PUBLISH empty Response Topic":             {5, pkt(0x30, str("t"), props([]byte{0x08}, str(""))), ReasonProtocolError, "MQTT-3.3.2-13"},
	"PUBLISH Correlation Data truncated":       {5, pkt(0x30, str("t"), props([]byte{0x09, 0, 5, 1})), ReasonMalformedPacket, ""},
	"PUBLISH no property length":               {5, pkt(0x30, str("t")), ReasonMalformedPacket, ""},

	// ---- CONNECT ----
	"CONNECT MQTT 3.1 (MQIsdp, level 3)":           {4, pkt(0x10, str("MQIsdp"), []byte{3, 2, 0, 60}, str("c")), ReasonUnsupportedProtocolVersion, "MQTT-3.1.2-1"},
	"CONNECT protocol name mqtt":                   {4, pkt(0x10, str("mqtt"), []byte{4, 2, 0, 60}, str("c")), ReasonUnsupportedProtocolVersion, "MQTT-3.1.2-1"},
	"CONNECT level 6":                              {4, pkt(0x10, str("MQTT"), []byte{6, 2, 0, 60}, str("c")), ReasonUnsupportedProtocolVersion, "MQTT-3.1.2-2"},
	"CONNECT level 3 with name MQTT":               {5, pkt(0x10, str("MQTT"), []byte{3, 2, 0, 60}, str("c")), ReasonUnsupportedProtocolVersion, "MQTT-3.1.2-2"},
	"CONNECT reserved flag":                        {4, connectV4(0x03, str("c")), ReasonMalformedPacket, "MQTT-3.1.2-3"},
	"CONNECT reserved flag in 5.0":                 {5, connectV5(0x01, []byte{0}, str("c")), ReasonMalformedPacket, "MQTT-3.1.2-3"},
	"CONNECT Will QoS without the Will Flag":       {4, connectV4(0x0A, str("c")), ReasonMalformedPacket, "MQTT-3.1.2-11"},
	"CONNECT Will Retain without the Will Flag":    {5, connectV5(0x22, []byte{0}, str("c")), ReasonMalformedPacket, "MQTT-3.1.2-13"},
	"CONNECT Will QoS 3":                           {4, connectV4(0x1E, str("c"), str("w"), str("p")), ReasonMalformedPacket, "MQTT-3.1.2-12"},
	"CONNECT password without user name 3.1.1":     {4, connectV4(0x42, str("c"), str("pw")), ReasonMalformedPacket, "MQTT-3.1.2-22"},
	"CONNECT empty client id, no clean session":    {4, connectV4(0x00, str("")), ReasonClientIdentifierNotValid, "MQTT-3.1.3-8"},
	"CONNECT will topic with a wildcard":           {4, connectV4(0x06, str("c"), str("w/+"), str("p")), ReasonTopicNameInvalid, "MQTT-3.3.2-2"},
	"CONNECT empty will topic":                     {5, connectV5(0x06, []byte{0}, str("c"), []byte{0}, str(""), str("p")), ReasonTopicNameInvalid, "MQTT-4.7.3-1"},
	"CONNECT user name flag, no user name":         {4, connectV4(0x82, str("c")), ReasonMalformedPacket, ""},
	"CONNECT password flag, no password":           {5, connectV5(0x42, []byte{0}, str("c")), ReasonMalformedPacket, ""},
	"CONNECT will flag, no will payload":           {4, connectV4(0x06, str("c"), str("w")), ReasonMalformedPacket, ""},
	"CONNECT bytes after the password":             {4, connectV4(0xC2, str("c"), str("u"), str("p"), []byte{0}), ReasonMalformedPacket, ""},
	"CONNECT bytes after the client id":            {4, connectV4(0x02, str("c"), []byte{'x'}), ReasonMalformedPacket, ""},
	"CONNECT truncated keep alive":                 {4, pkt(0x10, str("MQTT"), []byte{4, 2, 0}), ReasonMalformedPacket, ""},
	"CONNECT Authentication Data without method":   {5, connectV5(0x02, props([]byte{0x16}, str("d")), str("c")), ReasonProtocolError, ""},
	"CONNECT Session Expiry twice":                 {5, connectV5(0x02, props([]byte{0x11, 0, 0, 0, 1}, []byte{0x11, 0, 0, 0, 2}), str("c")), ReasonProtocolError, ""},
	"CONNECT Receive Maximum 0":                    {5, connectV5(0x02, props([]byte{0x21, 0, 0}), str("c")), ReasonProtocolError, ""},
	"CONNECT Maximum Packet Size 0":                {5, connectV5(0x02, props([]byte{0x27, 0, 0, 0, 0}), str("c")), ReasonProtocolError, ""},
	"CONNECT Request Problem Information 2":        {5, connectV5(0x02, props([]byte{0x17, 2}), str("c")), ReasonProtocolError, ""},
	"CONNECT Request Response Information 2":       {5, connectV5(0x02, props([]byte{0x19, 2}), str("c")), ReasonProtocolError, ""},
	"CONNECT Will Delay Interval outside the will": {5, connectV5(0x02, props([]byte{0x18, 0, 0, 0, 1}), str("c")), ReasonProtocolError, ""},
	"CONNECT Topic Alias":                          {5, connectV5(0x02, props([]byte{0x23, 0, 1}), str("c")), ReasonProtocolError, ""},
	"CONNECT Session Expiry in the will":           {5, connectV5(0x06, []byte{0}, str("c"), props([]byte{0x11, 0, 0, 0, 1}), str("w"), str("p")), ReasonProtocolError, ""},
	"CONNECT will property length past the packet": {5, connectV5(0x06, []byte{0}, str("c"), []byte{40}), ReasonMalformedPacket, ""},

	// ---- CONNACK ----
	"CONNACK reserved acknowledge flags":          {4, []byte{0x20, 2, 0x02, 0}, ReasonMalformedPacket, "MQTT-3.2.2-1"},
	"CONNACK return code 6":                       {4, []byte{0x20, 2, 0, 6}, ReasonProtocolError, ""},
	"CONNACK session present with a refusal":      {4, []byte{0x20, 2, 1, 5}, ReasonProtocolError, "MQTT-3.2.2-4"},
	"CONNACK session present with 0x87":           {5, []byte{0x20, 3, 1, 0x87, 0}, ReasonProtocolError, "MQTT-3.2.2-4"},
	"CONNACK too long in 3.1.1":                   {4, []byte{0x20, 3, 0, 0, 0}, ReasonMalformedPacket, ""},
	"CONNACK reason code 0x01":                    {5, []byte{0x20, 3, 0, 0x01, 0}, ReasonProtocolError, ""},
	"CONNACK no property length":                  {5, []byte{0x20, 2, 0, 0}, ReasonMalformedPacket, ""},
	"CONNACK Maximum QoS 2":                       {5, pkt(0x20, []byte{0, 0}, props([]byte{0x24, 2})), ReasonProtocolError, ""},
	"CONNACK Retain Available 2":                  {5, pkt(0x20, []byte{0, 0}, props([]byte{0x25, 2})), ReasonProtocolError, ""},
	"CONNACK Wildcard Subscription Available 7":   {5, pkt(0x20, []byte{0, 0}, props([]byte{0x28, 7})), ReasonProtocolError, ""},
	"CONNACK Shared Subscription Available twice": {5, pkt(0x20, []byte{0, 0}, props([]byte{0x2A, 1}, []byte{0x2A, 1})), ReasonProtocolError, ""},
	"CONNACK Request Problem Information":         {5, pkt(0x20, []byte{0, 0}, props([]byte{0x17, 1})), ReasonProtocolError, ""},

	// ---- PUBACK, PUBREC, PUBREL, PUBCOMP ----
	"PUBACK packet identifier 0":             {4, []byte{0x40, 2, 0, 0}, ReasonProtocolError, "MQTT-2.3.1-1"},
	"PUBCOMP packet identifier 0 in 5.0":     {5, []byte{0x70, 2, 0, 0}, ReasonProtocolError, "MQTT-2.3.1-1"},
	"PUBACK reason 0x92":                     {5, []byte{0x40, 3, 0, 1, 0x92}, ReasonProtocolError, ""},
	"PUBREC reason 0x04":                     {5, []byte{0x50, 3, 0, 1, 0x04}, ReasonProtocolError, ""},
	"PUBREL reason 0x10":                     {5, []byte{0x62, 3, 0, 1, 0x10}, ReasonProtocolError, ""},
	"PUBCOMP reason 0x80":                    {5, []byte{0x70, 3, 0, 1, 0x80}, ReasonProtocolError, ""},
	"PUBACK Topic Alias property":            {5, pkt(0x40, []byte{0, 1, 0}, props([]byte{0x23, 0, 1})), ReasonProtocolError, ""},
	"PUBACK property length past the packet": {5, []byte{0x40, 4, 0, 1, 0, 5}, ReasonMalformedPacket, ""},
	"PUBREL bytes after the properties":      {5, []byte{0x62, 5, 0, 1, 0, 0, 0}, ReasonMalformedPacket, ""},

	// ---- SUBSCRIBE ----
	"SUBSCRIBE v5 filter without options (mochi v2.7.9 crash)": {5, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 'a'}, ReasonMalformedPacket, ""},
	"SUBSCRIBE v4 filter without options":                      {4, []byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x01, 'a'}, ReasonMalformedPacket, ""},
	"SUBSCRIBE second filter without options":                  {5, pkt(0x82, []byte{0, 1, 0}, str("a"), []byte{1}, str("b")), ReasonMalformedPacket, ""},
	"SUBSCRIBE no filter":                                      {4, []byte{0x82, 2, 0, 1}, ReasonProtocolError, "MQTT-3.8.3-3"},
	"SUBSCRIBE no filter in 5.0":                               {5, []byte{0x82, 3, 0, 1, 0}, ReasonProtocolError, "MQTT-3.8.3-3"},
	"SUBSCRIBE packet identifier 0":                            {4, pkt(0x82, []byte{0, 0}, str("a"), []byte{0}), ReasonProtocolError, "MQTT-2.3.1-1"},
	"SUBSCRIBE v4 reserved QoS bits":                           {4, pkt(0x82, []byte{0, 1}, str("a"), []byte{0x04}), ReasonMalformedPacket, "MQTT-3-8.3-4"},
	"SUBSCRIBE v4 QoS 3":                                       {4, pkt(0x82, []byte{0, 1}, str("a"), []byte{0x03}), ReasonMalformedPacket, "MQTT-3-8.3-4"},
	"SUBSCRIBE v5 reserved option bits":                        {5, pkt(0x82, []byte{0, 1, 0}, str("a"), []byte{0x40}), ReasonMalformedPacket, "MQTT-3.8.3-5"},
	"SUBSCRIBE v5 QoS 3":                                       {5, pkt(0x82, []byte{0, 1, 0}, str("a"), []byte{0x03}), ReasonProtocolError, ""},
	"SUBSCRIBE v5 Retain Handling 3":                           {5, pkt(0x82, []byte{0, 1, 0}, str("a"), []byte{0x30}), ReasonProtocolError, ""},
	"SUBSCRIBE v5 No Local on a shared subscription":           {5, pkt(0x82, []byte{0, 1, 0}, str("$share/g/a"), []byte{0x04}), ReasonProtocolError, "MQTT-3.8.3-4"},
	"SUBSCRIBE '#' not last":                                   {4, pkt(0x82, []byte{0, 1}, str("a/#/b"), []byte{0}), ReasonTopicFilterInvalid, "MQTT-4.7.1-2"},
	"SUBSCRIBE '#' not alone in its level":                     {5, pkt(0x82, []byte{0, 1, 0}, str("a#"), []byte{0}), ReasonTopicFilterInvalid, "MQTT-4.7.1-2"},
	"SUBSCRIBE '+' not alone in its level":                     {4, pkt(0x82, []byte{0, 1}, str("a+/b"), []byte{0}), ReasonTopicFilterInvalid, "MQTT-4.7.1-3"},
	"SUBSCRIBE '+' followed by a character":                    {4, pkt(0x82, []byte{0, 1}, str("a/+b"), []byte{0}), ReasonTopicFilterInvalid, "MQTT-4.7.1-3"},
	"SUBSCRIBE empty filter":                                   {4, pkt(0x82, []byte{0, 1}, str(""), []byte{0}), ReasonTopicFilterInvalid, "MQTT-4.7.3-1"},
	"SUBSCRIBE $share without a filter":                        {5, pkt(0x82, []byte{0, 1, 0}, str("$share/g"), []byte{0}), ReasonTopicFilterInvalid, "MQTT-4.8.2-2"},
	"SUBSCRIBE $share with an empty filter":                    {5, pkt(0x82, []byte{0, 1, 0}, str("$share/g/"), []byte{0}), ReasonTopicFilterInvalid, "MQTT-4.7.3-1"},
	"SUBSCRIBE $share with an empty ShareName":                 {5, pkt(0x82, []byte{0, 1, 0}, str("$share//a"), []byte{0}), ReasonTopicFilterInvalid, "MQTT-4.8.2-1"},
	"SUBSCRIBE $share with '+' in the ShareName":               {5, pkt(0x82, []byte{0, 1, 0}, str("$share/g+/a"), []byte{0}), ReasonTopicFilterInvalid, "MQTT-4.8.2-1"},
	"SUBSCRIBE $share with a bad filter":                       {5, pkt(0x82, []byte{0, 1, 0}, str("$share/g/a/#/b"), []byte{0}), ReasonTopicFilterInvalid, "MQTT-4.7.1-2"},
	"SUBSCRIBE two Subscription Identifiers":                   {5, pkt(0x82, []byte{0, 1}, props([]byte{0x0B, 1}, []byte{0x0B, 2}), str("a"), []byte{0}), ReasonProtocolError, ""},
	"SUBSCRIBE Subscription Identifier 0":                      {5, pkt(0x82, []byte{0, 1}, props([]byte{0x0B, 0}), str("a"), []byte{0}), ReasonProtocolError, ""},
	"SUBSCRIBE Reason String property":                         {5, pkt(0x82, []byte{0, 1}, props([]byte{0x1F}, str("x")), str("a"), []byte{0}), ReasonProtocolError, ""},

	// ---- SUBACK ----
	"SUBACK v4 return code 3":      {4, []byte{0x90, 3, 0, 1, 3}, ReasonProtocolError, "MQTT-3.9.3-2"},
	"SUBACK v4 return code 0x87":   {4, []byte{0x90, 3, 0, 1, 0x87}, ReasonProtocolError, "MQTT-3.9.3-2"},
	"SUBACK v5 reason code 0x90":   {5, []byte{0x90, 4, 0, 1, 0, 0x90}, ReasonProtocolError, ""},
	"SUBACK without reason codes":  {4, []byte{0x90, 2, 0, 1}, ReasonProtocolError, ""},
	"SUBACK packet identifier 0":   {5, []byte{0x90, 4, 0, 0, 0, 0}, ReasonProtocolError, "MQTT-2.3.1-1"},
	"SUBACK v5 no property length": {5, []byte{0x90, 2, 0, 1}, ReasonMalformedPacket, ""},

	// ---- UNSUBSCRIBE, UNSUBACK ----
	"UNSUBSCRIBE no filter":           {4, []byte{0xA2, 2, 0, 1}, ReasonProtocolError, "MQTT-3.10.3-2"},
	"UNSUBSCRIBE no filter in 5.0":    {5, []byte{0xA2, 3, 0, 1, 0}, ReasonProtocolError, "MQTT-3.10.3-2"},
	"UNSUBSCRIBE bad filter":          {4, pkt(0xA2, []byte{0, 1}, str("a/#/")), ReasonTopicFilterInvalid, "MQTT-4.7.1-2"},
	"UNSUBSCRIBE packet identifier 0": {4, pkt(0xA2, []byte{0, 0}, str("a")), ReasonProtocolError, "MQTT-2.3.1-1"},
	"UNSUBSCRIBE truncated filter":    {4, []byte{0xA2, 5, 0, 1, 0, 5, 'a'}, ReasonMalformedPacket, ""},
	"UNSUBACK v5 reason code 0x01":    {5, []byte{0xB0, 4, 0, 1, 0, 0x01}, ReasonProtocolError, ""},
	"UNSUBACK v5 no reason codes":     {5, []byte{0xB0, 3, 0, 1, 0}, ReasonProtocolError, ""},

	// ---- DISCONNECT, AUTH ----
	"DISCONNECT reason code 0x01":                     {5, []byte{0xE0, 1, 0x01}, ReasonProtocolError, ""},
	"DISCONNECT reason code 0x84":                     {5, []byte{0xE0, 1, 0x84}, ReasonProtocolError, ""},
	"DISCONNECT Topic Alias property":                 {5, pkt(0xE0, []byte{0}, props([]byte{0x23, 0, 1})), ReasonProtocolError, ""},
	"DISCONNECT property length past the end":         {5, []byte{0xE0, 2, 0, 3}, ReasonMalformedPacket, ""},
	"DISCONNECT bytes after the properties":           {5, []byte{0xE0, 3, 0, 0, 0}, ReasonMalformedPacket, ""},
	"AUTH reason code 0x80":                           {5, pkt(0xF0, []byte{0x80}, props([]byte{0x15}, str("m"))), ReasonProtocolError, ""},
	"AUTH reason code without properties":             {5, []byte{0xF0, 1, 0x18}, ReasonMalformedPacket, ""},
	"AUTH without an Authentication Method":           {5, []byte{0xF0, 2, 0x18, 0}, ReasonProtocolError, ""},
	"AUTH Success with a Reason String but no method": {5, pkt(0xF0, []byte{0x00}, props([]byte{0x1F}, str("x"))), ReasonProtocolError, ""},
	"AUTH Session Expiry Interval":                    {5, pkt(0xF0, []byte{0x19}, props([]byte{0x15}, str("m"), []byte{0x11, 0, 0, 0, 1})), ReasonProtocolError, ""},
}

func TestRejects(t *testing.T) {
	for name, tc := range rejects {
		t.Run(name, func(t *testing.T) {
			p, err := decodeRaw(tc.version, tc.raw)
			if err == nil {
				t.Fatalf("decoded % x to %s", tc.raw, show(p))
			}
			if got := codeOf(err); got != tc.code {
				t.Fatalf("code %v, want %v (error: %v)", got, tc.code, err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error", err)
			}
			if e.Rule != tc.rule {
				t.Errorf("rule %q, want %q (error: %v)", e.Rule, tc.rule, err)
			}
			if e.Packet == 0 && tc.raw[0]>>4 != 0 {
				t.Errorf("error does not name the packet: %v", err)
			}
			if tc.rule != "" && !strings.Contains(err.Error(), "["+tc.rule+"]") {
				t.Errorf("message %q lacks the rule", err)
			}
		})
	}
}

// TestConnectErrorKeepsVersion: when CONNECT is refused for its level, the
// gateway still learns the level to answer in.
func TestConnectErrorKeepsVersion(t *testing.T) {
	for name, tc := range map[string]struct {
		raw  []byte
		want byte
		v3   byte
	}{
		"level 3":                  {pkt(0x10, str("MQIsdp"), []byte{3, 2, 0, 60}, str("c")), 3, V3UnacceptableProtocolVersion},
		"level 6":                  {pkt(0x10, str("MQTT"), []byte{6, 2, 0, 60}, str("c")), 6, V3UnacceptableProtocolVersion},
		"3.1.1 empty id, no clean": {connectV4(0, str("")), 4, V3IdentifierRejected},
	} {
		t.Run(name, func(t *testing.T) {
			fh, body := splitPacket(t, tc.raw)
			var c Connect
			err := c.Decode(0, fh, body)
			if err == nil || c.ProtocolVersion != tc.want {
				t.Fatalf("err %v, version %d", err, c.ProtocolVersion)
			}
			var rc ReasonCode
			if !errors.As(err, &rc) {
				t.Fatal(err)
			}
			if v3, ok := rc.V3ConnackCode(); !ok || v3 != tc.v3 {
				t.Fatalf("3.1.1 return code %d %v, want %d", v3, ok, tc.v3)
			}
		})
	}
}

// TestAccepts lists edge cases that are valid and must decode.
func TestAccepts(t *testing.T) {
	for name, tc := range map[string]struct {
		version byte
		raw     []byte
		check   func(Packet) bool
	}{
		"non-minimal remaining length": {4, []byte{0xC0, 0x80, 0x00}, func(p Packet) bool { _, ok := p.(*Pingreq); return ok }},
		"BOM in a topic is kept [MQTT-1.5.4-3]": {5, pkt(0x30, str("\uFEFFt"), []byte{0}), func(p Packet) bool {
			return p.(*Publish).Topic == "\uFEFFt"
		}},
		"control character U+0001 in a topic": {4, pkt(0x30, str("a\x01")), func(p Packet) bool { return p.(*Publish).Topic == "a\x01" }},
		"non-character U+FFFF in a topic":     {4, pkt(0x30, str("\uFFFF")), func(p Packet) bool { return p.(*Publish).Topic == "\uFFFF" }},
		"four-byte UTF-8 U+1F600":             {4, pkt(0x30, str("😀")), func(p Packet) bool { return p.(*Publish).Topic == "😀" }},
		"'$share' without slash is a plain filter in 5.0": {5, pkt(0x82, []byte{0, 1, 0}, str("$share"), []byte{0}), func(p Packet) bool {
			return p.(*Subscribe).Subscriptions[0].Filter == "$share"
		}},
		"'$share/g/a' in 3.1.1 with No Local bits ignored": {4, pkt(0x82, []byte{0, 1}, str("$share/g/a"), []byte{1}), func(p Packet) bool {
			return p.(*Subscribe).Subscriptions[0].QoS == 1
		}},
		"single '+' and '#' filters": {4, pkt(0x82, []byte{0, 1}, str("+"), []byte{0}, str("+/+/#"), []byte{1}, str("/"), []byte{2}), func(p Packet) bool {
			return len(p.(*Subscribe).Subscriptions) == 3
		}},
		"v5 PUBACK with an empty property section": {5, []byte{0x40, 4, 0, 1, 0x10, 0}, func(p Packet) bool {
			return p.(*Puback).ReasonCode == ReasonNoMatchingSubscribers
		}},
		"v5 DISCONNECT reason with empty properties": {5, []byte{0xE0, 2, 0x8B, 0}, func(p Packet) bool {
			return p.(*Disconnect).ReasonCode == ReasonServerShuttingDown
		}},
		"v5 PUBLISH zero-valued properties decode as absent": {5, pkt(0x30, str("t"), props([]byte{0x01, 0}, []byte{0x03}, str(""))), func(p Packet) bool {
			return p.(*Publish).Properties.empty()
		}},
		"v5 CONNACK session present with success":        {5, []byte{0x20, 3, 1, 0, 0}, func(p Packet) bool { return p.(*Connack).SessionPresent }},
		"v5 AUTH Success written in full (as paho does)": {5, []byte{0xF0, 2, 0, 0}, func(p Packet) bool { return equal(p, &Auth{}) }},
		"v5 CONNACK Session Expiry Interval 0 is kept": {5, pkt(0x20, []byte{0, 0}, props([]byte{0x11, 0, 0, 0, 0})), func(p Packet) bool {
			return p.(*Connack).Properties.HasSessionExpiryInterval && p.(*Connack).Properties.Has(PropSessionExpiryInterval)
		}},
		"v4 CONNECT password with user name": {4, connectV4(0xC2, str("c"), str("u"), str("")), func(p Packet) bool { return p.(*Connect).HasPassword }},
		"v5 empty will payload":              {5, connectV5(0x06, []byte{0}, str("c"), []byte{0}, str("w"), str("")), func(p Packet) bool { return p.(*Connect).Will != nil }},
		"max-length topic (65535 bytes)": {4, pkt(0x30, str(strings.Repeat("a", 0xFFFF))), func(p Packet) bool {
			return len(p.(*Publish).Topic) == 0xFFFF
		}},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := decodeRaw(tc.version, tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(p) {
				t.Fatalf("unexpected value %s", show(p))
			}
		})
	}
}

// TestEncodeRejects: Append refuses what Decode would reject, with the same
// reason code.
func TestEncodeRejects(t *testing.T) {
	long := strings.Repeat("x", 0x10000)
	for name, tc := range map[string]struct {
		version byte
		p       Packet
		code    ReasonCode
	}{
		"PUBLISH QoS 3":                                {4, &Publish{Topic: "t", QoS: 3, PacketID: 1}, ReasonMalformedPacket},
		"PUBLISH QoS 1 packet identifier 0":            {5, &Publish{Topic: "t", QoS: 1}, ReasonProtocolError},
		"PUBLISH DUP at QoS 0":                         {4, &Publish{Topic: "t", Dup: true}, ReasonMalformedPacket},
		"PUBLISH wildcard topic":                       {4, &Publish{Topic: "a/+"}, ReasonTopicNameInvalid},
		"PUBLISH empty topic 3.1.1":                    {4, &Publish{}, ReasonProtocolError},
		"PUBLISH empty topic, no alias":                {5, &Publish{}, ReasonProtocolError},
		"PUBLISH topic not UTF-8":                      {4, &Publish{Topic: "\xFF"}, ReasonMalformedPacket},
		"PUBLISH topic with U+0000":                    {4, &Publish{Topic: "a\x00"}, ReasonMalformedPacket},
		"PUBLISH topic too long":                       {4, &Publish{Topic: long}, ReasonMalformedPacket},
		"PUBLISH Session Expiry Interval":              {5, &Publish{Topic: "t", Properties: Properties{SessionExpiryInterval: 1}}, ReasonProtocolError},
		"PUBLISH Payload Format 2":                     {5, &Publish{Topic: "t", Properties: Properties{PayloadFormatIndicator: 2}}, ReasonProtocolError},
		"PUBLISH Response Topic wildcard":              {5, &Publish{Topic: "t", Properties: Properties{ResponseTopic: "#"}}, ReasonProtocolError},
		"PUBLISH Subscription Identifier too large":    {5, &Publish{Topic: "t", Properties: Properties{SubscriptionIdentifiers: []uint32{MaxRemainingLength + 1}}}, ReasonProtocolError},
		"PUBLISH user property with U+0000":            {5, &Publish{Topic: "t", Properties: Properties{User: []UserProperty{{"a\x00", ""}}}}, ReasonMalformedPacket},
		"PUBLISH Correlation Data too long":            {5, &Publish{Topic: "t", Properties: Properties{CorrelationData: []byte(long)}}, ReasonMalformedPacket},
		"CONNECT password without user name 3.1.1":     {4, &Connect{ClientID: "c", CleanStart: true, HasPassword: true}, ReasonMalformedPacket},
		"CONNECT user name without its flag":           {4, &Connect{ClientID: "c", CleanStart: true, Username: "u"}, ReasonMalformedPacket},
		"CONNECT empty id without clean session 3.1.1": {4, &Connect{}, ReasonClientIdentifierNotValid},
		"CONNECT Will QoS 3":                           {5, &Connect{Will: &Will{Topic: "w", QoS: 3}}, ReasonMalformedPacket},
		"CONNECT will topic wildcard":                  {5, &Connect{Will: &Will{Topic: "w/#"}}, ReasonTopicNameInvalid},
		"CONNECT Will Delay in CONNECT properties":     {5, &Connect{Properties: Properties{WillDelayInterval: 1}}, ReasonProtocolError},
		"CONNECT Authentication Data without method":   {5, &Connect{Properties: Properties{AuthenticationData: []byte{1}}}, ReasonProtocolError},
		"CONNECT level 3":                              {3, &Connect{ClientID: "c"}, ReasonUnsupportedProtocolVersion},
		"CONNACK Malformed in 3.1.1":                   {4, &Connack{ReasonCode: ReasonMalformedPacket}, ReasonProtocolError},
		"CONNACK Granted QoS 1":                        {5, &Connack{ReasonCode: ReasonGrantedQoS1}, ReasonProtocolError},
		"CONNACK session present refusal":              {5, &Connack{SessionPresent: true, ReasonCode: ReasonBanned}, ReasonProtocolError},
		"CONNACK Maximum QoS 2":                        {5, &Connack{Properties: Properties{MaximumQoS: 2, HasMaximumQoS: true}}, ReasonProtocolError},
		"PUBACK packet identifier 0":                   {4, &Puback{}, ReasonProtocolError},
		"PUBREL reason 0x10":                           {5, &Pubrel{PacketID: 1, ReasonCode: ReasonNoMatchingSubscribers}, ReasonProtocolError},
		"PUBACK Topic Alias":                           {5, &Puback{PacketID: 1, Properties: Properties{TopicAlias: 1}}, ReasonProtocolError},
		"SUBSCRIBE no subscription":                    {4, &Subscribe{PacketID: 1}, ReasonProtocolError},
		"SUBSCRIBE bad filter":                         {4, &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a#"}}}, ReasonTopicFilterInvalid},
		"SUBSCRIBE QoS 3":                              {4, &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a", QoS: 3}}}, ReasonMalformedPacket},
		"SUBSCRIBE Retain Handling 3":                  {5, &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a", RetainHandling: 3}}}, ReasonProtocolError},
		"SUBSCRIBE No Local shared":                    {5, &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "$share/g/a", NoLocal: true}}}, ReasonProtocolError},
		"SUBSCRIBE bad $share":                         {5, &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "$share/g"}}}, ReasonTopicFilterInvalid},
		"SUBSCRIBE two identifiers":                    {5, &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a"}}, Properties: Properties{SubscriptionIdentifiers: []uint32{1, 2}}}, ReasonProtocolError},
		"SUBACK no codes":                              {4, &Suback{PacketID: 1}, ReasonProtocolError},
		"SUBACK code 0x90":                             {5, &Suback{PacketID: 1, ReasonCodes: []ReasonCode{ReasonTopicNameInvalid}}, ReasonProtocolError},
		"UNSUBSCRIBE no filter":                        {5, &Unsubscribe{PacketID: 1}, ReasonProtocolError},
		"UNSUBSCRIBE empty filter":                     {4, &Unsubscribe{PacketID: 1, Filters: []string{""}}, ReasonTopicFilterInvalid},
		"UNSUBACK code 0x01":                           {5, &Unsuback{PacketID: 1, ReasonCodes: []ReasonCode{1}}, ReasonProtocolError},
		"DISCONNECT code 0x85":                         {5, &Disconnect{ReasonCode: ReasonClientIdentifierNotValid}, ReasonProtocolError},
		"AUTH in 3.1.1":                                {4, &Auth{}, ReasonProtocolError},
		"AUTH continue without a method":               {5, &Auth{ReasonCode: ReasonContinueAuthentication}, ReasonProtocolError},
		"PINGREQ unknown level":                        {0, &Pingreq{}, ReasonProtocolError},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := Append([]byte("keep"), tc.p, tc.version)
			if got := codeOf(err); got != tc.code {
				t.Fatalf("code %v, want %v (error: %v)", got, tc.code, err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Packet != tc.p.Type() {
				t.Errorf("error does not name %v: %v", tc.p.Type(), err)
			}
			if !bytes.Equal(out, []byte("keep")) {
				t.Errorf("dst changed to %q", out)
			}
		})
	}
}

func TestEncodeTooLarge(t *testing.T) {
	if _, err := appendHeader(nil, 0x30, MaxRemainingLength); err != nil {
		t.Fatal(err)
	}
	_, err := appendHeader(nil, 0x30, MaxRemainingLength+1)
	if codeOf(err) != ReasonPacketTooLarge {
		t.Fatalf("got %v", err)
	}
}

// TestV3ConnackMapping: every 3.1.1 return code maps to a reason code and
// back.
func TestV3ConnackMapping(t *testing.T) {
	for code := 0; code < 256; code++ {
		rc, ok := ReasonFromV3Connack(byte(code))
		if ok != (code <= 5) {
			t.Fatalf("return code %d: ok=%v", code, ok)
		}
		if !ok {
			continue
		}
		back, ok := rc.V3ConnackCode()
		if !ok || back != byte(code) {
			t.Fatalf("return code %d -> %v -> %d %v", code, rc, back, ok)
		}
		raw, err := Append(nil, &Connack{ReasonCode: rc}, Version311)
		if err != nil || !bytes.Equal(raw, []byte{0x20, 2, 0, byte(code)}) {
			t.Fatalf("encode %v: % x %v", rc, raw, err)
		}
	}
	for _, rc := range []ReasonCode{ReasonServerBusy, ReasonQuotaExceeded, ReasonBanned, ReasonBadAuthenticationMethod} {
		if _, ok := rc.V3ConnackCode(); !ok {
			t.Errorf("%v has no 3.1.1 code", rc)
		}
	}
	for _, rc := range []ReasonCode{ReasonMalformedPacket, ReasonProtocolError, ReasonPacketTooLarge, ReasonTopicNameInvalid} {
		if _, ok := rc.V3ConnackCode(); ok {
			t.Errorf("%v maps to a 3.1.1 code", rc)
		}
	}
}

func TestReasonCodeError(t *testing.T) {
	_, err := decodeRaw(5, pkt(0x30, str("a/+"), []byte{0}))
	var rc ReasonCode
	if !errors.As(err, &rc) || rc != ReasonTopicNameInvalid {
		t.Fatalf("errors.As: %v", err)
	}
	if !errors.Is(err, ReasonTopicNameInvalid) || errors.Is(err, ReasonMalformedPacket) {
		t.Fatalf("errors.Is: %v", err)
	}
	if got := err.Error(); got != "mqtt PUBLISH: wildcard character in topic name [MQTT-3.3.2-2]: Topic Name invalid (0x90)" {
		t.Fatalf("message %q", got)
	}
	if ReasonPacketTooLarge.Error() != "mqtt: Packet too large (0x95)" || ReasonCode(0x42).String() != "reason code 0x42" {
		t.Fatalf("names: %q %q", ReasonPacketTooLarge.Error(), ReasonCode(0x42).String())
	}
	if !ReasonUnspecifiedError.IsError() || ReasonNoMatchingSubscribers.IsError() {
		t.Fatal("IsError")
	}
	defined := 0
	for c := 0; c < 256; c++ {
		if ReasonCode(c).Defined() {
			defined++
		}
	}
	if defined != 43 {
		t.Fatalf("%d defined reason codes, want 43", defined)
	}
}

// TestDecodeConnectErrorReturnsPacket: Decode and ReadPacket hand back a
// failed CONNECT with what was read, so the gateway knows the version.
func TestDecodeConnectErrorReturnsPacket(t *testing.T) {
	raw := connectV4(0x00, str(""))
	r := NewReader(bytes.NewReader(raw), 0)
	p, err := r.ReadPacket()
	c, ok := p.(*Connect)
	if err == nil || !ok || c.ProtocolVersion != 4 || r.Version != 0 {
		t.Fatalf("%s %v version %d", show(p), err, r.Version)
	}
	fh, body := splitPacket(t, golden["v4 PUBACK"].raw)
	body = body[:1]
	if p, err := Decode(4, fh, body); p != nil || err == nil {
		t.Fatalf("non-CONNECT error returned %s", show(p))
	}
}
