package cachectl

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// authRewriter passes a client's command stream to the engine unchanged
// but for the password of AUTH <user> <pass> and HELLO <ver> AUTH <user>
// <pass> (arrays of bulk strings, or inline commands): for a user auth
// answers ok, the password becomes what auth returns. Commands are
// neither answered nor reordered: the engine answers each (OK,
// WRONGPASS), so replies stay in order. Only the first argument of a
// command is read into memory, and every argument of AUTH and HELLO
// (bounded); other arguments stream through. What is not RESP the engine
// reads as it would (its protocol error closes the connection): after
// one, bytes pass through untouched.
type authRewriter struct {
	r *bufio.Reader
	w *bufio.Writer
	// auth is asked for AUTH's user and password: the password the
	// engine gets, and whether the user is one the front authenticates.
	auth func(user, pass string) (string, bool)
	raw  bool // a protocol error was seen: copy verbatim
	// metered, when set, is called after each command is read and
	// before it is sent (ECPU metering, ecpu.go): it may wait.
	metered func()
}

// Limits: a line (array header, bulk header, inline command) and an
// argument of AUTH or HELLO read into memory.
const (
	respMaxLine = 64 << 10
	respMaxArg  = 64 << 10
)

var errRespLine = errors.New("resp: line too long")

// run filters until the client's stream or the engine's side ends.
func (a *authRewriter) run() error {
	for {
		if a.r.Buffered() == 0 {
			// About to wait for the client: what was read goes out.
			if err := a.w.Flush(); err != nil {
				return err
			}
		}
		if a.raw {
			_, err := a.w.ReadFrom(a.r)
			if ferr := a.w.Flush(); err == nil {
				err = ferr
			}
			return err
		}
		if err := a.next(); err != nil {
			a.w.Flush()
			return err
		}
		if a.metered != nil && !a.raw {
			a.metered()
		}
	}
}

// line reads one line, "\n" included.
func (a *authRewriter) line() ([]byte, error) {
	var out []byte
	for {
		b, err := a.r.ReadSlice('\n')
		if len(out)+len(b) > respMaxLine {
			// Hand what was read to the engine, which refuses it.
			a.w.Write(out)
			a.w.Write(b)
			a.raw = true
			return nil, errRespLine
		}
		if err == bufio.ErrBufferFull {
			out = append(out, b...)
			continue
		}
		if out == nil {
			out = b
		} else {
			out = append(out, b...)
		}
		return out, err
	}
}

