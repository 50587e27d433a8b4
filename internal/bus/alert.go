package bus

import (
	"context"

	"github.com/rabta/rabta/internal/alert"
)

// AlertPublisher puts the CAP messages the alert service issues on the node's alert subject.
type AlertPublisher struct{ Bus *Bus }

var _ alert.Publisher = AlertPublisher{}

// PublishAlert implements alert.Publisher.
func (p AlertPublisher) PublishAlert(ctx context.Context, m *alert.Message) error {
	return p.Bus.PublishAlert(ctx, m.Identifier, m.XML)
}
