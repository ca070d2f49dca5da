package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// openWaitMax is the longest OpenWaiting waits between two tries.
const openWaitMax = 30 * time.Second

// OpenWaiting is Open for a service (`archiver run`, archive-web): while a
// PostgreSQL server does not answer (not started yet, in crash recovery,
// restarting, not accepting connections, on a host the network does not
// reach yet) it tries again, after 1 s and then twice as long each time up
// to 30 s, saying so in the log, until ctx ends, when it returns ctx's
// error. A service started before its database (a boot's order, a
// database on another host) would otherwise exit, and a supervisor's
// start limit (the systemd unit of doc/deploy.md allows 5 a minute) give
// it up for good. What waiting cannot mend is returned at once: a refused
// password or role, a database that does not exist, TLS refused, a schema
// newer than the binary, a SQLite file.
func OpenWaiting(ctx context.Context, cfg Config, dataDir string, log *slog.Logger, opts Options) (*Store, error) {
	wait := time.Second
	for tries := 1; ; tries++ {
		st, err := Open(ctx, cfg, dataDir, log, opts)
		if err == nil {
			if tries > 1 {
				log.Info("the database answers", "tries", tries)
			}
			return st, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err() // stopped while it waited
		}
		if cfg.Type != "postgres" || !Unavailable(err) || misconfigured(err) {
			return nil, err
		}
		log.Warn("the database does not answer; trying again", "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, openWaitMax)
	}
}

// misconfigured reports whether err is the connection's own settings
// refused, which no wait mends: by the server (its role or password,
// SQLSTATE class 28; its database, 3D000) or by TLS (a server that does
// not speak it for an sslmode that requires it, a certificate that does
// not verify, an alert).
func misconfigured(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return len(pgErr.Code) == 5 && (pgErr.Code[:2] == "28" || pgErr.Code == "3D000")
	}
	var (
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
		authority x509.UnknownAuthorityError
		host      x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	if errors.As(err, &verify) || errors.As(err, &alert) || errors.As(err, &authority) || errors.As(err, &host) || errors.As(err, &invalid) {
		return true
	}
	// pgconn says so in words only.
	return strings.Contains(err.Error(), "server refused TLS connection")
}
