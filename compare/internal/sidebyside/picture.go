package sidebyside

import (
	"bufio"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
)

// A picture is a sequence diagram written by hand in a few lines (pictures/MODEL.pic):
//
//	# a comment
//	title epoll-lt: one thread waits for any descriptor
//	lane client  clients
//	lane kernel  kernel: listen queue, epoll ready list
//	lane server  server thread
//	step wait
//	server -> kernel   epoll_wait: sleeps until a descriptor is ready
//	client -> kernel   connect
//	kernel --> server  wakes it: the listener is ready
//	note server        accept4, then epoll_ctl ADD the connection
//
// lane ID LABEL: a participant, left to right in the order given (a process, a thread, the
// kernel's queues, the clients). step NAME: the messages below belong to the model's step
// of that name (one of its markers). A -> B TEXT: A calls or acts on B; A --> B TEXT: A
// wakes, answers or signals B; note A TEXT: what A does by itself.
type Picture struct {
	Model  string
	Title  string
	Lanes  []Lane
	Events []Event
}

// Lane is one participant of a picture.
type Lane struct{ ID, Label string }

// Event is one message or note of a picture.
type Event struct {
	Step     string // the step it belongs to, "" before the first step line
	From, To int    // lane indexes; To == From for a note
	Dashed   bool   // a wake-up, an answer, a signal
	Note     bool
	Text     string
	Line     int // in the description, for error messages
}

// LoadPicture reads the model's picture description, dir/MODEL.pic.
func LoadPicture(dir, model string) (*Picture, error) {
	name := filepath.Join(dir, model+".pic")
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("no picture for %s: %w", model, err)
	}
	return ParsePicture(model, name, string(b))
}

// ParsePicture reads a picture description (see Picture); name is for error messages.
func ParsePicture(model, name, text string) (*Picture, error) {
	p := &Picture{Model: model}
	lanes := map[string]int{}
	step := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, args...))
		}
		switch word {
		case "title":
			p.Title = rest
		case "lane":
			id, label, _ := strings.Cut(rest, " ")
			label = strings.TrimSpace(label)
			if id == "" || label == "" {
				return nil, fail("lane ID LABEL")
			}
			if _, dup := lanes[id]; dup {
				return nil, fail("lane %q given twice", id)
			}
			if len(p.Events) > 0 {
				return nil, fail("lanes come before the events")
			}
			lanes[id] = len(p.Lanes)
			p.Lanes = append(p.Lanes, Lane{ID: id, Label: label})
		case "step":
			if !stepName.MatchString(rest) {
				return nil, fail("step %q: a step's name as in its marker", rest)
			}
			step = rest
		case "note":
			id, text, _ := strings.Cut(rest, " ")
			l, ok := lanes[id]
			if !ok {
				return nil, fail("note on unknown lane %q", id)
			}
			if strings.TrimSpace(text) == "" {
				return nil, fail("note without text")
			}
			p.Events = append(p.Events, Event{Step: step, From: l, To: l, Note: true, Text: strings.TrimSpace(text), Line: n})
		default:
			f := strings.Fields(line)
			if len(f) < 4 || (f[1] != "->" && f[1] != "-->") {
				return nil, fail("want title, lane, step, note, or FROM -> TO TEXT / FROM --> TO TEXT; got %q", line)
			}
			from, ok1 := lanes[f[0]]
			to, ok2 := lanes[f[2]]
			if !ok1 || !ok2 {
				return nil, fail("unknown lane in %q (lanes: %s)", line, laneIDs(p.Lanes))
			}
			if from == to {
				return nil, fail("a message from a lane to itself: write a note")
			}
			// The text is what follows the second lane, spacing kept.
			text := strings.TrimSpace(line[strings.Index(line, f[2]+" ")+len(f[2]):])
			p.Events = append(p.Events, Event{Step: step, From: from, To: to, Dashed: f[1] == "-->", Text: text, Line: n})
		}
	}
	if p.Title == "" || len(p.Lanes) < 2 || len(p.Events) == 0 {
		return nil, fmt.Errorf("%s: a picture needs a title, two lanes and an event", name)
	}
	return p, nil
}

func laneIDs(ls []Lane) string {
	var ids []string
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	return strings.Join(ids, ", ")
}

// Steps is the picture's step names in order of first appearance.
func (p *Picture) Steps() []string {
	var out []string
	for _, e := range p.Events {
		if e.Step != "" && (len(out) == 0 || out[len(out)-1] != e.Step) {
			out = append(out, e.Step)
		}
	}
	return out
}

// CheckSteps says which of the picture's steps the model does not have. (The picture
// follows time; the markers follow the files, helpers first: their orders may differ.)
func (p *Picture) CheckSteps(m *Model) error {
	names := Names(m.C.Sequence())
	for _, s := range p.Steps() {
		if indexOf(names, s) < 0 {
			return fmt.Errorf("picture %s: step %q is not a step of the model (%s)", p.Model, s, strings.Join(names, ", "))
		}
	}
	return nil
}

func indexOf(names []string, s string) int {
	for i, n := range names {
		if n == s {
			return i
		}
	}
	return -1
}

// Geometry of the drawing, in pixels.
const (
	picLeft    = 170 // room for the step labels
	picTop     = 64
	picLaneBox = 30
	lineHeight = 14
	charWidth  = 6.6 // of the 12 px sans-serif text, roughly
	minGap     = 170 // between two lanes' lifelines
	maxGap     = 250
	// stepLabelChars is how many characters of a step's name fit left of the lanes.
	stepLabelChars = 23
)

