package sidebyside

import (
	"regexp"
	"strings"
)

// A line of one language alone is explained by the first rule that matches it. A line that
// only lays out the code (blank, a brace, a comment's frame) needs no sentence; a comment
// line of one language alone is the comment's own explanation.
type rule struct {
	lang Lang
	re   *regexp.Regexp
	why  string
}

var rules = []rule{
	// Go only: plumbing of the runtime, explained once where it lives.
	{Go, regexp.MustCompile(`slice\.yield\(\)|var slice timeSlice|slice \*timeSlice`), "The loop ends its goroutine's scheduler time slice itself, so the runtime's monitor does not take the thread's processor away in the middle of a system call (timeSlice in gosrv/common.go says why)."},
	{Go, regexp.MustCompile(`runtime\.(Lock|Unlock)OSThread`), "A goroutine may move between OS threads; this one must stay on one, the thread the kernel signals or completes to (C code runs on its own thread throughout)."},
	{Go, regexp.MustCompile(`^\s*defer `), "defer registers the clean-up where the resource is made; it runs when the function returns, where C writes the same calls by hand."},
	{Go, regexp.MustCompile(`backoffSleep\(`), "Go sleeps in backoffSleep, a raw clock_nanosleep (see there); C fills a timespec and calls nanosleep."},
	{Go, regexp.MustCompile(`^\s*go func|^\s*\}\([a-zA-Z, ]*\)$`), "Go starts a goroutine where C starts a pthread; its blocking system calls hold an OS thread of their own (gosrv/thread.go's header)."},
	{Go, regexp.MustCompile(`threads\.(Add|Done|Wait)|sync\.WaitGroup|live\.(Add|Load)|atomic\.Int32`), "Go counts its live connection goroutines with sync.WaitGroup, where C keeps a count under a mutex and a condition variable."},
	{Go, regexp.MustCompile(`maxConnThreads`), "The runtime aborts the process past 10000 threads, where pthread_create fails politely; the model refuses a connection before that (maxConnThreads)."},
	{Go, regexp.MustCompile(`^\s*return (status|0|-1|false|true|nil)?$|^\s*return [a-zA-Z]+, `), "Go returns from inside the loop, and its deferred calls clean up; C leaves the loop (break, goto out) and cleans up below."},
	{Go, regexp.MustCompile(`:= (make|append)\(|= append\(|make\(\[\]`), "Go grows its slices with append and make; C allocates and reallocates by hand."},
	{Go, regexp.MustCompile(`^\s*(var [a-zA-Z]+ (int|unix\.Signal)|var [a-z]+, [a-z]+ int)$`), "Go declares a variable the closure of the next call fills in."},
	{Go, regexp.MustCompile(`^\s*(import|package|//go:build)|^\s*"[a-z./]+"$`), "Go's build line, package clause and imports, where C includes headers."},
	{Go, regexp.MustCompile(`^\s*(if |} else |switch|case |default:|for |\)$|\}\(\)$|continue$|break$|return\b|[a-zA-Z.\[\]]+(\+\+|--)$|[a-zA-Z.\[\]]+(, [a-zA-Z.\[\]]+)* :?= |[a-zA-Z]+\.(add|del)\(|<-)`), "Go's control flow and bookkeeping around the calls paired with C's on the rows nearby; C writes the same in its own way on a nearby row (a condition, an increment, a helper)."},
	{Go, regexp.MustCompile(`^\s*[a-zA-Z]+: .*[,{]$|^\s*\},?$`), "Go fills a struct with a composite literal, field by field; C assigns the same fields, or calls a helper, on a nearby row."},
	{Go, regexp.MustCompile(`^func `), "Go's func line; C's function header is on a nearby row, or the code is inline there."},
	{Go, regexp.MustCompile(`^const |^\s*[a-zA-Z]+ += [^=]`), "Go names a typed constant where C #defines one."},
	{Go, regexp.MustCompile(`^\s*var [a-zA-Z]+(, [a-zA-Z]+)* [\[\]*a-zA-Z0-9.]+$`), "Go declares the variable, zeroed, where it starts; C declares its own with its type and initializer on a nearby row, or needs none."},
	{Go, regexp.MustCompile(`^\s*(type |[a-zA-Z]+ +(chan |func|\[|\*)?[a-zA-Z.{}\[\] ]+ *(//.*)?$)`), "Go's type and field declarations, where C has its struct."},
	{Go, regexp.MustCompile(`unsafe\.|mem\[|us\.mem|Munmap|Mmap`), "Memory the kernel writes into is mapped apart from Go's heap, which the garbage collector could move or free (gosrv/uring_ring.go's header)."},

	// C only: what Go's language or runtime does for the code.
	{C, regexp.MustCompile(` \? .* : `), "C chooses a value with the ?: operator, which Go does not have: Go writes an if on a nearby row."},
	{C, regexp.MustCompile(`ENOMEM|== NULL`), "C checks that its allocation succeeded and backs out if not; in Go an allocation cannot fail (the runtime ends the process instead), so there is no such branch."},
	{C, regexp.MustCompile(`\b(free|malloc|calloc|realloc|memset|memcpy)\(`), "C manages memory by hand; Go allocates with make and append, and its garbage collector frees."},
	{C, regexp.MustCompile(`^\s*goto out;|^out:|^\s*break;$|^\s*continue;$`), "C leaves its loop with goto or break and cleans up below it; Go returns, and its deferred calls clean up (or loops the same way in other words)."},
	{C, regexp.MustCompile(`pthread_(mutex|cond|attr)_|threads->live|PTHREAD_|\.live = |\.mu = |\.idle = `), "C counts its detached threads under a mutex and a condition variable (and sets their stack size); Go's sync.WaitGroup counts goroutines, which need no attributes."},
	{C, regexp.MustCompile(`^#(include|define)|^\s*#`), "C's headers and macros; Go imports packages and names typed constants."},
	{C, regexp.MustCompile(`^\s*(struct [a-z_]+ [*a-z_]+( = .*)?;|int [a-z_]+(, [a-z_]+)*( = [^;]*)?;|long [a-z_]+( = .*)?;|char [a-z_]+\[.*\];|sigset_t .*;|siginfo_t .*;|pid_t [a-z_]+( = .*)?;|socklen_t .*;|ssize_t .*;|uint64_t .*;|size_t .*;|pthread_t .*;|struct [a-z_]+ \{|};?)$`), "C declares a variable (or a struct) with its type before the code that fills it; Go declares it where it is first assigned (:=), or has no need of it."},
	{C, regexp.MustCompile(`^\s+(size_t|int|char|long|struct [a-z_]+|pid_t|uint\d+_t|pthread_t|sigset_t|socklen_t)\s+\**[a-z_]+(\[[^]]*\])?;`), "A field of C's struct; Go's struct or slice holds the same on a nearby row, or needs none (a slice knows its length)."},
	{C, regexp.MustCompile(`^\s*(static [a-z_ ]+\*?[a-z_]+\(|int [a-z_]+\(|[a-z_ ]+\*?[a-z_]+\(.*\)$|\{$)|^\s+[a-z_ *,]+\)$`), "C's function header; Go's func line is on a row nearby, or the code is inline there."},
	{C, regexp.MustCompile(`^\s*(if |} else|else|for |while |switch|case |default:|return|\}$|\*?[a-z0-9_>.\[\]-]+ [-+]?= |[a-z0-9_>.-]+(\+\+|--);|\(void\)|enum |[a-z_]+\(.*\);$)`), "C's control flow and bookkeeping around the calls paired with Go's on the rows nearby; Go writes the same in its own way on a nearby row (a condition, an assignment, a method)."},
	{C, regexp.MustCompile(`\b(close|fdset_[a-z]+|acceptor_close)\(`), "C closes what it opened at the end; Go's deferred call or its own loop does it on another row."},
}

