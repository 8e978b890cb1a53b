package transport

// packer allocates the incoming deliveries of links with
// ReceiverOptions.PackDeliveries in blocks sized by what the current read
// from the socket still holds: the reader sets ahead before each frame and
// calls release once the read is consumed, so no block outlives the burst
// it was made for, and a connection that receives one message at a time
// allocates exactly as without packing. Guarded by Conn.mu.
type packer struct {
	ahead int        // bytes read from the socket after the current frame
	blk   []Delivery // unused deliveries of the current block
	arena []byte     // unused payload bytes of the current block
}

// Blocks never hold more than packMax deliveries or packArena payload
// bytes; frameOverhead estimates a transfer frame's bytes besides its
// payload.
const (
	packMax       = 64
	packArena     = 16 << 10
	frameOverhead = 40
)

// delivery returns a zeroed Delivery for a transfer with n payload bytes.
func (p *packer) delivery(n int) *Delivery {
	if len(p.blk) == 0 {
		p.blk = make([]Delivery, min(1+p.ahead/(n+frameOverhead), packMax))
	}
	d := &p.blk[0]
	p.blk = p.blk[1:]
	return d
}

// bytes returns a copy of b, cut from the current payload block.
func (p *packer) bytes(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	if len(b) > len(p.arena) {
		p.arena = make([]byte, max(len(b), min(len(b)+p.ahead, packArena)))
	}
	n := copy(p.arena, b)
	out := p.arena[:n:n]
	p.arena = p.arena[n:]
	return out
}

// release drops the current blocks (what was handed out stays valid).
func (p *packer) release() {
	if p.blk != nil || p.arena != nil {
		p.blk, p.arena = nil, nil
	}
}
