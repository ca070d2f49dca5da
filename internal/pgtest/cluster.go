package pgtest

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Cluster is a throwaway PostgreSQL cluster for a program rather than a
// test (the benchmark): started from the system's binaries, removed by Stop.
type Cluster struct {
	s *server
	// URL is the superuser's postgres:// URL of the "postgres" database.
	URL string
}

// StartCluster initialises and starts a private cluster in a temporary
// directory, as the tests do.
func StartCluster() (*Cluster, error) {
	s, err := startServer()
	if err != nil {
		return nil, err
	}
	return &Cluster{s: s, URL: s.url}, nil
}

// Stop shuts the cluster down and removes its directory.
func (c *Cluster) Stop() error { return c.s.stop() }

// CreateDatabase creates an empty database called name on the server that
// adminURL names (dropping one of that name first) and returns its URL.
func CreateDatabase(adminURL, name string) (string, error) {
	return CreateDatabaseWith(adminURL, name, "")
}

// CreateDatabaseWith is CreateDatabase with more of CREATE DATABASE's
// options after its template (a locale, say).
func CreateDatabaseWith(adminURL, name, options string) (string, error) {
	dbURL, err := databaseURL(adminURL, name)
	if err != nil {
		return "", err
	}
	if err := dropDatabase(adminURL, name); err != nil {
		return "", fmt.Errorf("drop database %s: %w", name, err)
	}
	// template0 rather than the default template1: a shared server's
	// template1 may have been customised, and we want an empty database.
	if err := adminExec(adminURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0 "+options); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return dbURL, nil
}

// dropDatabase drops a database if it exists; FORCE disconnects sessions
// left open (PostgreSQL 13+).
func dropDatabase(adminURL, name string) error {
	return adminExec(adminURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}
