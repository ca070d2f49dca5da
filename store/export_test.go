package store

// SetPurgeBatch lets tests see purges run in several batches.
func SetPurgeBatch(n int) func() {
	old := purgeBatch
	purgeBatch = n
	return func() { purgeBatch = old }
}
