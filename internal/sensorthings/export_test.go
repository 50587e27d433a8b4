package sensorthings

// SetMaxBatchResponse sets maxBatchResponse for a test and returns what restores it.
func SetMaxBatchResponse(n int) (restore func()) {
	old := maxBatchResponse
	maxBatchResponse = n
	return func() { maxBatchResponse = old }
}
