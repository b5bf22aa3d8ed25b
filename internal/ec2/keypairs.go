package ec2

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// Key pairs: CreateKeyPair generates a real key (RSA 2048 or ED25519, as
// KeyType asks) and returns its private half once, as AWS does; only the
// public key is stored. Fingerprints are computed as AWS computes them:
// for a created RSA key the SHA-1 of its DER (PKCS#8) private key, for an
// imported RSA key the MD5 of its DER public key, for ED25519 keys the
// base64 SHA-256 of the OpenSSH public key, as ssh-keygen -l prints it.

// keyRec is a key pair.
type keyRec struct {
	tagged
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Type        string    `json:"type"` // rsa, ed25519
	Fingerprint string    `json:"fingerprint"`
	PublicKey   string    `json:"publicKey"` // OpenSSH authorized_keys line
	Created     time.Time `json:"created"`
}

func (r *keyRec) id() string { return r.ID }

// findKey returns the scope's key pair named name, or nil.
func findKey(st *scopeTx, name string) *keyRec {
	for _, k := range listT[*keyRec](st, "key") {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// keyNameOK checks a key pair name: 1 to 255 ASCII characters.
func keyNameOK(name string) error {
	if name == "" {
		return awserr.MissingParameter("KeyName")
	}
	if len(name) > 255 {
		return awserr.InvalidParameterValue("Value (%s) for parameter KeyName is invalid. Length exceeds maximum of 255.", name)
	}
	for _, c := range name {
		if c > 127 {
			return awserr.InvalidParameterValue("Value (%s) for parameter KeyName is invalid. Character sets beyond ASCII are not supported.", name)
		}
	}
	return nil
}

func colonHex(b []byte) string {
	h := hex.EncodeToString(b)
	var sb strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}

// sshString appends an SSH wire-format string.
func sshString(b *bytes.Buffer, s []byte) {
	_ = binary.Write(b, binary.BigEndian, uint32(len(s)))
	b.Write(s)
}

func sshMpint(b *bytes.Buffer, n *big.Int) {
	v := n.Bytes()
	if len(v) > 0 && v[0]&0x80 != 0 {
		v = append([]byte{0}, v...)
	}
	sshString(b, v)
}

func rsaBlob(pub *rsa.PublicKey) []byte {
	var b bytes.Buffer
	sshString(&b, []byte("ssh-rsa"))
	sshMpint(&b, big.NewInt(int64(pub.E)))
	sshMpint(&b, pub.N)
	return b.Bytes()
}

func ed25519Blob(pub ed25519.PublicKey) []byte {
	var b bytes.Buffer
	sshString(&b, []byte("ssh-ed25519"))
	sshString(&b, pub)
	return b.Bytes()
}

func sha256Fingerprint(blob []byte) string {
	h := sha256.Sum256(blob)
	return base64.StdEncoding.EncodeToString(h[:])
}

// openSSHPrivate encodes an ED25519 private key in OpenSSH's format
// (unencrypted), which is what AWS returns for ED25519 key pairs.
func openSSHPrivate(priv ed25519.PrivateKey, comment string) []byte {
	pub := priv.Public().(ed25519.PublicKey)
	var check [4]byte
	_, _ = rand.Read(check[:])
	var inner bytes.Buffer
	inner.Write(check[:])
	inner.Write(check[:])
	sshString(&inner, []byte("ssh-ed25519"))
	sshString(&inner, pub)
	sshString(&inner, priv)
	sshString(&inner, []byte(comment))
	for i := byte(1); inner.Len()%8 != 0; i++ {
		inner.WriteByte(i)
	}
	var b bytes.Buffer
	b.WriteString("openssh-key-v1\x00")
	sshString(&b, []byte("none"))
	sshString(&b, []byte("none"))
	sshString(&b, nil)
	_ = binary.Write(&b, binary.BigEndian, uint32(1))
	sshString(&b, ed25519Blob(pub))
	sshString(&b, inner.Bytes())
	return pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: b.Bytes()})
}

// generateKey makes a key pair of typ: the private key material, the
// authorized_keys line and the fingerprint.
func generateKey(typ, name string) (material, public, fingerprint string, err error) {
	switch typ {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return "", "", "", err
		}
		p8, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return "", "", "", err
		}
		fp := sha1.Sum(p8)
		material = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
		return strings.TrimSuffix(material, "\n"), "ssh-rsa " + base64.StdEncoding.EncodeToString(rsaBlob(&k.PublicKey)), colonHex(fp[:]), nil
	case "ed25519":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return "", "", "", err
		}
		blob := ed25519Blob(pub)
		return strings.TrimSuffix(string(openSSHPrivate(priv, name)), "\n"), "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob), sha256Fingerprint(blob), nil
	}
	return "", "", "", awserr.InvalidParameterValue("Value (%s) for parameter KeyType is invalid. Valid values are rsa, ed25519.", typ)
}

