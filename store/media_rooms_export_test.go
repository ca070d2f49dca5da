package store

// VisibleRefSQL is MediaFor's query of one shown reference to a file, as
// SQLite runs it (VisibleRefPostgres is PostgreSQL's).
var VisibleRefSQL = visibleRefSQL
