//go:build linux

package compare

// contract_test.go - the contract's scenario table and its helpers
// (compare/internal/contract, which paritydiff -contract runs too) under the names the
// suite's files use.

import "github.com/iomodels/iomodels/compare/internal/contract"

// scenarios is the table. The names are the second half of the subtest names.
var scenarios = contract.Scenarios()

type (
	expectation = contract.Expectation
	hold        = contract.Hold
	inProcess   = contract.InProcess
)

var (
	streamModel     = contract.StreamModel
	multiplexing    = contract.Multiplexing
	only            = contract.Only
	expects         = contract.Expects
	reply           = contract.Reply
	logged          = contract.Logged
	wantEcho        = contract.WantEcho
	wantStdoutLines = contract.WantStdoutLines
	wantNote        = contract.WantNote
	servedAll       = contract.ServedAll
	wantAcceptOrder = contract.WantAcceptOrder
	wantCleanStop   = contract.WantCleanStop
	each            = contract.Each
	sendEach        = contract.SendEach
	clientNames     = contract.ClientNames
	concurrent      = contract.Concurrent
	sequential      = contract.Sequential
	holdServer      = contract.HoldServer
	awaitHeld       = contract.AwaitHeld
	sendAcked       = contract.SendAcked
	releaseServer   = contract.ReleaseServer
)
