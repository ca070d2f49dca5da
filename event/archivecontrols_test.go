package event

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestParseArchiveControls(t *testing.T) {
	for name, tc := range map[string]struct{ content, want string }{
		"noindex":          {`{"robots":["noindex","nofollow"]}`, "[noindex nofollow] unlisted false"},
		"case and dups":    {`{"robots":["NoIndex"," noindex "]}`, "[noindex] unlisted false"},
		"unknown dropped":  {`{"robots":["noindex\r\nSet-Cookie: x","bogus","max-snippet:50","max-snippet:abc","max-image-preview:large","max-snippet"]}`, "[max-snippet:50 max-image-preview:large] unlisted false"},
		"archive false":    {`{"archive":false}`, "[] unlisted true"},
		"archive wrong":    {`{"archive":"false","robots":"noindex"}`, "[] unlisted false"},
		"archive true":     {`{"archive":true}`, "[] unlisted false"},
		"not an object":    {`"noindex"`, "[] unlisted false"},
		"robots with nums": {`{"robots":[1,"noarchive"]}`, "[noarchive] unlisted false"},
	} {
		t.Run(name, func(t *testing.T) {
			ac := ParseArchiveControls(json.RawMessage(tc.content))
			if got := fmt.Sprintf("%v unlisted %v", append([]string{}, ac.Robots...), ac.Unlisted); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
