// Package config loads mxarchive's one YAML configuration file, shared by
// archiver and archive-web, and applies environment overrides: every key is
// MXARCHIVE_<SECTION>_<KEY> (MXARCHIVE_DATABASE_URI, MXARCHIVE_WEB_LISTEN),
// top-level keys MXARCHIVE_<KEY> (MXARCHIVE_DATA_DIR). Fields tagged
// `secret:"true"` are never printed.
package config
