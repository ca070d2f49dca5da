package ingest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mxarchive/mxarchive/event"
)

// MaxTransactionBytes bounds a transaction body. Synapse sends at most 100
// events of at most 64 KiB each plus ephemeral data; this leaves room.
const MaxTransactionBytes = 32 << 20

// Notifier learns of events once they are committed, to act on the ones
// that ask for action (an invite to the bot, a tombstone, a command). An
// error fails the transaction, which the homeserver then sends again.
type Notifier interface {
	Committed(ctx context.Context, evs []*event.Event) error
}

// roomFilter is a Notifier that also leaves out the events of rooms the
// archive no longer archives (Manager.Archivable: the deny lists).
type roomFilter interface {
	Archivable(ctx context.Context, evs []*event.Event) ([]*event.Event, error)
}

// AppService answers the homeserver's application-service API. It is the
// fast path into the archive: a transaction is answered 200 only after its
// events are committed, so a crash or a database outage makes the
// homeserver send it again and nothing is lost.
type AppService struct {
	in       *Ingester
	hsToken  string
	log      *slog.Logger
	notifier Notifier
}

// NewAppService returns the handler. notifier may be nil.
func NewAppService(in *Ingester, hsToken string, notifier Notifier, log *slog.Logger) *AppService {
	return &AppService{in: in, hsToken: hsToken, notifier: notifier, log: log}
}

// Handler routes the appservice API (current and legacy unversioned paths).
func (a *AppService) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, prefix := range []string{"/_matrix/app/v1", ""} {
		mux.HandleFunc("PUT "+prefix+"/transactions/{txnId}", a.auth(a.transaction))
		mux.HandleFunc("GET "+prefix+"/users/{userId}", a.auth(a.unknownEntity))
		mux.HandleFunc("GET "+prefix+"/rooms/{roomAlias}", a.auth(a.unknownEntity))
	}
	mux.HandleFunc("POST /_matrix/app/v1/ping", a.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, struct{}{})
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "M_UNRECOGNIZED", "Unrecognized request")
	})
	return mux
}

// auth checks the homeserver's token (the Authorization header, else the
// legacy access_token parameter) in constant time.
func (a *AppService) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !found {
			token = r.URL.Query().Get("access_token")
		}
		if token == "" {
			writeError(w, http.StatusUnauthorized, "M_UNAUTHORIZED", "Missing homeserver token")
			return
		}
		if subtle.ConstantTimeCompare([]byte(token), []byte(a.hsToken)) != 1 {
			a.log.Warn("appservice request with a wrong token", "path", r.URL.Path, "remote", r.RemoteAddr)
			writeError(w, http.StatusForbidden, "M_FORBIDDEN", "Wrong homeserver token")
			return
		}
		next(w, r)
	}
}

func (a *AppService) unknownEntity(w http.ResponseWriter, r *http.Request) {
	// The archive owns no users or aliases: it never creates any on demand.
	writeError(w, http.StatusNotFound, "M_NOT_FOUND", "The archive provides no users or rooms")
}

// transaction stores a transaction's events, then answers. A malformed
// event is logged and left out: answering an error would make the
// homeserver resend the transaction forever and stall every later event.
func (a *AppService) transaction(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	txnID := r.PathValue("txnId")
	log := a.log.With("txn_id", txnID)
	outcome, events := "bad_request", 0
	defer func() { a.in.metrics.transaction(outcome, events, time.Since(start)) }()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxTransactionBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			log.Error("transaction larger than the limit", "limit", MaxTransactionBytes)
			writeError(w, http.StatusRequestEntityTooLarge, "M_TOO_LARGE", "Transaction too large")
			return
		}
		writeError(w, http.StatusBadRequest, "M_BAD_JSON", "Could not read the body")
		return
	}
	var txn struct {
		Events []json.RawMessage `json:"events"`
	}
	body, deep := leaveOutDeep(body)
	if deep > 0 {
		// Each is null in txn.Events, and skipped below as malformed.
		log.Warn("leaving out events nested deeper than the archive accepts", "events", deep, "max_depth", event.MaxDepth)
	}
	if err := json.Unmarshal(body, &txn); err != nil {
		log.Error("transaction body is not JSON", "err", err)
		writeError(w, http.StatusBadRequest, "M_NOT_JSON", "The body is not a JSON object with an events array")
		return
	}
	evs := make([]*event.Event, 0, len(txn.Events))
	for i, raw := range txn.Events {
		ev, err := event.Parse(raw)
		if err != nil {
			log.Warn("skipping malformed event in transaction", "index", i, "err", err)
			continue
		}
		evs = append(evs, ev)
	}
	outcome, events = "failed", len(txn.Events)
	if f, ok := a.notifier.(roomFilter); ok {
		// Acknowledged all the same: a denied room's events are not
		// wanted, now or when sent again.
		if evs, err = f.Archivable(r.Context(), evs); err != nil {
			log.Error("checking the transaction's rooms against the deny lists failed; the homeserver will retry", "err", err)
			writeError(w, http.StatusInternalServerError, "M_UNKNOWN", "The archive could not store the transaction; retry later")
			return
		}
	}
	res, err := a.in.IngestTransaction(r.Context(), txnID, evs)
	if err != nil {
		// Not stored: a 5xx makes the homeserver send it again later.
		log.Error("transaction not stored; the homeserver will retry", "events", len(evs), "err", err)
		writeError(w, http.StatusInternalServerError, "M_UNKNOWN", "The archive could not store the transaction; retry later")
		return
	}
	if len(res.Quarantined) > 0 {
		// Each is logged with its event_id by the store; acknowledged all
		// the same, or the homeserver would resend it for ever.
		log.Warn("transaction stored without the events the database refused; they are quarantined",
			"events", len(evs), "quarantined", len(res.Quarantined))
	}
	log.Debug("transaction stored", "events", len(evs), "stored", res.Stored, "duplicates", res.Duplicates,
		"not_public", res.NotPublic, "quarantined", len(res.Quarantined), "duration", time.Since(start))
	if a.notifier != nil {
		// A quarantined event is not archived, so it is not acted on.
		if err := a.notifier.Committed(r.Context(), res.Kept(evs)); err != nil {
			log.Error("acting on the transaction failed; the homeserver will retry", "err", err)
			writeError(w, http.StatusInternalServerError, "M_UNKNOWN", "The archive could not act on the transaction; retry later")
			return
		}
	}
	outcome = "ok"
	writeJSON(w, http.StatusOK, struct{}{})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, errcode, msg string) {
	writeJSON(w, code, map[string]string{"errcode": errcode, "error": msg})
}
