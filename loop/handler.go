package loop

// Action is what a callback asks of the loop.
type Action int

const (
	None  Action = iota // carry on
	Close               // close the connection, after sending what was written
)

// Handler receives a connection's events, on its loop.
type Handler interface {
	// OnOpen runs when a connection is accepted.
	OnOpen(c *Conn) Action
	// OnData runs with bytes received. in is valid until OnData returns:
	// copy what must outlive it.
	OnData(c *Conn, in []byte) Action
	// OnClose runs once, after the connection's descriptor is closed. err
	// is nil when the peer or the handler closed it, net.ErrClosed when the
	// server closed, or the error that ended it.
	OnClose(c *Conn, err error)
}

// Base is a Handler that does nothing: embed it and write the events
// wanted.
type Base struct{}

func (Base) OnOpen(*Conn) Action         { return None }
func (Base) OnData(*Conn, []byte) Action { return None }
func (Base) OnClose(*Conn, error)        {}
