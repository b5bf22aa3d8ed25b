package iam

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// totpAt returns the code of a seed for time step n, with the TOTP
// parameters of virtual MFA devices (RFC 6238 defaults, as AWS uses).
func totpAt(seed string, step int64) (string, error) {
	return totp.GenerateCodeCustom(seed, time.Unix(step*30, 0),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

func codeEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func mfaARN(acct, path, name string) string { return policy.IAMARN(acct, policy.IAMMFA, path, name) }

// mfaKey keys devices by serial number's name part.
func mfaName(serial string) string {
	return serial[strings.LastIndexByte(serial, '/')+1:]
}

// mfaUser resolves the UserName of an MFA operation: the root user may name
// itself "root" (or its account id, or its ARN), since the API requires a
// user name.
func mfaUser(ctx context.Context, name *string) (string, error) {
	p, acct := caller(ctx)
	if p.Type == auth.Root && (name == nil || *name == "root" || *name == acct || *name == policy.AccountRootARN(acct)) {
		return rootUser, nil
	}
	return targetUser(ctx, name)
}

func (s *Service) CreateVirtualMFADevice(ctx context.Context, in *iamapi.CreateVirtualMFADeviceRequest) (*iamapi.CreateVirtualMFADeviceResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	name := str(in.VirtualMFADeviceName)
	key0, err := totp.Generate(totp.GenerateOpts{Issuer: "Amazon Web Services", AccountName: name + "@" + acct, SecretSize: 40})
	if err != nil {
		return nil, err
	}
	img, err := key0.Image(200, 200)
	if err != nil {
		return nil, err
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return nil, err
	}
	path := normPath(in.Path)
	m := mfaRec{Name: name, Path: path, Serial: mfaARN(acct, path, name), Seed: key0.Secret(), Created: s.now().UTC(), Tags: mergeTags(nil, in.Tags)}
	err = s.update(ctx, func(tx store.Tx) error {
		if ok, err := exists(tx, key(acct, kindMFA, name)); err != nil || ok {
			if ok {
				return iamapi.ErrEntityAlreadyExistsException("MFADevice entity at the same path and name already exists.")
			}
			return err
		}
		return store.PutJSON(tx, key(acct, kindMFA, name), &m)
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.CreateVirtualMFADeviceResponse{VirtualMFADevice: &iamapi.VirtualMFADevice{
		SerialNumber: ptr(m.Serial), Base32StringSeed: []byte(m.Seed), QRCodePNG: qr.Bytes(), Tags: tagsOut(m.Tags)}}, nil
}

func (s *Service) getMFA(tx store.Tx, acct, serial string) (*mfaRec, error) {
	var m mfaRec
	err := store.GetJSON(tx, key(acct, kindMFA, mfaName(serial)), &m)
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.Serial != serial) {
		return nil, iamapi.ErrNoSuchEntityException("VirtualMFADevice with serial number %s doesn't exist.", serial)
	}
	return &m, err
}

func (s *Service) EnableMFADevice(ctx context.Context, in *iamapi.EnableMFADeviceRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	user, err := mfaUser(ctx, in.UserName)
	if err != nil {
		return err
	}
	serial := str(in.SerialNumber)
	now := s.now()
	return s.update(ctx, func(tx store.Tx) error {
		if user != rootUser {
			u, err := s.getUser(tx, acct, user)
			if err != nil {
				return err
			}
			user = u.Name
		}
		m, err := s.getMFA(tx, acct, serial)
		if err != nil {
			return err
		}
		if m.User != "" {
			return iamapi.ErrEntityAlreadyExistsException("MFA Device is already in use.")
		}
		n := 0
		if err := store.ScanJSON(tx, prefix(acct, kindMFA), func(_ string, d *mfaRec) error {
			if d.User == user {
				n++
			}
			return nil
		}); err != nil {
			return err
		}
		if n >= maxMFAPerUser {
			return iamapi.ErrLimitExceededException("Cannot exceed quota for MFADevicesPerUser: %d", maxMFAPerUser)
		}
		if !consecutive(m.Seed, now, str(in.AuthenticationCode1), str(in.AuthenticationCode2)) {
			return iamapi.ErrInvalidAuthenticationCodeException("Authentication code for device is not valid.")
		}
		m.User, m.Enabled = user, now.UTC()
		return store.PutJSON(tx, key(acct, kindMFA, m.Name), m)
	})
}

// consecutive reports whether c1 and c2 are the codes of two consecutive
// time steps within the last five minutes (or the next step, for clock skew).
func consecutive(seed string, now time.Time, c1, c2 string) bool {
	cur := now.Unix() / 30
	for step := cur - 10; step <= cur+1; step++ {
		a, err1 := totpAt(seed, step)
		b, err2 := totpAt(seed, step+1)
		if err1 == nil && err2 == nil && codeEqual(a, c1) && codeEqual(b, c2) {
			return true
		}
	}
	return false
}

// VerifyMFA checks a one-time code of the MFA device serial enabled for a
// user of acct (userName "" means the account's root user). It accepts the
// current time step and one on either side. It returns nil or an STS-style
// AccessDenied error.
func (s *Service) VerifyMFA(ctx context.Context, acct, userName, serial, code string) error {
	if userName == "" {
		userName = rootUser
	}
	var m *mfaRec
	err := s.view(ctx, func(tx store.Tx) (err error) { m, err = s.getMFA(tx, acct, serial); return })
	if awserr.HasCode(err, "NoSuchEntity") || (err == nil && !strings.EqualFold(m.User, userName)) {
		return awserr.WithStatus(403, "AccessDenied", "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user.")
	}
	if err != nil {
		return err
	}
	cur := s.now().Unix() / 30
	for step := cur - 1; step <= cur+1; step++ {
		if c, err := totpAt(m.Seed, step); err == nil && codeEqual(c, code) {
			return nil
		}
	}
	return awserr.WithStatus(403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code. ")
}

func (s *Service) DeactivateMFADevice(ctx context.Context, in *iamapi.DeactivateMFADeviceRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	user, err := mfaUser(ctx, in.UserName)
	if err != nil {
		return err
	}
	serial := str(in.SerialNumber)
	return s.update(ctx, func(tx store.Tx) error {
		if user != rootUser {
			if _, err := s.getUser(tx, acct, user); err != nil {
				return err
			}
		}
		m, err := s.getMFA(tx, acct, serial)
		if err != nil {
			return err
		}
		if !strings.EqualFold(m.User, user) {
			return iamapi.ErrNoSuchEntityException("MFA Device with serial number %s does not exist.", serial)
		}
		m.User, m.Enabled = "", time.Time{}
		return store.PutJSON(tx, key(acct, kindMFA, m.Name), m)
	})
}

func (s *Service) DeleteVirtualMFADevice(ctx context.Context, in *iamapi.DeleteVirtualMFADeviceRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	serial := str(in.SerialNumber)
	return s.update(ctx, func(tx store.Tx) error {
		m, err := s.getMFA(tx, acct, serial)
		if err != nil {
			return err
		}
		if m.User != "" {
			return iamapi.ErrDeleteConflictException("MFA device is still in use. Deactivate the device before deleting it.")
		}
		return tx.Delete(key(acct, kindMFA, m.Name))
	})
}

func (s *Service) ListMFADevices(ctx context.Context, in *iamapi.ListMFADevicesRequest) (*iamapi.ListMFADevicesResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	user, err := mfaUser(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	var ds []iamapi.MFADevice
	err = s.view(ctx, func(tx store.Tx) error {
		if user != rootUser {
			u, err := s.getUser(tx, acct, user)
			if err != nil {
				return err
			}
			user = u.Name
		}
		return store.ScanJSON(tx, prefix(acct, kindMFA), func(_ string, m *mfaRec) error {
			if m.User == user {
				name := m.User
				if name == rootUser {
					name = acct
				}
				ds = append(ds, iamapi.MFADevice{EnableDate: timePtr(m.Enabled), SerialNumber: ptr(m.Serial), UserName: ptr(name)})
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	pg, t, mk, err := page(ds, func(d iamapi.MFADevice) string { return *d.SerialNumber }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	if pg == nil {
		pg = []iamapi.MFADevice{}
	}
	return &iamapi.ListMFADevicesResponse{MFADevices: pg, IsTruncated: t, Marker: mk}, nil
}

func (s *Service) ListVirtualMFADevices(ctx context.Context, in *iamapi.ListVirtualMFADevicesRequest) (*iamapi.ListVirtualMFADevicesResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	status := "Any"
	if in.AssignmentStatus != nil {
		status = *in.AssignmentStatus
	}
	var ds []iamapi.VirtualMFADevice
	err := s.view(ctx, func(tx store.Tx) error {
		return store.ScanJSON(tx, prefix(acct, kindMFA), func(_ string, m *mfaRec) error {
			if (status == "Assigned" && m.User == "") || (status == "Unassigned" && m.User != "") {
				return nil
			}
			d := iamapi.VirtualMFADevice{SerialNumber: ptr(m.Serial), Tags: tagsOut(m.Tags)}
			switch m.User {
			case "":
			case rootUser:
				d.EnableDate = timePtr(m.Enabled)
				d.User = &iamapi.User{Arn: ptr(policy.AccountRootARN(acct)), UserId: ptr(acct), Path: ptr("/"), CreateDate: timePtr(m.Enabled)}
			default:
				d.EnableDate = timePtr(m.Enabled)
				if u, err := s.getUser(tx, acct, m.User); err == nil {
					d.User = ptr(userOut(acct, u, false))
				}
			}
			ds = append(ds, d)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	pg, t, mk, err := page(ds, func(d iamapi.VirtualMFADevice) string { return *d.SerialNumber }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	if pg == nil {
		pg = []iamapi.VirtualMFADevice{}
	}
	return &iamapi.ListVirtualMFADevicesResponse{VirtualMFADevices: pg, IsTruncated: t, Marker: mk}, nil
}

func (s *Service) ResyncMFADevice(ctx context.Context, in *iamapi.ResyncMFADeviceRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	user, err := mfaUser(ctx, in.UserName)
	if err != nil {
		return err
	}
	var m *mfaRec
	if err := s.view(ctx, func(tx store.Tx) (err error) { m, err = s.getMFA(tx, acct, str(in.SerialNumber)); return }); err != nil {
		return err
	}
	if !strings.EqualFold(m.User, user) {
		return iamapi.ErrNoSuchEntityException("MFA Device with serial number %s does not exist.", str(in.SerialNumber))
	}
	if !consecutive(m.Seed, s.now(), str(in.AuthenticationCode1), str(in.AuthenticationCode2)) {
		return iamapi.ErrInvalidAuthenticationCodeException("Authentication code for device is not valid.")
	}
	return nil
}
