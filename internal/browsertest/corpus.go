package browsertest

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Payload is one hostile input of the corpus in testdata/xss/payloads.json.
type Payload struct {
	// Family groups payloads by technique (script-tag, event-handler,
	// url-scheme, svg, mathml, css, mutation-xss, ...).
	Family string `json:"family"`
	// HTML is the payload; {N} stands for its number, so that a payload
	// that runs calls __xss(N) and the report names it.
	HTML string `json:"html"`
}

// Text is the payload as sent: a marker word the page must still show,
// then the payload with its number filled in. The marker comes first so
// that no markup in the payload can swallow it.
func (p Payload) Text(n int) string {
	return Marker(n) + " " + strings.ReplaceAll(p.HTML, "{N}", strconv.Itoa(n))
}

// Marker is payload n's harmless word: hx17q for 17, which no other
// payload's marker contains.
func Marker(n int) string { return "hx" + strconv.Itoa(n) + "q" }

// LoadPayloads reads a corpus file (a JSON list of payloads).
func LoadPayloads(path string) ([]Payload, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read payloads: %w", err)
	}
	var ps []Payload
	if err := json.Unmarshal(b, &ps); err != nil {
		return nil, fmt.Errorf("parse payloads %s: %w", path, err)
	}
	for i, p := range ps {
		if p.Family == "" || p.HTML == "" {
			return nil, fmt.Errorf("payload %d in %s has no family or no html", i, path)
		}
	}
	return ps, nil
}