// number parses the integer of a "*n\r\n" or "$n\r\n" line.
func number(line []byte) (int, bool) {
	s := strings.TrimRight(string(line[1:]), "\r\n")
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func (a *authRewriter) next() error {
	first, err := a.r.Peek(1)
	if err != nil {
		return err
	}
	if first[0] != '*' {
		return a.inline()
	}
	hdr, err := a.line()
	if err != nil {
		if err == errRespLine {
			return nil
		}
		return err
	}
	n, ok := number(hdr)
	if !ok || n <= 0 {
		a.raw = !ok
		_, err := a.w.Write(hdr)
		return err
	}
	hdr = bytes.Clone(hdr) // the reader's buffer moves on
	// The command's name.
	name, nameHdr, long, err := a.bulk(16)
	if err != nil {
		return orNil(err)
	}
	if name == nil {
		// Not a short bulk string: not AUTH nor HELLO.
		a.w.Write(hdr)
		a.w.Write(nameHdr)
		return a.rest(long, n-1)
	}
	cmd := strings.ToLower(string(name))
	if cmd != "auth" && cmd != "hello" {
		a.w.Write(hdr)
		a.w.Write(nameHdr)
		a.w.Write(name)
		a.w.WriteString("\r\n")
		return a.stream(n - 1)
	}
	args := []string{string(name)}
	for i := 1; i < n; i++ {
		arg, argHdr, long, err := a.bulk(respMaxArg)
		if err != nil {
			return orNil(err)
		}
		if arg == nil {
			// Too long or not a bulk string: the engine gets the command
			// as sent (it cannot hold a valid IAM token).
			a.w.Write(hdr)
			writeArgs(a.w, args)
			a.w.Write(argHdr)
			return a.rest(long, n-1-i)
		}
		args = append(args, string(arg))
	}
	a.rewrite(args)
	a.w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	writeArgs(a.w, args)
	return nil
}

// rest passes on the data of a long bulk string whose header was
// written (long bytes, -1: the header was not a bulk string's), then k
// more arguments.
func (a *authRewriter) rest(long int, k int) error {
	if long < 0 {
		a.raw = true
		return nil
	}
	if _, err := io.CopyN(a.w, a.r, int64(long)+2); err != nil {
		return err
	}
	return a.stream(k)
}

func orNil(err error) error {
	if err == errRespLine {
		return nil
	}
	return err
}

// bulk reads the next element, a bulk string of at most max bytes: its
// data and header. A longer one: nil data, its header and its length
// (the data not read); not a bulk string: nil data, the line read, -1.
func (a *authRewriter) bulk(max int) (data, hdr []byte, long int, err error) {
	hdr, err = a.line()
	if err != nil {
		return nil, nil, -1, err
	}
	hdr = bytes.Clone(hdr)
	l, ok := number(hdr)
	if hdr[0] != '$' || !ok || l < 0 {
		return nil, hdr, -1, nil
	}
	if l > max {
		return nil, hdr, l, nil
	}
	data = make([]byte, l+2)
	if _, err := io.ReadFull(a.r, data); err != nil {
		return nil, nil, -1, err
	}
	return data[:l], hdr, 0, nil
}

// stream passes k more arguments of a command through.
func (a *authRewriter) stream(k int) error {
	for ; k > 0; k-- {
		hdr, err := a.line()
		if err != nil {
			return orNil(err)
		}
		if _, err := a.w.Write(hdr); err != nil {
			return err
		}
		l, ok := number(hdr)
		if hdr[0] != '$' || !ok || l < 0 {
			a.raw = true
			return nil
		}
		if _, err := io.CopyN(a.w, a.r, int64(l)+2); err != nil {
			return err
		}
	}
	return nil
}

// inline handles an inline command: AUTH and HELLO are rewritten as
// arrays, anything else passes as sent.
func (a *authRewriter) inline() error {
	line, err := a.line()
	if err != nil {
		return orNil(err)
	}
	fields := strings.Fields(string(line))
	if len(fields) > 0 && !strings.ContainsAny(string(line), `"'`) {
		if cmd := strings.ToLower(fields[0]); cmd == "auth" || cmd == "hello" {
			a.rewrite(fields)
			a.w.WriteString("*" + strconv.Itoa(len(fields)) + "\r\n")
			writeArgs(a.w, fields)
			return nil
		}
	}
	_, err = a.w.Write(line)
	return err
}

// rewrite replaces the password of AUTH user pass, or of HELLO's AUTH
// option, when auth says the user is its.
func (a *authRewriter) rewrite(args []string) {
	set := func(user, pass int) {
		if p, ok := a.auth(args[user], args[pass]); ok {
			args[pass] = p
		}
	}
	if strings.EqualFold(args[0], "auth") {
		if len(args) == 3 {
			set(1, 2)
		}
		return
	}
	// HELLO [protover [AUTH username password] [SETNAME clientname]]
	for i := 2; i < len(args); {
		switch {
		case strings.EqualFold(args[i], "auth") && i+2 < len(args):
			set(i+1, i+2)
			i += 3
		case strings.EqualFold(args[i], "setname") && i+1 < len(args):
			i += 2
		default:
			return
		}
	}
}

func writeArgs(w *bufio.Writer, args []string) {
	for _, s := range args {
		w.WriteString("$" + strconv.Itoa(len(s)) + "\r\n")
		w.WriteString(s)
		w.WriteString("\r\n")
	}
}
