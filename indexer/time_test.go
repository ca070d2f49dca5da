package indexer_test

import "time"

func timeDay(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02") }
