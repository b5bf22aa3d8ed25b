package ec2

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/google/go-cmp/cmp"
)

func TestDescribeImages(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	names := func(in *ec2api.DescribeImagesRequest) []string {
		t.Helper()
		out := must[*ec2api.DescribeImagesResult](t)(s.DescribeImages(ctx, in))
		var n []string
		for _, img := range out.Images {
			n = append(n, *img.Name)
		}
		slices.Sort(n)
		return n
	}
	tests := []struct {
		name string
		in   *ec2api.DescribeImagesRequest
		want []string
	}{
		{"aws_ami al2023 x86_64", &ec2api.DescribeImagesRequest{Owners: []string{"amazon"}, Filters: []ec2api.Filter{
			filter("name", "al2023-ami-2023.*-x86_64"), filter("architecture", "x86_64"), filter("virtualization-type", "hvm"),
			filter("root-device-type", "ebs"), filter("state", "available")}},
			[]string{"al2023-ami-2023.5.20240722.0-kernel-6.1-x86_64", "al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64"}},
		{"ubuntu noble arm64 by canonical", &ec2api.DescribeImagesRequest{Owners: []string{"099720109477"}, Filters: []ec2api.Filter{
			filter("name", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-*-server-*"), filter("architecture", "arm64")}},
			[]string{"ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20240927", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20241206"}},
		{"debian by owner alias filter", &ec2api.DescribeImagesRequest{Filters: []ec2api.Filter{filter("owner-id", "136693071363"), filter("name", "debian-12-amd64-*")}},
			[]string{"debian-12-amd64-20241201-1949"}},
		{"amazon alias excludes canonical", &ec2api.DescribeImagesRequest{Owners: []string{"amazon"}, Filters: []ec2api.Filter{filter("name", "ubuntu*")}}, nil},
		{"owner-alias filter", &ec2api.DescribeImagesRequest{Filters: []ec2api.Filter{filter("owner-alias", "amazon"), filter("name", "amzn2-*"), filter("architecture", "arm64")}},
			[]string{"amzn2-ami-kernel-5.10-hvm-2.0.20241217.0-arm64-gp2"}},
		{"by id", &ec2api.DescribeImagesRequest{ImageIds: []string{"ami-12345678"}}, []string{"cachalot-host-x86_64"}},
		{"self owns nothing yet", &ec2api.DescribeImagesRequest{Owners: []string{"self"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, names(tc.in)); diff != "" {
				t.Errorf("DescribeImages (-want +got):\n%s", diff)
			}
		})
	}
	_, err := s.DescribeImages(ctx, &ec2api.DescribeImagesRequest{Owners: []string{"canonical"}})
	wantCode(t, err, "InvalidUserID.Malformed")
	_, err = s.DescribeImages(ctx, &ec2api.DescribeImagesRequest{ImageIds: []string{"ami-0123456789abcdef0"}})
	wantCode(t, err, "InvalidAMIID.NotFound")
	_, err = s.DescribeImages(ctx, &ec2api.DescribeImagesRequest{ImageIds: []string{"ami-1"}})
	wantCode(t, err, "InvalidAMIID.Malformed")
}

func TestRunInstancesImageAndKey(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	launch := func(in *ec2api.RunInstancesRequest) func() error {
		return func() error {
			in.MinCount, in.MaxCount = ptr(int32(1)), ptr(int32(1))
			_, err := s.RunInstances(ctx, in)
			return err
		}
	}
	arm := amiID("al2023-ami-2023.6.20241212.0-kernel-6.1-arm64")
	failsUnchanged(t, st, "InvalidAMIID.Malformed", launch(&ec2api.RunInstancesRequest{ImageId: ptr("ami-1")}))
	failsUnchanged(t, st, "InvalidAMIID.NotFound", launch(&ec2api.RunInstancesRequest{ImageId: ptr("ami-0123456789abcdef0")}))
	failsUnchanged(t, st, "InvalidParameterValue", launch(&ec2api.RunInstancesRequest{ImageId: ptr(arm), InstanceType: ptr("t3.micro")}))
	failsUnchanged(t, st, "InvalidKeyPair.NotFound", launch(&ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), KeyName: ptr("nope")}))

	kp := must[*ec2api.KeyPair](t)(s.CreateKeyPair(ctx, &ec2api.CreateKeyPairRequest{KeyName: ptr("deploy")}))
	r := run(t, s, ctx, &ec2api.RunInstancesRequest{ImageId: ptr(arm), InstanceType: ptr("t4g.micro"), KeyName: kp.KeyName})
	i := r.Instances[0]
	if *i.Architecture != "arm64" || *i.KeyName != "deploy" || *i.RootDeviceName != "/dev/xvda" || len(i.BlockDeviceMappings) != 1 {
		t.Errorf("instance = arch %s key %s root %s bdm %d, want arm64, deploy, /dev/xvda, 1", *i.Architecture, *i.KeyName, *i.RootDeviceName, len(i.BlockDeviceMappings))
	}

	// CreateImage, DescribeImages owners self, launch from it, deregister.
	img := must[*ec2api.CreateImageResult](t)(s.CreateImage(ctx, &ec2api.CreateImageRequest{InstanceId: i.InstanceId, Name: ptr("golden-1"), NoReboot: ptr(true)}))
	own := must[*ec2api.DescribeImagesResult](t)(s.DescribeImages(ctx, &ec2api.DescribeImagesRequest{Owners: []string{"self"}}))
	if len(own.Images) != 1 || *own.Images[0].ImageId != *img.ImageId || *own.Images[0].Architecture != "arm64" || *own.Images[0].Public {
		t.Errorf("own images = %+v, want golden-1 (arm64, private)", own.Images)
	}
	failsUnchanged(t, st, "InvalidAMIName.Duplicate", func() error {
		_, err := s.CreateImage(ctx, &ec2api.CreateImageRequest{InstanceId: i.InstanceId, Name: ptr("golden-1")})
		return err
	})
	snap := *own.Images[0].BlockDeviceMappings[0].Ebs.SnapshotId
	reg := must[*ec2api.RegisterImageResult](t)(s.RegisterImage(ctx, &ec2api.RegisterImageRequest{Name: ptr("golden-2"), Architecture: ptr("arm64"),
		RootDeviceName: ptr("/dev/xvda"), BlockDeviceMappings: []ec2api.BlockDeviceMapping{{DeviceName: ptr("/dev/xvda"), Ebs: &ec2api.EbsBlockDevice{SnapshotId: ptr(snap), VolumeSize: ptr(int32(20))}}}}))
	run(t, s, ctx, &ec2api.RunInstancesRequest{ImageId: reg.ImageId, InstanceType: ptr("t4g.nano")})
	failsUnchanged(t, st, "InvalidSnapshot.NotFound", func() error {
		_, err := s.RegisterImage(ctx, &ec2api.RegisterImageRequest{Name: ptr("golden-3"), BlockDeviceMappings: []ec2api.BlockDeviceMapping{
			{DeviceName: ptr("/dev/xvda"), Ebs: &ec2api.EbsBlockDevice{SnapshotId: ptr("snap-0123456789abcdef0")}}}})
		return err
	})
	failsUnchanged(t, st, "AuthFailure", func() error {
		_, err := s.DeregisterImage(ctx, &ec2api.DeregisterImageRequest{ImageId: ptr("ami-12345678")})
		return err
	})
	must[*ec2api.DeregisterImageResult](t)(s.DeregisterImage(ctx, &ec2api.DeregisterImageRequest{ImageId: img.ImageId}))
	failsUnchanged(t, st, "InvalidAMIID.NotFound", launch(&ec2api.RunInstancesRequest{ImageId: img.ImageId}))
}

func TestKeyPairs(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	rsaKP := must[*ec2api.KeyPair](t)(s.CreateKeyPair(ctx, &ec2api.CreateKeyPairRequest{KeyName: ptr("rsa-key"),
		TagSpecifications: []ec2api.TagSpecification{{ResourceType: ptr("key-pair"), Tags: []ec2api.Tag{{Key: ptr("team"), Value: ptr("cache")}}}}}))
	blk, _ := pem.Decode([]byte(*rsaKP.KeyMaterial))
	if blk == nil || blk.Type != "RSA PRIVATE KEY" {
		t.Fatalf("KeyMaterial = %q, want an RSA PEM key", *rsaKP.KeyMaterial)
	}
	priv, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	ok(t, err)
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	ok(t, err)
	if want := colonHex(sha1Sum(p8)); *rsaKP.KeyFingerprint != want {
		t.Errorf("created RSA fingerprint = %s, want SHA-1 of PKCS#8 %s", *rsaKP.KeyFingerprint, want)
	}
	ed := must[*ec2api.KeyPair](t)(s.CreateKeyPair(ctx, &ec2api.CreateKeyPairRequest{KeyName: ptr("ed-key"), KeyType: ptr("ed25519")}))
	if !strings.HasPrefix(*ed.KeyMaterial, "-----BEGIN OPENSSH PRIVATE KEY-----") || strings.Contains(*ed.KeyFingerprint, ":") {
		t.Errorf("ed25519 key = %q / %q, want an OpenSSH key and a base64 SHA-256 fingerprint", (*ed.KeyMaterial)[:40], *ed.KeyFingerprint)
	}
	failsUnchanged(t, st, "InvalidKeyPair.Duplicate", func() error {
		_, err := s.CreateKeyPair(ctx, &ec2api.CreateKeyPairRequest{KeyName: ptr("rsa-key")})
		return err
	})
	failsUnchanged(t, st, "InvalidParameterValue", func() error {
		_, err := s.CreateKeyPair(ctx, &ec2api.CreateKeyPairRequest{KeyName: ptr("k"), KeyType: ptr("dsa")})
		return err
	})

	// Import the public halves: ED25519 fingerprints agree with creation;
	// an imported RSA key's is the MD5 of its DER public key.
	desc := must[*ec2api.DescribeKeyPairsResult](t)(s.DescribeKeyPairs(ctx, &ec2api.DescribeKeyPairsRequest{IncludePublicKey: ptr(true)}))
	pub := map[string]string{}
	for _, k := range desc.KeyPairs {
		pub[*k.KeyName] = *k.PublicKey
	}
	imp := must[*ec2api.ImportKeyPairResult](t)(s.ImportKeyPair(ctx, &ec2api.ImportKeyPairRequest{KeyName: ptr("ed-imported"), PublicKeyMaterial: []byte(pub["ed-key"])}))
	if *imp.KeyFingerprint != *ed.KeyFingerprint {
		t.Errorf("imported ed25519 fingerprint = %s, want %s", *imp.KeyFingerprint, *ed.KeyFingerprint)
	}
	impRSA := must[*ec2api.ImportKeyPairResult](t)(s.ImportKeyPair(ctx, &ec2api.ImportKeyPairRequest{KeyName: ptr("rsa-imported"), PublicKeyMaterial: []byte(pub["rsa-key"])}))
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	ok(t, err)
	if want := colonHex(md5Sum(der)); *impRSA.KeyFingerprint != want {
		t.Errorf("imported RSA fingerprint = %s, want %s", *impRSA.KeyFingerprint, want)
	}
	failsUnchanged(t, st, "InvalidKey.Format", func() error {
		_, err := s.ImportKeyPair(ctx, &ec2api.ImportKeyPairRequest{KeyName: ptr("bad"), PublicKeyMaterial: []byte("ssh-rsa bm90IGEga2V5")})
		return err
	})
	byTag := must[*ec2api.DescribeKeyPairsResult](t)(s.DescribeKeyPairs(ctx, &ec2api.DescribeKeyPairsRequest{Filters: []ec2api.Filter{filter("tag:team", "cache")}}))
	if len(byTag.KeyPairs) != 1 || *byTag.KeyPairs[0].KeyType != "rsa" {
		t.Errorf("DescribeKeyPairs(tag:team=cache) = %+v, want rsa-key", byTag.KeyPairs)
	}
	_, err = s.DescribeKeyPairs(ctx, &ec2api.DescribeKeyPairsRequest{KeyNames: []string{"nope"}})
	wantCode(t, err, "InvalidKeyPair.NotFound")
	del := must[*ec2api.DeleteKeyPairResult](t)(s.DeleteKeyPair(ctx, &ec2api.DeleteKeyPairRequest{KeyName: ptr("rsa-key")}))
	if del.KeyPairId == nil || *del.KeyPairId != *rsaKP.KeyPairId {
		t.Errorf("DeleteKeyPair = %+v, want its id", del)
	}
	must[*ec2api.DeleteKeyPairResult](t)(s.DeleteKeyPair(ctx, &ec2api.DeleteKeyPairRequest{KeyName: ptr("rsa-key")})) // gone: still true, as AWS
}

func sha1Sum(b []byte) []byte { h := sha1.Sum(b); return h[:] }
func md5Sum(b []byte) []byte  { h := md5.Sum(b); return h[:] }
