package node

import (
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// Interface guards for what the node plugs into what, where no single package may name both
// sides (adapters do not import each other; only the node knows every component).
var (
	_ sensorthings.Publisher = (*bus.Bus)(nil)            // SensorThings MQTT notifications go out on the bus
	_ bus.Authenticator      = (*auth.Authenticator)(nil) // MQTT and NATS clients log in with API keys
	_ sensorthings.Ingester  = (*ingest.Service)(nil)     // the API's observations take the one ingest path
	_ sensorthings.Atomic    = (*sqlq.Entities)(nil)      // batch change sets run in one store transaction
)
