package policy

import "testing"

// FuzzParse checks that no document makes Parse, CanonicalSize or Evaluate
// panic, and that a document that parses as one kind evaluates. Seeds are in
// testdata/fuzz/FuzzParse; run with
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 60s ./internal/iam/policy/
func FuzzParse(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		_, _ = CanonicalSize(doc)
		reqs := []Request{
			aliceReq("elasticache:CreateCacheCluster", "arn:aws:elasticache:us-east-1:111122223333:cluster:c1"),
			roleReq("sts:AssumeRole", "arn:aws:iam::111122223333:role/r", true),
			withContext(aliceReq("ec2:DescribeVpcs", "*"), "aws:TagKeys", "a", "b"),
		}
		for _, kind := range []Kind{KindIdentity, KindResource, KindTrust} {
			p, err := Parse(doc, kind)
			if err != nil {
				if p != nil {
					t.Fatalf("Parse returned a policy and error %v", err)
				}
				continue
			}
			n := Named{Name: "fuzz", Policy: p}
			for i := range reqs {
				switch kind {
				case KindIdentity:
					Evaluate(&reqs[i], Set{Identity: []Named{n}, Boundary: &n, Session: []Named{n}})
				default:
					Evaluate(&reqs[i], Set{Resource: &n})
				}
			}
		}
	})
}
