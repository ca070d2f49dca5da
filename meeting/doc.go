// Package meeting finds meetbot meetings (#startmeeting … #endmeeting) in a
// room's messages and builds their minutes. It is a pure function over the
// messages as a reader sees them: the caller passes only shown lines (after
// the latest edit, with redacted, expired, opted-out and taken-down ones
// already removed), so minutes are never stored and a line that disappears
// from the archive disappears from the minutes on the next request.
//
// The rules follow MeetBot (the Supybot plugin by Richard Darst, as run by
// Debian, Ubuntu, OpenStack and Fedora):
//   - a command is the first word of a line, starting with '#', in any case;
//     Ubuntu's older MootBot form "[TOPIC] text" is read the same way, since
//     the IRC years hold both;
//   - #startmeeting [title] starts a meeting when none is running; its sender
//     is the owner and first chair; a second #startmeeting inside a meeting
//     is an ordinary line;
//   - chairs only: #endmeeting, #topic, #agreed (#agree), #accepted
//     (#accept) and #rejected (#reject), three kinds of item, #chair
//     (a name chaired is among the chairs even if it says nothing),
//     #unchair (the owner stays a chair), #undo (removes the last item),
//     #meetingtopic (the title, as #startmeeting's argument is; "none",
//     "unset" or nothing clears it);
//   - anyone: #info, #idea, #help, #action, #link, and a line that starts
//     with a URL is a link; #nick NAME, which, as #chair NAME does, makes
//     NAME an attendee with 0 lines (actions naming them are theirs) if
//     nobody speaks under it; #meetingname names MeetBot's files and
//     changes nothing here;
//   - /me lines and notices are counted as lines said but never commands;
//   - an action item is assigned to every participant whose name appears in
//     its text as a whole word (looked for in its first 512 bytes); one
//     naming nobody is unassigned.
//
// Where the archive differs from a live bot: a meeting nobody ended (the bot
// was down, the chair left) ends at its last line before two hours of
// silence, and any meeting is cut after 24 hours or MaxLines lines, so one
// forgotten #startmeeting cannot make every later request load the whole
// room. Such a meeting has Ended false.
package meeting
