package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
)

const iamSvc = "iam"

// mfaSetup is a virtual MFA device created by the wizard and not yet
// enabled. Its QR code and secret are shown during the wizard only, as
// the AWS console shows them once; they live in the session's memory.
type mfaSetup struct {
	user, serial string
	qr           []byte
	seed         string
}

func (c *Console) users(w http.ResponseWriter, r *http.Request) {
	type data struct {
		Users []iamapi.User
		List  list
	}
	d := &data{}
	p := page{Title: "Users", Service: "iam", Nav: "users", Data: d}
	var all []iamapi.User
	marker := ""
	for {
		out, err := c.call(r, iamSvc, params("ListUsers", "MaxItems", "1000", "Marker", marker))
		if err != nil {
			p.Error = asAPIErr(err)
			c.render(w, r, statusOf(p.Error), "users", p)
			return
		}
		res := out.(*iamapi.ListUsersResponse)
		all = append(all, res.Users...)
		if res.IsTruncated == nil || !*res.IsTruncated {
			break
		}
		marker = deref(res.Marker)
	}
	d.Users, d.List = paginate(r, all, func(u iamapi.User) string { return deref(u.UserName) })
	c.render(w, r, http.StatusOK, "users", p)
}

type userForm struct {
	Name    string
	Console bool
	Errors  map[string]string
}

func (c *Console) createUserForm(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "user_create", page{Title: "Create user", Service: "iam", Nav: "users", Data: &userForm{}})
}

// createUser creates the user and, when asked, their console password
// (login profile). The password is never rendered back.
func (c *Console) createUser(w http.ResponseWriter, r *http.Request) {
	f := &userForm{Name: strings.TrimSpace(r.PostFormValue("name")), Console: r.PostFormValue("console_access") == "on"}
	fail := func(field string, err error) {
		e := asAPIErr(err)
		e.Field = field
		f.Errors = map[string]string{field: e.Message}
		c.render(w, r, http.StatusBadRequest, "user_create", page{Title: "Create user", Service: "iam", Nav: "users", Data: f, Error: e})
	}
	if f.Console && len(r.PostFormValue("password")) < 8 {
		// Checked before anything is created, so a refused password
		// leaves no user behind.
		fail("password", &apiErr{Code: "PasswordPolicyViolation", Message: "Password should have a minimum length of 8"})
		return
	}
	if _, err := c.call(r, iamSvc, params("CreateUser", "UserName", f.Name)); err != nil {
		fail("name", err)
		return
	}
	if f.Console {
		if _, err := c.call(r, iamSvc, params("CreateLoginProfile", "UserName", f.Name, "Password", r.PostFormValue("password"))); err != nil {
			redirect(w, r, Prefix+"iam/users/"+url.PathEscape(f.Name), "User "+f.Name+" created, but the console password was refused: "+asAPIErr(err).Message)
			return
		}
	}
	redirect(w, r, Prefix+"iam/users/"+url.PathEscape(f.Name), "User "+f.Name+" created.")
}

type userData struct {
	User     *iamapi.User
	Attached []iamapi.AttachedPolicy
	AttErr   *apiErr
	MFA      []iamapi.MFADevice
	MFAErr   *apiErr
	Policies []iamapi.Policy
	Filter   string
	Errors   map[string]string
}

func (c *Console) user(w http.ResponseWriter, r *http.Request) { c.showUser(w, r, http.StatusOK, nil) }

func (c *Console) showUser(w http.ResponseWriter, r *http.Request, status int, e *apiErr) {
	name := r.PathValue("name")
	d := &userData{Filter: r.URL.Query().Get("policy_filter")}
	if e != nil {
		d.Errors = map[string]string{e.Field: e.Message}
	}
	p := page{Title: name, Service: "iam", Nav: "users", Data: d, Error: e}
	out, err := c.call(r, iamSvc, params("GetUser", "UserName", name))
	if err != nil {
		p.Error = asAPIErr(err)
		c.render(w, r, statusOf(p.Error), "user", p)
		return
	}
	d.User = out.(*iamapi.GetUserResponse).User
	if out, err := c.call(r, iamSvc, params("ListAttachedUserPolicies", "UserName", name)); err != nil {
		d.AttErr = asAPIErr(err)
	} else {
		d.Attached = out.(*iamapi.ListAttachedUserPoliciesResponse).AttachedPolicies
	}
	if out, err := c.call(r, iamSvc, params("ListMFADevices", "UserName", name)); err != nil {
		d.MFAErr = asAPIErr(err)
	} else {
		d.MFA = out.(*iamapi.ListMFADevicesResponse).MFADevices
	}
	if out, err := c.call(r, iamSvc, params("ListPolicies", "Scope", "AWS", "MaxItems", "1000")); err == nil {
		f := strings.ToLower(d.Filter)
		for _, pol := range out.(*iamapi.ListPoliciesResponse).Policies {
			if strings.Contains(strings.ToLower(deref(pol.PolicyName)), f) {
				d.Policies = append(d.Policies, pol)
			}
		}
	}
	c.render(w, r, status, "user", p)
}