// ExplainRun says why a run of lines of lang has no counterpart in the other language:
// the first rule that matches one of its lines. A run of comments and layout alone needs
// no sentence (""); a run of code that no rule explains gets the generic one.
func ExplainRun(lang Lang, texts []string) string {
	code := false
	for _, r := range rules {
		for _, text := range texts {
			if layoutOnly(text) {
				continue
			}
			code = true
			if r.lang == lang && r.re.MatchString(withoutComment(text, lang)) {
				return r.why
			}
		}
	}
	for _, text := range texts {
		t := strings.TrimSpace(text)
		if i := strings.Index(t, "// Go only:"); lang == Go && i >= 0 {
			return strings.TrimSpace(t[i+len("// Go only:"):])
		}
	}
	if code {
		return Unexplained
	}
	return ""
}

// Unexplained is the sentence for code that no rule explains (a test keeps it unused).
const Unexplained = "No counterpart on these rows: the other file does this elsewhere."

// layoutOnly tells a line that only lays out the code or is a comment.
func layoutOnly(text string) bool {
	t := strings.TrimSpace(text)
	switch t {
	case "", "{", "}", "*/", "/*", ")", "})", "};":
		return true
	}
	return strings.HasPrefix(t, "//") || strings.HasPrefix(t, "/*") || strings.HasPrefix(t, "* ") || t == "*"
}

// withoutComment is a line of code without its trailing comment, indentation kept.
func withoutComment(text string, lang Lang) string {
	if codeOf(text, lang) == "" {
		return ""
	}
	for _, mark := range []string{"//", "/*"} {
		if i := strings.Index(text, mark); i >= 0 {
			text = text[:i]
		}
	}
	return strings.TrimRight(text, " \t")
}
