package config

import (
	"reflect"
	"strings"
)

// Keys returns every key of the configuration, as the file spells it
// (database.query_timeout), in the order of the Config struct.
func Keys() []string {
	var keys []string
	walkKeys(reflect.ValueOf(Config{}), reflect.ValueOf(Config{}), "", func(key string, _, _ reflect.Value) {
		keys = append(keys, key)
	})
	return keys
}

// Differences returns the keys whose values differ between a and b, in the
// order of Keys. An empty list and no list are the same (join: [] reads
// back as an empty list, the environment gives none).
func Differences(a, b Config) []string {
	var diff []string
	walkKeys(reflect.ValueOf(a), reflect.ValueOf(b), "", func(key string, x, y reflect.Value) {
		if x.Kind() == reflect.Slice && x.Len() == 0 && y.Len() == 0 {
			return
		}
		if !reflect.DeepEqual(x.Interface(), y.Interface()) {
			diff = append(diff, key)
		}
	})
	return diff
}

// walkKeys calls f with each key's dotted name and its values in a and b,
// recursing into sections as applyEnv does.
func walkKeys(a, b reflect.Value, prefix string, f func(key string, a, b reflect.Value)) {
	t := a.Type()
	for i := range t.NumField() {
		field := t.Field(i)
		key := strings.Split(field.Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		if field.Type.Kind() == reflect.Struct && field.Type != durationType {
			walkKeys(a.Field(i), b.Field(i), prefix+key+".", f)
			continue
		}
		f(prefix+key, a.Field(i), b.Field(i))
	}
}
