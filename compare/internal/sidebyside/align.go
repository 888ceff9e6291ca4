package sidebyside

import (
	"regexp"
	"strings"
)

// Row is one row of the aligned view: a C line and the Go line that does the same, or a
// line of one language alone (the other is nil), with a sentence that says why.
type Row struct {
	C, Go *Line
	Why   string // for a line of one language alone: why the other has none here
}

// Block is one step of the aligned view (or the files' header or tail).
type Block struct {
	Name     string // the step's name; "" for the header and the tail
	Title    string // what the view shows for it
	Deferred bool   // Go writes the step early, with defer
	Rows     []Row
}

// Align lays the model's twins side by side: the headers, then each step, then the tails.
// Within a block, lines are paired by what they name (identifiers, camelCase and
// snake_case alike); the pairing keeps both files' order.
func Align(m *Model) []Block {
	blocks := []Block{{Title: "file header", Rows: alignLines(m.C.Header, m.Go.Header)}}
	cs, gs := m.C.Sequence(), m.Go.Sequence()
	for i := range cs {
		c, g := cs[i].Lines, gs[i].Lines
		if i == 0 && cs[0].Lead+gs[0].Lead > 0 {
			// What comes before the first step (types, constants, helpers) is a block of
			// its own rather than part of the first step.
			blocks = append(blocks, Block{Title: "declarations", Rows: alignLines(c[:cs[0].Lead], g[:gs[0].Lead])})
			c, g = c[cs[0].Lead:], g[gs[0].Lead:]
		}
		blocks = append(blocks, Block{
			Name:     cs[i].Name,
			Title:    cs[i].Name,
			Deferred: gs[i].Deferred,
			Rows:     alignLines(c, g),
		})
	}
	if len(m.C.Tail)+len(m.Go.Tail) > 0 {
		blocks = append(blocks, Block{Title: "end of file", Rows: alignLines(m.C.Tail, m.Go.Tail)})
	}
	return blocks
}

// alignLines pairs lines of c and g, keeping their order, so that the sum of the pairs'
// similarity is largest; a pair counts only from minSimilarity up.
func alignLines(c, g []Line) []Row {
	const minSimilarity = 0.45
	n, m := len(c), len(g)
	ct, gt := make([][]string, n), make([][]string, m)
	ck, gk := make([]lineKind, n), make([]lineKind, m)
	for i := range c {
		ck[i], ct[i] = kindAndWords(c[i].Text, C)
	}
	for j := range g {
		gk[j], gt[j] = kindAndWords(g[j].Text, Go)
	}
	score := make([][]float64, n+1)
	for i := range score {
		score[i] = make([]float64, m+1)
	}
	sim := func(i, j int) float64 {
		if c[i].Marker && g[j].Marker {
			return 2 // markers pair with markers, always
		}
		if c[i].Marker || g[j].Marker {
			return 0
		}
		if ck[i] != gk[j] {
			return 0 // code pairs with code, a comment with a comment
		}
		switch ck[i] {
		case brace:
			return 0.05 // enough to share a row, too little to pull code pairs apart
		case blank:
			return 0.02
		}
		s := similarity(ct[i], gt[j])
		if s < minSimilarity {
			return 0
		}
		if ck[i] != code {
			s *= 0.6 // a pair of comments counts for less than a pair of code lines
		}
		return s
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			best := max(score[i+1][j], score[i][j+1])
			if s := sim(i, j); s > 0 {
				best = max(best, s+score[i+1][j+1])
			}
			score[i][j] = best
		}
	}
	var rows []Row
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && sim(i, j) > 0 && score[i][j] == sim(i, j)+score[i+1][j+1]:
			rows = append(rows, Row{C: &c[i], Go: &g[j]})
			i++
			j++
		case i < n && (j == m || score[i][j] == score[i+1][j]):
			rows = append(rows, Row{C: &c[i]})
			i++
		default:
			rows = append(rows, Row{Go: &g[j]})
			j++
		}
	}
	explainRuns(rows)
	return rows
}

