package main

import (
	"flag"
	"slices"
	"strings"
	"testing"
)

// Flags stand anywhere among a command's arguments; after "--" every
// argument is a file, and "--" as a flag's value is that value.
func TestFlagsAnywhereAmongTheArguments(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		tz   string
		want []string
	}{
		{"flags first", []string{"--tz", "UTC", "a.log", "b.log"}, "UTC", []string{"a.log", "b.log"}},
		{"flag after the files", []string{"a.log", "b.log", "--tz", "Europe/Berlin"}, "Europe/Berlin", []string{"a.log", "b.log"}},
		{"flag between the files", []string{"a.log", "--tz=UTC", "b.log", "--assume"}, "UTC", []string{"a.log", "b.log"}},
		{"files after --", []string{"--tz", "UTC", "--", "-a.log", "--tz"}, "UTC", []string{"-a.log", "--tz"}},
		{"-- as a value", []string{"a.log", "--tz", "--", "b.log"}, "--", []string{"a.log", "b.log"}},
		{"-- after a bool flag", []string{"--assume", "--", "-b.log"}, "", []string{"-b.log"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := flag.NewFlagSet("import", flag.ContinueOnError)
			tz := fs.String("tz", "", "")
			fs.Bool("assume", false, "")
			got, err := parseInterspersed(fs, c.args)
			if err != nil || *tz != c.tz || !slices.Equal(got, c.want) {
				t.Errorf("archiver import %s: files %q, --tz %q, %v; want files %q, --tz %q", strings.Join(c.args, " "), got, *tz, err, c.want, c.tz)
			}
		})
	}
}
