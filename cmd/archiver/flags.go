package main

import (
	"flag"
	"strings"
)

// parseInterspersed parses fs's flags wherever they stand among args
// (archiver takedown $ev --reason x) and returns the other arguments in
// their order. After "--" every argument is one of those, a file named
// "-x" too.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for rest := args; len(rest) > 0; {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		if n := len(rest) - fs.NArg(); n > 0 && rest[n-1] == "--" && !takesValue(fs, rest[:n-1]) {
			return append(positional, fs.Args()...), nil
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	return positional, nil
}

// takesValue says whether the last of args is a flag of fs that takes the
// argument after it as its value (--reason -- reads "--" as the reason).
func takesValue(fs *flag.FlagSet, args []string) bool {
	if len(args) == 0 {
		return false
	}
	name, ok := strings.CutPrefix(args[len(args)-1], "-")
	if !ok || strings.Contains(name, "=") {
		return false
	}
	name = strings.TrimPrefix(name, "-")
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, isBool := f.Value.(interface{ IsBoolFlag() bool })
	return !isBool || !b.IsBoolFlag()
}