// CreateKeyPair implements ec2api.Operations. KeyFormat pem is supported;
// ppk (PuTTY) is refused.
func (s *Service) CreateKeyPair(ctx context.Context, in *ec2api.CreateKeyPairRequest) (*ec2api.KeyPair, error) {
	name := str(in.KeyName)
	if err := keyNameOK(name); err != nil {
		return nil, err
	}
	switch f := str(in.KeyFormat); f {
	case "", "pem":
	case "ppk":
		return nil, errUnsupportedOperation("KeyFormat ppk (PuTTY) is not supported by Cachalot; use pem.")
	default:
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter KeyFormat is invalid. Valid values are pem, ppk.", f)
	}
	typ := cmpOr(str(in.KeyType), "rsa")
	tags, err := tagsFor(in.TagSpecifications, "key-pair")
	if err != nil {
		return nil, err
	}
	if typ != "rsa" && typ != "ed25519" {
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter KeyType is invalid. Valid values are rsa, ed25519.", typ)
	}
	material, public, fp, err := generateKey(typ, name)
	if err != nil {
		return nil, err
	}
	var rec *keyRec
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		if findKey(st, name) != nil {
			return errInvalidKeyPairDuplicate(name)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		rec = &keyRec{ID: newID("key-"), Name: name, Type: typ, Fingerprint: fp, PublicKey: public, Created: t.now}
		rec.Tags = tags
		st.put(rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.KeyPair{KeyFingerprint: ptr(fp), KeyMaterial: ptr(material), KeyName: ptr(name), KeyPairId: ptr(rec.ID), Tags: tagList(tags)}, nil
}

var errKeyFormat = errors.New("key format")

// parsePublicKey reads an OpenSSH public key (ssh-rsa or ssh-ed25519, as
// an authorized_keys line) or a PEM/DER PKIX public key, and returns its
// type, authorized_keys line and fingerprint as AWS computes it on import.
func parsePublicKey(material []byte) (typ, line, fingerprint string, err error) {
	text := strings.TrimSpace(string(material))
	if blk, _ := pem.Decode([]byte(text)); blk != nil {
		material = blk.Bytes
	}
	if pub, perr := x509.ParsePKIXPublicKey(material); perr == nil {
		switch k := pub.(type) {
		case *rsa.PublicKey:
			return rsaImported(k)
		case ed25519.PublicKey:
			blob := ed25519Blob(k)
			return "ed25519", "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob), sha256Fingerprint(blob), nil
		}
		return "", "", "", errKeyFormat
	}
	f := strings.Fields(text)
	if len(f) < 2 {
		return "", "", "", errKeyFormat
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return "", "", "", errKeyFormat
	}
	parts, err := sshFields(blob)
	if err != nil || len(parts) == 0 || string(parts[0]) != f[0] {
		return "", "", "", errKeyFormat
	}
	switch {
	case f[0] == "ssh-rsa" && len(parts) == 3:
		e := new(big.Int).SetBytes(parts[1])
		if !e.IsInt64() {
			return "", "", "", errKeyFormat
		}
		return rsaImported(&rsa.PublicKey{E: int(e.Int64()), N: new(big.Int).SetBytes(parts[2])})
	case f[0] == "ssh-ed25519" && len(parts) == 2 && len(parts[1]) == ed25519.PublicKeySize:
		return "ed25519", "ssh-ed25519 " + f[1], sha256Fingerprint(blob), nil
	}
	return "", "", "", errKeyFormat
}

func rsaImported(k *rsa.PublicKey) (string, string, string, error) {
	if bits := k.N.BitLen(); bits < 1024 || bits > 16384 {
		return "", "", "", errKeyFormat
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return "", "", "", errKeyFormat
	}
	fp := md5.Sum(der)
	return "rsa", "ssh-rsa " + base64.StdEncoding.EncodeToString(rsaBlob(k)), colonHex(fp[:]), nil
}

// sshFields splits an SSH wire-format blob into its strings.
func sshFields(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errKeyFormat
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, errKeyFormat
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	return out, nil
}

// ImportKeyPair implements ec2api.Operations for RSA (1024 to 16384 bits)
// and ED25519 public keys, as AWS accepts them.
func (s *Service) ImportKeyPair(ctx context.Context, in *ec2api.ImportKeyPairRequest) (*ec2api.ImportKeyPairResult, error) {
	name := str(in.KeyName)
	if err := keyNameOK(name); err != nil {
		return nil, err
	}
	if len(in.PublicKeyMaterial) == 0 {
		return nil, awserr.MissingParameter("PublicKeyMaterial")
	}
	typ, line, fp, err := parsePublicKey(in.PublicKeyMaterial)
	if err != nil {
		return nil, errInvalidKeyFormat()
	}
	tags, err := tagsFor(in.TagSpecifications, "key-pair")
	if err != nil {
		return nil, err
	}
	var rec *keyRec
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		if findKey(st, name) != nil {
			return errInvalidKeyPairDuplicate(name)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		rec = &keyRec{ID: newID("key-"), Name: name, Type: typ, Fingerprint: fp, PublicKey: line, Created: t.now}
		rec.Tags = tags
		st.put(rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.ImportKeyPairResult{KeyFingerprint: ptr(fp), KeyName: ptr(name), KeyPairId: ptr(rec.ID), Tags: tagList(tags)}, nil
}

var keyFilters = filterSet[*keyRec]{
	fields: map[string]func(*keyRec) []string{
		"key-pair-id": func(k *keyRec) []string { return one(k.ID) },
		"fingerprint": func(k *keyRec) []string { return one(k.Fingerprint) },
		"key-name":    func(k *keyRec) []string { return one(k.Name) },
		"key-type":    func(k *keyRec) []string { return one(k.Type) },
	},
	tags: func(k *keyRec) map[string]string { return k.Tags },
}

// DescribeKeyPairs implements ec2api.Operations.
func (s *Service) DescribeKeyPairs(ctx context.Context, in *ec2api.DescribeKeyPairsRequest) (*ec2api.DescribeKeyPairsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeKeyPairsResult{KeyPairs: []ec2api.KeyPairInfo{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		recs := listT[*keyRec](st, "key")
		for _, n := range in.KeyNames {
			if !slices.ContainsFunc(recs, func(k *keyRec) bool { return k.Name == n }) {
				return errInvalidKeyPairNotFound(n)
			}
		}
		for _, id := range in.KeyPairIds {
			if _, err := lookup[*keyRec](st, "key", id); err != nil {
				return err
			}
		}
		recs = slices.DeleteFunc(slices.Clone(recs), func(k *keyRec) bool {
			return (len(in.KeyNames) > 0 && !slices.Contains(in.KeyNames, k.Name)) || (len(in.KeyPairIds) > 0 && !slices.Contains(in.KeyPairIds, k.ID))
		})
		recs, err := filterItems(keyFilters, in.Filters, recs)
		if err != nil {
			return err
		}
		for _, k := range recs {
			info := ec2api.KeyPairInfo{CreateTime: ptr(k.Created), KeyFingerprint: ptr(k.Fingerprint), KeyName: ptr(k.Name),
				KeyPairId: ptr(k.ID), KeyType: ptr(k.Type), Tags: tagList(k.Tags)}
			if in.IncludePublicKey != nil && *in.IncludePublicKey {
				info.PublicKey = ptr(k.PublicKey + " " + k.Name)
			}
			out.KeyPairs = append(out.KeyPairs, info)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteKeyPair implements ec2api.Operations. As on AWS, deleting a key
// pair that does not exist by name succeeds; by id it is an error.
func (s *Service) DeleteKeyPair(ctx context.Context, in *ec2api.DeleteKeyPairRequest) (*ec2api.DeleteKeyPairResult, error) {
	if in.KeyName == nil && in.KeyPairId == nil {
		return nil, awserr.MissingParameter("KeyName")
	}
	out := &ec2api.DeleteKeyPairResult{Return: ptr(true)}
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		var k *keyRec
		if in.KeyPairId != nil {
			var err error
			if k, err = lookup[*keyRec](st, "key", *in.KeyPairId); err != nil {
				return err
			}
			if in.KeyName != nil && *in.KeyName != k.Name {
				return awserr.InvalidParameterCombination("The key pair id '%s' does not name the key pair '%s'.", k.ID, *in.KeyName)
			}
		} else {
			k = findKey(st, *in.KeyName)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		if k != nil {
			out.KeyPairId = ptr(k.ID)
			st.del(k.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
