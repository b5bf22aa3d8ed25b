package awsproto

import (
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/awserr"
)

type jsonIn struct {
	Name   *string            `aws:"q=Name,x=Name,req"`
	Start  *time.Time         `aws:"q=Start,x=Start"`
	Period *int32             `aws:"q=Period,x=Period"`
	Tags   []jsonTag          `aws:"q=Tags,x=Tags,qm=member,xm=member"`
	Extra  map[string]float64 `aws:"q=Extra,x=Extra"`
}

type jsonTag struct {
	Key *string `aws:"q=Key,x=Key,req"`
}

func TestJSONRoundTrip(t *testing.T) {
	var in jsonIn
	body := `{"Name":"n","Start":1796622600.5,"Period":60,"Tags":[{"Key":"k"}],"Extra":{"p99":1.5}}`
	if err := DecodeJSON([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	if *in.Name != "n" || !in.Start.Equal(time.UnixMilli(1796622600500)) || *in.Period != 60 || *in.Tags[0].Key != "k" || in.Extra["p99"] != 1.5 {
		t.Errorf("DecodeJSON = %+v", in)
	}
	if got, want := string(EncodeJSON(&in)), body; got != want {
		t.Errorf("EncodeJSON = %s, want %s", got, want)
	}
	for _, tc := range []struct{ body, code string }{
		{`{"Start":1}`, "MissingParameter"},
		{`{"Name":"n","Tags":[{}]}`, "MissingParameter"},
		{`{"Name":5}`, "SerializationException"},
		{`{"Name":"n","Period":99999999999}`, "SerializationException"},
		{`{`, "SerializationException"},
	} {
		var in jsonIn
		if err := DecodeJSON([]byte(tc.body), &in); !awserr.HasCode(err, tc.code) {
			t.Errorf("DecodeJSON(%s) = %v, want %s", tc.body, err, tc.code)
		}
	}
}
