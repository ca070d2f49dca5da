// Package irclog reads IRC log files as the common clients and log bots
// write them (Limnoria/Supybot ChannelLogger, irssi, WeeChat, ZNC's log
// module, HexChat/XChat, and the plain "[HH:MM] <nick> text" form): it owns
// telling the formats apart by content, parsing each line, repairing a
// line's encoding and control codes, and turning lines into Matrix events
// with stable IDs and senders, as JSON the importer reads. It is pure: no
// files are opened and nothing is stored here.
package irclog