func (c *Console) attachPolicy(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	arn := r.PostFormValue("policy_arn")
	if _, err := c.call(r, iamSvc, params("AttachUserPolicy", "UserName", name, "PolicyArn", arn)); err != nil {
		e := asAPIErr(err)
		e.Field = "policy_arn"
		c.showUser(w, r, http.StatusBadRequest, e)
		return
	}
	redirect(w, r, Prefix+"iam/users/"+url.PathEscape(name), "Policy "+arn[strings.LastIndex(arn, "/")+1:]+" attached to "+name+".")
}

type mfaData struct {
	User, Serial, Seed, Device string
	Errors                     map[string]string
}

// createMFA creates a virtual MFA device for the user
// (CreateVirtualMFADevice) and opens the wizard's second step.
func (c *Console) createMFA(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	device := strings.TrimSpace(r.PostFormValue("device_name"))
	out, err := c.call(r, iamSvc, params("CreateVirtualMFADevice", "VirtualMFADeviceName", device))
	if err != nil {
		e := asAPIErr(err)
		e.Field = "device_name"
		c.showUser(w, r, http.StatusBadRequest, e)
		return
	}
	v := out.(*iamapi.CreateVirtualMFADeviceResponse).VirtualMFADevice
	s := sessionFrom(r)
	s.mu.Lock()
	s.mfa = &mfaSetup{user: name, serial: deref(v.SerialNumber), qr: v.QRCodePNG, seed: string(v.Base32StringSeed)}
	s.mu.Unlock()
	http.Redirect(w, r, Prefix+"iam/users/"+url.PathEscape(name)+"/mfa", http.StatusSeeOther)
}

func (s *session) mfaFor(user string) *mfaSetup {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mfa == nil || s.mfa.user != user {
		return nil
	}
	return s.mfa
}

func (c *Console) mfaForm(w http.ResponseWriter, r *http.Request) {
	c.showMFA(w, r, http.StatusOK, nil)
}

func (c *Console) showMFA(w http.ResponseWriter, r *http.Request, status int, e *apiErr) {
	name := r.PathValue("name")
	m := sessionFrom(r).mfaFor(name)
	if m == nil {
		redirect(w, r, Prefix+"iam/users/"+url.PathEscape(name), "Assign an MFA device first.")
		return
	}
	d := &mfaData{User: name, Serial: m.serial, Seed: m.seed}
	if e != nil {
		d.Errors = map[string]string{e.Field: e.Message}
	}
	c.render(w, r, status, "mfa", page{Title: "Set up virtual MFA device", Service: "iam", Nav: "users", Data: d, Error: e})
}

// mfaQR serves the QR code of the device being set up.
func (c *Console) mfaQR(w http.ResponseWriter, r *http.Request) {
	m := sessionFrom(r).mfaFor(r.PathValue("name"))
	if m == nil || len(m.qr) == 0 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(m.qr)
}

// enableMFA enables the device with two consecutive codes
// (EnableMFADevice); the QR code and secret are then forgotten.
func (c *Console) enableMFA(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s := sessionFrom(r)
	m := s.mfaFor(name)
	if m == nil {
		redirect(w, r, Prefix+"iam/users/"+url.PathEscape(name), "Assign an MFA device first.")
		return
	}
	_, err := c.call(r, iamSvc, params("EnableMFADevice", "UserName", name, "SerialNumber", m.serial,
		"AuthenticationCode1", strings.TrimSpace(r.PostFormValue("code1")), "AuthenticationCode2", strings.TrimSpace(r.PostFormValue("code2"))))
	if err != nil {
		e := asAPIErr(err)
		e.Field = "code1"
		c.showMFA(w, r, http.StatusBadRequest, e)
		return
	}
	s.mu.Lock()
	s.mfa = nil
	s.mu.Unlock()
	redirect(w, r, Prefix+"iam/users/"+url.PathEscape(name), "MFA device assigned. You can register up to 8 MFA devices of any combination of the currently supported MFA types with your AWS account root and IAM user.")
}

func (c *Console) policies(w http.ResponseWriter, r *http.Request) {
	type data struct {
		Policies []iamapi.Policy
		List     list
	}
	d := &data{}
	p := page{Title: "Policies", Service: "iam", Nav: "policies", Data: d}
	out, err := c.call(r, iamSvc, params("ListPolicies", "MaxItems", "1000"))
	if err != nil {
		p.Error = asAPIErr(err)
		c.render(w, r, statusOf(p.Error), "policies", p)
		return
	}
	d.Policies, d.List = paginate(r, out.(*iamapi.ListPoliciesResponse).Policies, func(p iamapi.Policy) string {
		return deref(p.PolicyName) + " " + deref(p.Description)
	})
	c.render(w, r, http.StatusOK, "policies", p)
}
