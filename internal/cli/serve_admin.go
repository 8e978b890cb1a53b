package cli

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/controlplane/api"
)

// adminUser is the REST API's cluster-wide administrator. A MessagingUser
// username must start with a letter or digit, so no MessagingUser can be
// called this.
const adminUser = "_admin"

// adminPasswordFile is the generated administrator password in the data
// dir, when --admin-password-file is not given.
const adminPasswordFile = "admin-password"

// adminCredential is the administrator's password, kept only as salted
// SCRAM credentials in memory.
type adminCredential struct {
	creds sasl.Credentials
	path  string // where the password is
}

// setupAdmin loads the administrator password from --admin-password-file,
// or from DATA-DIR/admin-password, creating that with a random password
// (mode 0600) on first start. It logs the file's path, and with text logs
// prints it on logOut; the password itself is never logged. The data dir
// must be locked.
func setupAdmin(opts serveOptions, logger *slog.Logger, logOut io.Writer) (*adminCredential, error) {
	path := opts.adminPasswordFile
	created := false
	if path == "" {
		path = filepath.Join(opts.dataDir, adminPasswordFile)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case err == nil:
			_, werr := f.WriteString(rand.Text() + "\n")
			if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
				os.Remove(path)
				return nil, fmt.Errorf("writing the administrator password: %w", err)
			}
			created = true
		case !errors.Is(err, fs.ErrExist):
			return nil, fmt.Errorf("creating the administrator password: %w", err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("administrator password: %w", err)
	}
	pass := strings.TrimRight(string(data), "\r\n")
	if pass == "" {
		return nil, fmt.Errorf("administrator password file %s is empty", path)
	}
	creds, err := sasl.NewPasswordCredentials(pass)
	if err != nil {
		return nil, fmt.Errorf("administrator password in %s: %w", path, err)
	}
	logger.Info("REST API administrator: HTTP basic user "+adminUser+", password in the file", "user", adminUser, "password_file", path, "created", created)
	if opts.logFormat != "json" {
		fmt.Fprintf(logOut, "REST API administrator %s, password in: %s\n", adminUser, path)
	}
	return &adminCredential{creds: creds, path: path}, nil
}

// adminCaller may read and change everything, plans included.
type adminCaller struct{}

func (adminCaller) Name() string              { return adminUser }
func (adminCaller) Allowed(a api.Access) bool { return true }
