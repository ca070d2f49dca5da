// Package web is archive-web's HTTP face: server-rendered pages (room
// directory, day pages, permalinks, plain-text logs) and the JSON API, on
// Echo, with templates and CSS embedded and parsed at start-up so a broken
// template fails the boot, not a request. Pages read the store; all HTML
// from message content comes from package render.
package web
