package sensorthings

import "time"

// SetMaxBatchResponse sets maxBatchResponse for a test and returns what restores it.
func SetMaxBatchResponse(n int) (restore func()) {
	old := maxBatchResponse
	maxBatchResponse = n
	return func() { maxBatchResponse = old }
}

// SetReadQueue sets how long a read waits for its turn, for a test, and returns what restores it.
func SetReadQueue(d time.Duration) (restore func()) {
	old := readQueue
	readQueue = d
	return func() { readQueue = old }
}

// HoldReads takes n of the server's turns for reads at once, as n long reads would, and
// returns what gives them back.
func (s *Server) HoldReads(n int) (release func()) {
	g := s.gate()
	for range n {
		g <- struct{}{}
	}
	return func() {
		for range n {
			<-g
		}
	}
}
