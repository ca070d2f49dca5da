// Package dendritetest runs a real Dendrite homeserver (v0.15.2, monolith,
// SQLite) on loopback for end-to-end tests, and drives it as real users
// through the client-server API.
//
//	reg := dendritetest.NewRegistration("test", appserviceURL, "archivebot")
//	s := dendritetest.Start(t, dendritetest.Options{Registrations: []string{reg.Write(t)}})
//	alice := s.Register(t, "alice")
//	room := alice.CreateRoom(t, map[string]any{"preset": "public_chat", "room_alias_name": "town"})
//	bot := s.AppserviceUser(reg.ASToken, reg.SenderID(s.ServerName))
//	bot.Join(t, "#town:hs.test")
//	alice.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.text", "body": "hi"})
//
// Binaries builds Dendrite once with scripts/build-dendrite.sh (minutes,
// then cached under ~/.cache/mxarchive; $MXARCHIVE_DENDRITE_BIN overrides
// it). If it cannot be built the test is skipped, or failed under CI=true.
// A Dendrite that is built but does not start always fails the test.
//
// Each Start is a fresh server in its own directory (on /dev/shm when it
// exists: Dendrite is fsync-bound), on 127.0.0.1 at a free port, with
// federation, presence, rate limiting and open registration off,
// shared-secret registration on, bcrypt cost 4, JetStream on disk, and
// legacy appservice auth and paths off. Its log is dendrite.log in Dir and
// its last 100 lines are logged when the test fails. It is stopped at
// cleanup (SIGTERM, SIGKILL after 5 s) and, on Linux, killed by the kernel
// if the test binary dies first (Pdeathsig), so it never outlives its test;
// a /dev/shm directory left behind that way is removed by the next test
// binary that starts a server.
//
// This package's own tests take ≈ 35 s, most of it waiting on Dendrite's
// retry backoff and on JetStream's ack wait; -short leaves those two out.
//
// Measured here (2 cores, state on /dev/shm, binaries cached): Start takes
// ≈ 0.15–0.35 s to the first 200 from /_matrix/client/versions (key
// generation included; the upper end with two servers starting at once);
// Restart ≈ 0.06–0.11 s to stop (SIGTERM) plus ≈ 0.13–0.22 s to start.
//
// # What Dendrite v0.15.2 does, as observed by this package's tests
//
// Appservice registration files (setup/config/config_appservice.go):
//   - id, as_token, hs_token and sender_localpart are required; ids and
//     as_tokens must be unique. Nothing checks url: an empty url loads, and
//     then nothing is ever pushed to that appservice.
//   - The namespaces key must be present: without it Dendrite panics at
//     startup ("assignment to entry in nil map", exit status 2).
//     "namespaces: {}" or empty users/aliases/rooms lists are accepted.
//     Registration.Write always writes the three lists.
//   - Regexes are Go regexps matched unanchored; the sender is added as an
//     exclusive users regex. A missing rate_limited means true and only
//     logs that rate_limited is unimplemented.
//   - The bot (@sender_localpart:server) exists from startup, with a
//     device whose device_id is the sender_localpart and whose access token
//     is the as_token.
//
// Acting as the appservice (User from AppserviceUser):
//   - The as_token with ?user_id=@bot:server acts as the bot: join, send,
//     /messages, /sync (initial, incremental and long-polling, with or
//     without a filter) all work. Without user_id the as_token still
//     authenticates as the bot, through that device. With the user_id of a
//     user the appservice did not register: 403 M_FORBIDDEN "appservice has
//     not registered this user".
//
// Transactions (PUT {url}/_matrix/app/v1/transactions/{txnId}):
//   - Authorization: Bearer <hs_token> on every one, no access_token query
//     parameter. txnId is a decimal nanosecond timestamp (that of the
//     JetStream message of the first event in the batch). Only
//     /transactions was ever called: no user or alias queries, no ping.
//   - With empty namespaces, an invite of the bot is pushed (its state_key
//     is the bot) although the bot is not in the room; once the bot has
//     joined, every new event of the room is pushed. Pushed events never
//     carry prev_content or age: messages and most state events have no
//     "unsigned" at all, joins made through /join have "unsigned": {}, and
//     the bot's invite has unsigned.invite_room_state (stripped create,
//     join_rules, name and canonical_alias).
//   - m.room.redaction is never pushed: the sync API consumer, which feeds
//     the appservice stream, drops redaction events from it. The redaction
//     is visible to the bot through /sync (incremental, also when filtered to
//     {"types":["m.room.redaction"]}) and /messages; the redacted event then
//     reads content {} with unsigned.redacted_because holding the redaction.
//   - Any status but exactly 200 is a failure. The same txnId is retried
//     after 2, 4, 8 s (measured 2.005 s, 4.008 s, 8.005 s), then (from the
//     source) 16, 32, 64, 64… s, forever, blocking every later event for that appservice. A
//     retry can carry more events than the first attempt: [a] was retried
//     as [a, b] under the first txnId once b had been sent. A success
//     resets the backoff.
//   - Across a restart (SIGTERM while the appservice was refusing): Dendrite
//     exits within ≈ 0.1 s even mid-backoff, without giving the event back
//     to JetStream, so after the restart it is redelivered, under the same
//     txnId, only when JetStream's 30 s ack wait has run out (29.5–30.3 s
//     after the failed attempt). Events sent after the restart are pushed at once
//     in transactions of their own and so overtake it: order is not kept
//     across restarts. A test of redelivery across a restart takes ≈ 30 s.
//   - m.room.canonical_alias sent through the client API is checked
//     against the directory only when "alias" is set (from the source,
//     clientapi/routing/sendevent.go): then every alias in it must be the
//     room's, else 400 M_BAD_ALIAS; with "alias" absent, alt_aliases naming
//     another room's aliases are accepted, so any room admin can claim them
//     (e2e TestSquattedAliasesRouteToTheirRoom). The check is the sending
//     server's own (the spec asks nothing of servers receiving the event
//     over federation); not observed here, federation being off.
//   - Shared-secret registration nonces live in memory (from the source):
//     one fetched before a restart is refused after it; Register always
//     fetches a fresh one.
package dendritetest
