package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"

	"github.com/cachalot-dev/cachalot/internal/admin"
	"github.com/cachalot-dev/cachalot/internal/app"
)

// accountCmd creates and lists accounts through the running service's admin
// socket: `cachalot account create [--name N] [--email E] [--ec2-classic]`,
// `cachalot account list`.
func accountCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		return errors.New("usage: cachalot account create [--data-dir DIR] [--name N] [--email E] [--ec2-classic] | cachalot account list [--data-dir DIR]")
	}
	fs := flag.NewFlagSet("account "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := dataDirFlag(fs, args)
	name := fs.String("name", "", "account name (create)")
	email := fs.String("email", "", "account e-mail (create)")
	classic := fs.Bool("ec2-classic", false, "the account also has EC2-Classic (create)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	client := app.AdminClient(*dataDir)
	switch args[0] {
	case "create":
		body, _ := json.Marshal(admin.NewAccountRequest{Name: *name, Email: *email, EC2Classic: *classic})
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://cachalot/v1/accounts", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var out admin.NewAccountResponse
		if err := adminDo(client, req, &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# account %s (root credentials; keep them secret)\n", out.AccountID)
		fmt.Fprintf(stdout, "export AWS_ACCESS_KEY_ID=%s\n", out.AccessKeyID)
		fmt.Fprintf(stdout, "export AWS_SECRET_ACCESS_KEY=%s\n", shellQuote(out.SecretAccessKey))
		return nil
	case "list":
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://cachalot/v1/accounts", nil)
		var out []admin.AccountSummary
		if err := adminDo(client, req, &out); err != nil {
			return err
		}
		for _, a := range out {
			classic := ""
			if a.EC2Classic {
				classic = "\tEC2-Classic"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s%s\n", a.AccountID, a.CreatedAt.Format("2006-01-02T15:04:05Z"), a.Name, classic)
		}
		return nil
	}
	return fmt.Errorf("unknown account command %q (create or list)", args[0])
}

func adminDo(client *http.Client, req *http.Request, v any) error {
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket (is cachalot serve running with this --data-dir?): %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("admin: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
