package pgtest

// Internals exposed to the external tests in pgtest_test.go.
var (
	DatabaseURL  = databaseURL
	DatabaseName = databaseName
)

// LocalServerStarted reports whether this binary started its own cluster.
func LocalServerStarted() bool {
	mu.Lock()
	defer mu.Unlock()
	return local != nil
}
