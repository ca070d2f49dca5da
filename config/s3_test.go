package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// media.s3 selects an S3 bucket for media: its secret comes from the file,
// the environment or a file it names, never shows in Redacted, and a
// half-written section is refused with a message naming the key.
func TestMediaS3(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("media:\n  s3:\n    endpoint: s3.example.org\n    bucket: archive\n    access_key: AK\n    prefix: media/\n")
	cfg, err := Load(path, []string{"MXARCHIVE_MEDIA_S3_SECRET_KEY=from-the-env"})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Media.S3
	if s.Endpoint != "s3.example.org" || s.Bucket != "archive" || s.AccessKey != "AK" || s.SecretKey != "from-the-env" || s.Prefix != "media/" || !s.UseSSL {
		t.Errorf("media.s3 = %+v", s)
	}
	if out := cfg.Redacted(); strings.Contains(out, "from-the-env") || !strings.Contains(out, "bucket: archive") {
		t.Errorf("Redacted() leaks the S3 secret or lost the section:\n%s", out)
	}

	secretFile := filepath.Join(dir, "s3-secret")
	if err := os.WriteFile(secretFile, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write("media:\n  s3:\n    endpoint: 127.0.0.1:9000\n    bucket: archive\n    access_key: AK\n    secret_key_file: " + secretFile + "\n    use_ssl: false\n")
	cfg, err = Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Media.S3.SecretKey != "from-a-file" || cfg.Media.S3.UseSSL {
		t.Errorf("media.s3 from a secret file = %+v", cfg.Media.S3)
	}
	if out := cfg.Redacted(); strings.Contains(out, "from-a-file") {
		t.Errorf("Redacted() leaks the S3 secret read from its file:\n%s", out)
	}
	// The file named in the environment, as a systemd unit sets it to its
	// credentials directory.
	write("media:\n  s3:\n    endpoint: 127.0.0.1:9000\n    bucket: archive\n    access_key: AK\n")
	if cfg, err = Load(path, []string{"MXARCHIVE_MEDIA_S3_SECRET_KEY_FILE=" + secretFile}); err != nil || cfg.Media.S3.SecretKey != "from-a-file" {
		t.Errorf("media.s3 with MXARCHIVE_MEDIA_S3_SECRET_KEY_FILE = %+v, %v", cfg.Media.S3, err)
	}

	for _, c := range []struct{ yaml, want string }{
		{"media:\n  s3:\n    bucket: archive\n    access_key: AK\n    secret_key: SK\n", "media.s3.endpoint"},
		{"media:\n  s3:\n    endpoint: s3.example.org\n    access_key: AK\n    secret_key: SK\n", "media.s3.bucket"},
		{"media:\n  s3:\n    endpoint: https://s3.example.org\n    bucket: archive\n    access_key: AK\n    secret_key: SK\n", "without a scheme"},
		{"media:\n  s3:\n    endpoint: s3.example.org\n    bucket: archive\n    access_key: AK\n", "media.s3.secret_key"},
		{"media:\n  s3:\n    endpoint: s3.example.org\n    bucket: archive\n    secret_key: SK\n", "media.s3.access_key"},
		{"media:\n  s3:\n    endpoint: s3.example.org\n    bucket: archive\n    access_key: AK\n    secret_key: SK\n    secret_key_file: " + secretFile + "\n", "not both"},
		{"media:\n  s3:\n    endpoint: s3.example.org\n    bucket: archive\n    access_key: AK\n    secret_key_file: " + filepath.Join(dir, "missing") + "\n", "media.s3.secret_key_file"},
		{"media:\n  dir: /srv/media\n  s3:\n    endpoint: s3.example.org\n    bucket: archive\n    access_key: AK\n    secret_key: SK\n", "media.dir"},
		{"media:\n  s3:\n    endpoint: s3.example.org\n    bucket: archive\n    access_key: AK\n    secret_key: SK\n    prefix: /media\n", "media.s3.prefix"},
	} {
		write(c.yaml)
		if _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one naming %q", c.yaml, err, c.want)
		}
	}
}