// SVG draws the picture: the lanes as boxes with lifelines, the events top to bottom (a
// long text wrapped over lines), each step's events in a band labelled with the step's
// name (a link to stepHref(name) when stepHref is not nil).
func (p *Picture) SVG(stepHref func(string) string) string {
	// Lanes are as far apart as their labels and the texts between them need, within
	// bounds; a longer text wraps.
	gap := float64(minGap)
	for _, l := range p.Lanes {
		gap = max(gap, float64(len([]rune(l.Label)))*charWidth+24)
	}
	for _, e := range p.Events {
		if !e.Note {
			gap = max(gap, (float64(len([]rune(e.Text)))*charWidth+24)/float64(abs(e.To-e.From)))
		}
	}
	gap = min(gap, maxGap)
	x := func(lane int) float64 { return picLeft + gap/2 + float64(lane)*gap }
	width := picLeft + gap*float64(len(p.Lanes)) + 10

	// Each event's lines of text, and its row's top.
	texts := make([][]string, len(p.Events))
	tops := make([]float64, len(p.Events)+1)
	tops[0] = float64(picTop + picLaneBox + 20)
	for i, e := range p.Events {
		room := float64(abs(e.To-e.From))*gap - 16
		if e.Note {
			room = 1.6 * gap
		}
		texts[i] = wrapText(e.Text, int(room/charWidth))
		tops[i+1] = tops[i] + 16 + float64(len(texts[i]))*lineHeight
	}
	height := tops[len(p.Events)] + 20

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker>` +
		`<marker id="wake" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10" fill="none" stroke="#b5341c" stroke-width="1.5"/></marker></defs>` + "\n")
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", esc(p.Title))
	b.WriteString(`<text x="10" y="44" fill="#555">solid: a call or an action; dashed red: a wake-up, an answer, a signal; green: what a lane does by itself</text>` + "\n")

	// The step bands, under everything else.
	for i := 0; i < len(p.Events); {
		j := i
		for j < len(p.Events) && p.Events[j].Step == p.Events[i].Step {
			j++
		}
		if p.Events[i].Step != "" {
			y0, y1 := tops[i], tops[j]
			fmt.Fprintf(&b, `<rect x="4" y="%.0f" width="%.0f" height="%.0f" fill="#f1f5fb" stroke="#c9d6ea"/>`+"\n", y0+1, width-8, y1-y0-2)
			label := ""
			for k, line := range wrapText(p.Events[i].Step, stepLabelChars) {
				label += fmt.Sprintf(`<text x="10" y="%.0f" font-weight="bold" fill="#1d4f91">%s</text>`, y0+15+float64(k)*lineHeight, esc(line))
			}
			if stepHref != nil {
				label = fmt.Sprintf(`<a href="%s">%s</a>`, esc(stepHref(p.Events[i].Step)), label)
			}
			b.WriteString(label + "\n")
		}
		i = j
	}
	// The lanes.
	for i, l := range p.Lanes {
		w := gap - 16
		fmt.Fprintf(&b, `<rect x="%.0f" y="%d" width="%.0f" height="%d" rx="4" fill="#fdf6e3" stroke="#8a6d1f"/>`+"\n", x(i)-w/2, picTop, w, picLaneBox)
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">%s</text>`+"\n", x(i), picTop+picLaneBox/2+4, esc(l.Label))
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%d" x2="%.0f" y2="%.0f" stroke="#999" stroke-dasharray="4 4"/>`+"\n", x(i), picTop+picLaneBox, x(i), height-10)
	}
	// The events: the text above, the arrow (or the note's box) at the bottom of the row.
	for i, e := range p.Events {
		lines := texts[i]
		y := tops[i+1] - 8 // the arrow
		if e.Note {
			w := 0.0
			for _, l := range lines {
				w = max(w, float64(len([]rune(l)))*charWidth+16)
			}
			top := tops[i] + 5
			fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" rx="3" fill="#eef7ee" stroke="#4b8b4b"/>`+"\n", x(e.From)-w/2, top, w, float64(len(lines))*lineHeight+6)
			for k, l := range lines {
				fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">%s</text>`+"\n", x(e.From), top+lineHeight+float64(k)*lineHeight-1, esc(l))
			}
			continue
		}
		x1, x2 := x(e.From), x(e.To)
		style := `stroke="#333" marker-end="url(#arrow)"`
		if e.Dashed {
			style = `stroke="#b5341c" stroke-dasharray="6 3" marker-end="url(#wake)"`
		}
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke-width="1.5" %s/>`+"\n", x1, y, x2, y, style)
		for k, l := range lines {
			fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">%s</text>`+"\n", (x1+x2)/2, y-5-float64(len(lines)-1-k)*lineHeight, esc(l))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// wrapText breaks text at spaces into lines of at most n characters (a longer word keeps
// its own line).
func wrapText(text string, n int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(text) {
		switch {
		case cur == "":
			cur = w
		case len([]rune(cur))+1+len([]rune(w)) <= n:
			cur += " " + w
		default:
			lines = append(lines, cur)
			cur = w
		}
	}
	return append(lines, cur)
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

func esc(s string) string { return html.EscapeString(s) }
