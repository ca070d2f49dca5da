package ingest

// WithBatched is opts telling f each batch's events and bytes of JSON.
func WithBatched(opts ImportOptions, f func(events, bytes int)) ImportOptions {
	opts.batched = f
	return opts
}
