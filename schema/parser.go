package schema

import (
	"encoding/json"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// Kind is a set of JSON value kinds accepted for an object member, as in
// C's ovsdb_parser.
type Kind uint16

// JSON kinds for Parser.Member.
const (
	KNull Kind = 1 << iota
	KFalse
	KTrue
	KObject
	KArray
	KInteger
	KReal
	KString
	KID       // a string that is a valid identifier
	KOptional // the member may be absent

	KBoolean = KFalse | KTrue
	KNumber  = KInteger | KReal
	KAny     = KNull | KBoolean | KObject | KArray | KNumber | KString
)

// KindOf returns the kind of a decoded JSON value.
func KindOf(v any) Kind {
	switch x := v.(type) {
	case nil:
		return KNull
	case bool:
		if x {
			return KTrue
		}
		return KFalse
	case map[string]any:
		return KObject
	case []any:
		return KArray
	case string:
		return KString
	case json.Number:
		if _, ok := AsInteger(x); ok {
			return KInteger
		}
		return KReal
	case int64, int:
		return KInteger
	case float64:
		return KReal
	}
	return 0
}

// Parser extracts members of a JSON object with C's error texts
// ("Parsing <name> failed: Required 'x' member is missing." ...). The first
// error sticks; Finish reports it, or members that were not asked for.
type Parser struct {
	js   any
	obj  map[string]any
	name string
	used map[string]bool
	err  error
}

// NewParser starts parsing js, which should be an object, described by name
// in error messages.
func NewParser(js any, name string) *Parser {
	p := &Parser{js: js, name: name, used: make(map[string]bool, 4)}
	if obj, ok := js.(map[string]any); ok {
		p.obj = obj
	} else {
		// C's parser forgets the value in this case: no "syntax" member.
		p.err = ovsdberr.New(ovsdberr.TagSyntax, "Parsing %s failed: Object expected.", name)
	}
	return p
}

func (p *Parser) raise(msg string) {
	if p.err == nil {
		p.err = ovsdberr.Syntax(p.js, "Parsing %s failed: %s", p.name, msg)
	}
}

// Raise records an error in the parser's format unless one is recorded.
func (p *Parser) Raise(format string, args ...any) {
	p.raise(ovsdberr.New("", format, args...).Details)
}

// Err returns the first error so far.
func (p *Parser) Err() error { return p.err }

// Member returns the named member if its kind is in kinds, nil otherwise
// (recording an error unless it is optional and absent).
func (p *Parser) Member(name string, kinds Kind) any {
	if p.obj == nil {
		return nil
	}
	v, ok := p.obj[name]
	if !ok {
		if kinds&KOptional == 0 {
			p.raise("Required '" + name + "' member is missing.")
		}
		return nil
	}
	k := KindOf(v)
	if k&kinds != 0 || (kinds&KID != 0 && k == KString && IsValidID(v.(string))) {
		p.used[name] = true
		return v
	}
	p.raise("Type mismatch for member '" + name + "'.")
	return nil
}

// Finish returns the first error, or an error naming a member that was
// present but never asked for.
func (p *Parser) Finish() error {
	if p.err != nil {
		return p.err
	}
	if len(p.obj) > len(p.used) {
		var unused []string
		for k := range p.obj {
			if !p.used[k] {
				unused = append(unused, k)
			}
		}
		sortStrings(unused)
		if len(unused) > 1 {
			s := ""
			if len(unused) > 2 {
				s = "s"
			}
			p.Raise("Member '%s' and %d other member%s are present but not allowed here.", unused[0], len(unused)-1, s)
		} else {
			p.raise("Member '" + unused[0] + "' is present but not allowed here.")
		}
	}
	return p.err
}
