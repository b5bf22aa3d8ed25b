package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/pki"
)

func TestPrintCA(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"ca", "--data-dir", dir}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "no CA certificate") {
		t.Errorf("cachalot ca before any serve = %d, %q; want an error saying there is no CA", code, errb.String())
	}
	ca, err := pki.Open(filepath.Join(dir, app.CADir), nil)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := Run(context.Background(), []string{"ca", "--data-dir", dir}, &out, &errb); code != 0 || out.String() != string(ca.CertPEM()) {
		t.Errorf("cachalot ca = %d, %q (stderr %q); want the CA certificate", code, out.String(), errb.String())
	}
	if strings.Contains(out.String(), "PRIVATE KEY") {
		t.Error("cachalot ca printed a private key")
	}
}
