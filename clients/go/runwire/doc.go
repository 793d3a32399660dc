// Package runwire is a thin, idiomatic Go client for Runwire, the gRPC service
// that runs tool-calling AI agents.
//
// The generated contract lives in package runwirev1
// (github.com/runwire/runwire/clients/go/runwire/v1); this package adds a
// context-first API over it without hiding any of it:
//
//   - [Client] holds the five generated service clients (Agents, Runs,
//     Approvals, Threads, Tools) for every RPC, plus shortcuts for the common
//     flows: [Client.CreateAgent], [Client.ListAgentTools],
//     [Client.ListTools], [Client.StreamRun], [Client.Resume],
//     [Client.ResolveApproval] / [Client.Approve] / [Client.Reject],
//     [Client.SubmitToolOutputs] / [Client.SubmitToolOutput].
//   - A parent run's stream carries sub_run_started and sub_run_finished for
//     each delegation to a sub-agent, and announces the sub-agents' approvals
//     (ApprovalRequested.RunId is the child's run): approve them by approval
//     id like any other.
//   - Run events are Go 1.23 iterators ([iter.Seq2] of *runwirev1.RunEvent and
//     error): range over them; breaking out of the loop disconnects the stream
//     while the run goes on, and [Client.Resume] continues after the last
//     sequence seen with nothing lost or doubled.
//   - [Connect] takes [Options]: TLS (a CA file, a client certificate for
//     mutual TLS, a server name override) and a bearer token sent on every
//     call; [OptionsFromEnv] reads them from RUNWIRE_TOKEN, RUNWIRE_CA_FILE,
//     RUNWIRE_CLIENT_CERT_FILE, RUNWIRE_CLIENT_KEY_FILE and
//     RUNWIRE_TLS_SERVER_NAME. [Dial] takes raw grpc.DialOptions instead.
//   - Every RPC error is an [*Error] carrying the gRPC code and the
//     google.rpc.ErrorInfo reason (and BadRequest field violations); use
//     [AsError] or [IsReason], or grpc's status.Code, which still works.
//
// A minimal session:
//
//	client, err := runwire.Connect("127.0.0.1:50051", runwire.OptionsFromEnv())
//	if err != nil { ... }
//	defer client.Close()
//	for ev, err := range client.StreamRun(ctx, &runwirev1.StreamRunRequest{
//		AgentId: "my-agent", Prompt: "What is 6*7?",
//	}) {
//		if err != nil { ... }
//		switch p := ev.Payload.(type) {
//		case *runwirev1.RunEvent_ApprovalRequested:
//			client.Approve(ctx, p.ApprovalRequested.ApprovalId)
//		case *runwirev1.RunEvent_RunFinished:
//			fmt.Println(p.RunFinished.Output)
//		}
//	}
package runwire
