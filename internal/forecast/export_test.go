package forecast

import "time"

// EffectiveCorrectionDecay is correctionDecay, for the external tests (hindcast_test.go, in
// package forecast_test because internal/demo imports this package).
func (m Model) EffectiveCorrectionDecay() time.Duration { return m.correctionDecay() }