// explainRuns gives every run of rows of one language alone the one sentence that explains
// it (the first rule that matches any of its lines).
func explainRuns(rows []Row) {
	for i := 0; i < len(rows); {
		if rows[i].C != nil && rows[i].Go != nil {
			i++
			continue
		}
		lang := C
		if rows[i].C == nil {
			lang = Go
		}
		j := i
		var texts []string
		for ; j < len(rows) && (rows[j].C == nil) == (lang == Go) && (rows[j].Go == nil) == (lang == C); j++ {
			texts = append(texts, rows[j].line().Text)
		}
		why := ExplainRun(lang, texts)
		for k := i; k < j; k++ {
			rows[k].Why = why
		}
		i = j
	}
}

func (r Row) line() *Line {
	if r.C != nil {
		return r.C
	}
	return r.Go
}

// Only is the language of a row of one language alone, "" for a pair.
func (r Row) Only() Lang {
	switch {
	case r.C != nil && r.Go == nil:
		return C
	case r.Go != nil && r.C == nil:
		return Go
	}
	return ""
}

// RunEnds tells whether rows[i] is the last of its run of one language alone.
func RunEnds(rows []Row, i int) bool {
	return rows[i].Only() != "" && (i+1 == len(rows) || rows[i+1].Only() != rows[i].Only())
}

// errCheck is the test of a call's failure, in either language's way.
var errCheck = regexp.MustCompile(`^\s*if (err != nil|\(.*(< 0|== NULL|!= 0|== -1)\))`)

var wordRE = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[{}]`)

type lineKind int

const (
	code lineKind = iota
	comment
	blank
	brace // a brace alone, or a closing parenthesis: layout that pairs weakly
)

// kindAndWords tells code from a comment or a blank line, and gives the words a line is
// compared by: a code line's code alone (its trailing comment left out), a comment's text.
func kindAndWords(text string, lang Lang) (lineKind, []string) {
	switch {
	case strings.TrimSpace(text) == "":
		return blank, nil
	case codeOf(text, lang) == "":
		return comment, words(text)
	case strings.Trim(codeOf(text, lang), "{}();") == "":
		return brace, nil
	}
	w := words(codeOf(text, lang))
	if len(w) == 0 || len(w) == 1 && (w[0] == "{" || w[0] == "}") {
		return brace, nil // return, break, else: too little to pair on
	}
	return code, w
}

// words splits a line into its words: identifiers in lower case without underscores, so
// that C's snake_case and Go's camelCase meet (echo_once and echoOnce are both
// "echoonce", connfd and connFd "connfd"), numbers, and braces; words every line of either
// language is full of are left out.
func words(text string) []string {
	var out []string
	if errCheck.MatchString(text) {
		out = append(out, "errcheck") // if err != nil, if (fd < 0): the same test
	}
	for _, w := range wordRE.FindAllString(text, -1) {
		w = strings.ToLower(strings.ReplaceAll(w, "_", ""))
		if len(w) > 5 && strings.HasPrefix(w, "raw") {
			w = w[3:] // rawClose is close, made raw (rawcalls.go)
		}
		if !noise[w] {
			out = append(out, w)
		}
	}
	return out
}

var noise = map[string]bool{
	"unix": true, "int": true, "err": true, "nil": true, "const": true, "struct": true,
	"static": true, "void": true, "func": true, "var": true, "the": true, "a": true,
	"of": true, "to": true, "is": true, "in": true, "and": true, "no": true, "eintr": true,
	"ignoringeintr": true, "sizet": true, "ssizet": true, "uint": true, "long": true,
	"raw": true, "if": true, "return": true,
}

// similarity is the share of words two lines have in common (Dice's coefficient over
// multisets); two blank lines are alike, a brace alone is like a brace alone.
func similarity(a, b []string) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 0.5
	}
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	count := map[string]int{}
	for _, w := range a {
		count[w]++
	}
	common := 0
	for _, w := range b {
		if count[w] > 0 {
			count[w]--
			common++
		}
	}
	return 2 * float64(common) / float64(len(a)+len(b))
}
